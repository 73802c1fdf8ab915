/**
 * A connected pair of our client and server Transports over real TCP on 127.0.0.1, past a fake login:
 * the server answers any USERAUTH_REQUEST with USERAUTH_SUCCESS, which moves both to the authenticated
 * phase. The onAuthenticated hooks run synchronously at that moment, before any later message is
 * handled, so a connection layer can take over the message handler there. connectedConnections() does
 * that with our Connection on both sides.
 */
import net from "node:net";
import { Connection, type ConnectionOptions } from "../../src/connection/index.js";
import { Transport, type TransportOptions } from "../../src/transport/index.js";
import { Msg, SshWriter, type SshError } from "../../src/wire/index.js";
import { testHostKeys } from "./transportServer.js";

export interface ConnectedTransports {
  client: Transport;
  server: Transport;
  logs: { client: string[]; server: string[] };
  /** Resolve with the error that ended each side (null for an orderly local close). */
  closed: { client: Promise<SshError | null>; server: Promise<SshError | null> };
  /** Disconnect both sides. */
  close(): void;
}

export interface ConnectedTransportsOptions {
  transport?: Partial<Omit<TransportOptions, "role" | "socket">>;
  onServerAuthenticated?: (server: Transport) => void;
  onClientAuthenticated?: (client: Transport) => void;
}

export async function connectedTransports(
  options: ConnectedTransportsOptions = {},
): Promise<ConnectedTransports> {
  const logs = { client: [] as string[], server: [] as string[] };
  let serverClosed!: Promise<SshError | null>;
  let serverReady!: (server: Transport) => void;
  const serverTransport = new Promise<Transport>((r) => (serverReady = r));
  const listener = net.createServer((socket) => {
    listener.close();
    const server = new Transport({
      hostKeys: testHostKeys(),
      ...options.transport,
      role: "server",
      socket,
      log: (l, m) => logs.server.push(`${l}: ${m}`),
    });
    serverClosed = new Promise((r) => server.once("close", r));
    server.setMessageHandler((type) => {
      if (type !== Msg.USERAUTH_REQUEST) return;
      server.send(Buffer.from([Msg.USERAUTH_SUCCESS]));
      options.onServerAuthenticated?.(server);
    });
    serverReady(server);
  });
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const clientSocket = net.connect((listener.address() as net.AddressInfo).port, "127.0.0.1");
  const client = new Transport({
    ...options.transport,
    role: "client",
    socket: clientSocket,
    verifyHostKey: () => true,
    log: (l, m) => logs.client.push(`${l}: ${m}`),
  });
  const clientClosed = new Promise<SshError | null>((r) => client.once("close", r));
  await new Promise<void>((resolve, reject) => {
    client.once("ready", resolve);
    client.once("close", reject);
  });
  await client.requestService("ssh-userauth");
  const authenticated = new Promise<void>((resolve) =>
    client.setMessageHandler((type) => {
      if (type !== Msg.USERAUTH_SUCCESS) return;
      options.onClientAuthenticated?.(client);
      resolve();
    }),
  );
  client.send(
    Buffer.from(
      new SshWriter()
        .byte(Msg.USERAUTH_REQUEST)
        .string("u")
        .string("ssh-connection")
        .string("none")
        .toBuffer(),
    ),
  );
  await authenticated;
  const server = await serverTransport;
  return {
    client,
    server,
    logs,
    closed: { client: clientClosed, server: serverClosed },
    close: () => {
      client.disconnect();
      server.disconnect();
    },
  };
}

export interface ConnectedConnections extends ConnectedTransports {
  clientConnection: Connection;
  serverConnection: Connection;
  /** The connections' own log lines (the transports' are in `logs`). */
  connectionLogs: { client: string[]; server: string[] };
}

/** Our Connection on both sides of connectedTransports(), each created as its side authenticates. */
export async function connectedConnections(
  options: {
    client?: ConnectionOptions;
    server?: ConnectionOptions;
    transport?: ConnectedTransportsOptions["transport"];
  } = {},
): Promise<ConnectedConnections> {
  const connectionLogs = { client: [] as string[], server: [] as string[] };
  let serverConnection!: Connection;
  let clientConnection!: Connection;
  const pair = await connectedTransports({
    transport: options.transport,
    onServerAuthenticated: (t) =>
      (serverConnection = new Connection(t, {
        log: (l, m) => connectionLogs.server.push(`${l}: ${m}`),
        ...options.server,
      })),
    onClientAuthenticated: (t) =>
      (clientConnection = new Connection(t, {
        log: (l, m) => connectionLogs.client.push(`${l}: ${m}`),
        ...options.client,
      })),
  });
  return { ...pair, clientConnection, serverConnection, connectionLogs };
}

/** Wait until cond() holds, polling. */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Everything a readable stream yields, concatenated. */
export async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Record the message types a transport receives (as handed to its message handler) and sends. Call
 * before the layer above sets its handler.
 */
export function recordMessages(t: Transport): { received: number[]; sent: number[] } {
  const log = { received: [] as number[], sent: [] as number[] };
  const setHandler = t.setMessageHandler.bind(t);
  t.setMessageHandler = (handler) =>
    setHandler((type, payload) => {
      log.received.push(type);
      handler(type, payload);
    });
  const send = t.send.bind(t);
  t.send = (payload) => {
    log.sent.push(Buffer.isBuffer(payload) ? payload[0]! : payload[0]![0]!);
    return send(payload);
  };
  return log;
}
