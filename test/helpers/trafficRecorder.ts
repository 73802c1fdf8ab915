/**
 * Recording what an honest client sends, for replay (and mutation) against a server: our real client
 * stack (Transport, authenticateClient, Connection, ClientSession) runs over a ScriptedPeer, whose
 * outgoing hook sees every plaintext payload in order (key exchange included). No fixture files: each
 * run records afresh against the server under test.
 *
 * Each recorded message also notes how many of the server's messages had arrived when it was sent
 * (counting only those whose number does not depend on timing: no data, window or IGNORE messages), so a
 * replay can keep the honest pacing: an authentication request goes out only after the previous answer.
 * Signed publickey requests are bound to the session; resignPublicKeyRequest makes them valid for another.
 */
import net from "node:net";
import { authenticateClient, type ClientAuthOptions } from "../../src/auth/index.js";
import {
  encodePublicKeyRequest,
  METHOD_HOSTBOUND,
  publicKeySignedData,
  type PublicKeyRequestFields,
} from "../../src/auth/signedData.js";
import { Connection } from "../../src/connection/index.js";
import type { PrivateKey } from "../../src/keys/index.js";
import { ClientSession } from "../../src/session/index.js";
import { PacketWriter } from "../../src/transport/packetCodec.js";
import { Msg, SshReader, SshWriter } from "../../src/wire/index.js";
import {
  peerReady,
  ScriptedPeer,
  withTimeout,
  type OutgoingRewrite,
  type ScriptedOptions,
} from "./scriptedPeer.js";

export interface RecordedMessage {
  payload: Buffer;
  /** How many paced (see isPaced) server messages had arrived when this was sent. */
  after: number;
}

export interface Recording {
  /** Everything the client sent, in order. */
  messages: RecordedMessage[];
  /** Index of the first message after the client's first NEWKEYS (the first encrypted one). */
  firstEncrypted: number;
  /** What the server sent back, for reference. */
  serverTypes: number[];
}

/**
 * A client ScriptedPeer whose outgoing rewrite is in place from the start: a Transport sends its KEXINIT
 * from its constructor, before ScriptedPeer.onOutgoing could be called, so PacketWriter.frameParts is hooked
 * during the (synchronous) construction, where ScriptedPeer binds it (frame() goes through frameParts()). The rewrite stays for the peer's
 * life (keep its own state to stop); onOutgoing still works on top of it.
 */
export function scriptedClient(
  socket: net.Socket,
  options: ScriptedOptions,
  rewrite: OutgoingRewrite,
): ScriptedPeer {
  const proto = PacketWriter.prototype;
  const frameParts = Object.getOwnPropertyDescriptor(proto, "frameParts")!;
  const original = proto.frameParts;
  proto.frameParts = function (this: PacketWriter, payload: Buffer | readonly Buffer[]): Buffer[] {
    const whole = Buffer.isBuffer(payload) ? payload : Buffer.concat(payload);
    const replaced = rewrite(whole);
    if (!replaced) return original.call(this, whole);
    return replaced.flatMap((p) => original.call(this, p));
  };
  let peer: ScriptedPeer;
  try {
    peer = new ScriptedPeer("client", socket, options);
  } finally {
    Object.defineProperty(proto, "frameParts", frameParts);
  }
  return peer;
}

/** Server messages whose count does not depend on timing or chunking. */
export function isPaced(type: number): boolean {
  return !(
    type === Msg.IGNORE ||
    type === Msg.DEBUG ||
    type === Msg.CHANNEL_WINDOW_ADJUST ||
    type === Msg.CHANNEL_DATA ||
    type === Msg.CHANNEL_EXTENDED_DATA ||
    type === Msg.PONG
  );
}

export interface RecordOptions {
  port: number;
  username: string;
  /** The key the server accepts. */
  userKey: PrivateKey;
  /** A key the server refuses (queried first). */
  strangerKey: PrivateKey;
}

/**
 * An honest session: key exchange; keyboard-interactive (wrong answers), password (wrong), publickey
 * (a refused key, then the right one); a keepalive global request; a session with pty-req, env, exec
 * "cat", 100 KiB of data (echoed through a 32 KiB window, so WINDOW_ADJUSTs go back), signal,
 * window-change and EOF; a tcpip-forward request; an "echo" session; a refused subsystem; a disconnect.
 * The server is expected to run "cat" and "echo ..." as in-process handlers.
 */
