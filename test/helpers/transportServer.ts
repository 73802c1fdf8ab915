/**
 * A TCP server on 127.0.0.1 and a free port that runs our server Transport on each connection, for
 * tests that point real clients (or hostile scripts) at it. Every connection's log lines and end are
 * recorded.
 */
import net from "node:net";
import { PrivateKey } from "../../src/keys/index.js";
import { Transport, type TransportOptions } from "../../src/transport/index.js";
import type { SshError } from "../../src/wire/index.js";

export interface TransportServerConnection {
  transport: Transport;
  log: string[];
  /** Resolves with the error that ended it (null for an orderly local close). */
  closed: Promise<SshError | null>;
}

export interface TransportServer {
  port: number;
  hostKeys: PrivateKey[];
  connections: TransportServerConnection[];
  close(): Promise<void>;
}

let cachedKeys: PrivateKey[] | undefined;
/** One ed25519, ECDSA P-256/384/521 and RSA 2048 host key set per test process (RSA generation is slow). */
export function testHostKeys(): PrivateKey[] {
  cachedKeys ??= [
    PrivateKey.generate("ssh-ed25519"),
    PrivateKey.generate("ecdsa-sha2-nistp256"),
    PrivateKey.generate("ecdsa-sha2-nistp384"),
    PrivateKey.generate("ecdsa-sha2-nistp521"),
    PrivateKey.generate("ssh-rsa", 2048),
  ];
  return cachedKeys;
}

export async function startTransportServer(
  options: Partial<Omit<TransportOptions, "role" | "socket">> = {},
  onConnection?: (c: TransportServerConnection) => void,
): Promise<TransportServer> {
  const hostKeys = testHostKeys();
  const connections: TransportServerConnection[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const log: string[] = [];
    const transport = new Transport({
      hostKeys,
      ...options,
      role: "server",
      socket,
      log: (level, message) => log.push(`${level}: ${message}`),
    });
    const closed = new Promise<SshError | null>((resolve) => transport.once("close", resolve));
    const conn = { transport, log, closed };
    connections.push(conn);
    onConnection?.(conn);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    hostKeys,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        // Every socket is destroyed: do not let a test's end hang on the listener's own bookkeeping.
        const timer = setTimeout(resolve, 2000);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