export async function recordHonestSession(o: RecordOptions): Promise<Recording> {
  const socket = net.connect(o.port, "127.0.0.1");
  socket.on("error", () => {});
  const messages: RecordedMessage[] = [];
  let paced = 0;
  let firstEncrypted = -1;
  const serverTypes: number[] = [];
  /** Every step is bounded, so that a server that stops answering fails the recording, naming the step. */
  const step = <T>(what: string, p: Promise<T>): Promise<T> =>
    withTimeout(p, 10_000, `the recorded session's ${what}`);
  try {
    await step(
      "TCP connection",
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
    );
    const peer = scriptedClient(socket, {}, (payload) => {
      messages.push({ payload: Buffer.from(payload), after: paced });
      if (payload[0] === Msg.NEWKEYS && firstEncrypted < 0) firstEncrypted = messages.length;
      return undefined;
    });
    const received = peer.received;
    const push = received.push.bind(received);
    received.push = (...items: Buffer[]): number => {
      for (const p of items) {
        serverTypes.push(p[0]!);
        if (isPaced(p[0]!)) paced++;
      }
      return push(...items);
    };
    await peerReady(peer);
    let kbdRounds = 0;
    const auth: ClientAuthOptions = {
      username: o.username,
      keys: [o.strangerKey, o.userKey],
      methods: ["keyboard-interactive", "password", "publickey"],
      keyboardInteractive: (c) => (kbdRounds++ === 0 ? c.prompts.map(() => "wrong answer") : null),
      password: ({ attempt }) => (attempt === 1 ? "wrong password" : null),
    };
    await step("authentication", authenticateClient(peer.transport, auth));
    const conn = new Connection(peer.transport);
    await step("keepalive", conn.globalRequest("keepalive@openssh.com", Buffer.alloc(0), true));

    const ch1 = await step("first open", conn.openChannel("session", Buffer.alloc(0), { window: 32 * 1024 }));
    const s1 = new ClientSession(ch1);
    await step("pty-req", s1.requestPty({ term: "xterm", cols: 80, rows: 24, modes: {} }));
    await step("env", s1.setEnv("LANG", "C.UTF-8"));
    await step("exec cat", s1.exec("cat"));
    s1.channel.resume(); // read the echo, so that WINDOW_ADJUSTs go back
    s1.windowChange(100, 30);
    s1.signal("USR1");
    s1.channel.write("hello\n");
    s1.channel.end(Buffer.alloc(100 * 1024, 0x61));
    await step("cat session", s1.exit);

    const fwd = new SshWriter().string("127.0.0.1").uint32(0).toBuffer();
    await step("tcpip-forward", conn.globalRequest("tcpip-forward", Buffer.from(fwd), true));

    const s2 = new ClientSession(await step("second open", conn.openChannel("session")));
    await step("exec echo", s2.exec("echo recorded"));
    s2.channel.resume();
    s2.channel.end();
    await step("echo session", s2.exit);

    const s3 = new ClientSession(await step("third open", conn.openChannel("session")));
    await step(
      "subsystem",
      s3.subsystem("sftp").catch(() => {}),
    );
    s3.channel.destroy();
    await step("refused subsystem's close", s3.exit);

    peer.transport.disconnect();
  } finally {
    socket.destroy();
  }
  if (firstEncrypted < 0) throw new Error("the recording has no NEWKEYS");
  return { messages, firstEncrypted, serverTypes };
}

/** The fields of a signed publickey USERAUTH_REQUEST, or null for any other message. */
export function parseSignedPublicKeyRequest(payload: Buffer): PublicKeyRequestFields | null {
  if (payload[0] !== Msg.USERAUTH_REQUEST) return null;
  try {
    const r = new SshReader(payload, 1);
    const username = r.string().toString("utf8");
    const service = r.string().toString("utf8");
    const method = r.string().toString("utf8");
    if (method !== "publickey" && method !== METHOD_HOSTBOUND) return null;
    if (!r.boolean()) return null;
    const algorithm = r.string().toString("utf8");
    const keyBlob = Buffer.from(r.string());
    const hostKeyBlob = method === METHOD_HOSTBOUND ? Buffer.from(r.string()) : undefined;
    return {
      username,
      service,
      method,
      algorithm,
      keyBlob,
      ...(hostKeyBlob ? { hostKeyBlob } : {}),
    };
  } catch {
    return null;
  }
}

/** The same signed publickey request, signed for `sessionId` (other payloads come back unchanged). */
export function resignPublicKeyRequest(payload: Buffer, sessionId: Buffer, key: PrivateKey): Buffer {
  const fields = parseSignedPublicKeyRequest(payload);
  if (!fields) return payload;
  return encodePublicKeyRequest(fields, key.sign(publicKeySignedData(sessionId, fields), fields.algorithm));
}
