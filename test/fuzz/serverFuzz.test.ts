/**
 * Fuzzing createServer with mutated client traffic. An honest session is recorded first (every plaintext
 * payload our client stack sends: key exchange, service request, keyboard-interactive, password and
 * publickey attempts, global requests, session channels with pty-req, env, exec, data, window adjusts,
 * signal, window-change, EOF, close, disconnect). Then, until the time is up, several workers each:
 * connect, run a real key exchange (or mutate the key exchange itself, or speak plaintext garbage before
 * it), replay a prefix of the recording under the session's own keys (the publickey signature re-made for
 * the new session id, the honest pacing kept), then send mutations of the next message: bit flips,
 * truncation, extension, lying length fields, huge strings and name-lists, changed types, random
 * payloads, duplicates, reordering, drops, splices, floods of opens / window adjusts / global requests /
 * IGNOREs, a key re-exchange, and some raw corruption of the encrypted stream; maybe the rest of the
 * recording after that; then a PING, which must be answered with PONG unless the server has ended the
 * connection.
 *
 * Throughout, a well-behaved client logs in and runs exec round trips against the same server and must
 * keep succeeding; the process's RSS must stay within MEMORY_BOUND of where it started (and the heap,
 * after a full collection every 2 s, within a quarter of it); no uncaught exception or unhandled
 * rejection may happen, nor an internal (JavaScript) error behind a connection's end; and every
 * connection must have ended on the server's side when the workers stop. Mutated execs reach only
 * in-process handlers, never a shell.
 *
 * NSSH_FUZZ_SECONDS (default 30): how long to fuzz. NSSH_FUZZ_SEED: the master seed (printed at the
 * start and on failure). NSSH_FUZZ_ITERATION: run only that iteration of that seed (a replay).
 * NSSH_FUZZ_WORKERS (default 6): connections fuzzed at once.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import os from "node:os";
import { test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { connect, type SshClient } from "../../src/client/index.js";
import { PrivateKey } from "../../src/keys/index.js";
import { createServer, type SshServer } from "../../src/server/index.js";
import { MAX_PACKET_LENGTH } from "../../src/transport/index.js";
import { Msg, SshWriter } from "../../src/wire/index.js";
import {
  internals,
  kexInitPayload,
  RawPeer,
  ScriptedPeer,
  sleep,
  withTimeout,
  type OutgoingRewrite,
} from "../helpers/scriptedPeer.js";
import {
  isPaced,
  recordHonestSession,
  resignPublicKeyRequest,
  scriptedClient,
  type Recording,
} from "../helpers/trafficRecorder.js";

const SECONDS = Number(process.env.NSSH_FUZZ_SECONDS ?? 30);
const SEED =
  process.env.NSSH_FUZZ_SEED !== undefined
    ? Number(process.env.NSSH_FUZZ_SEED) >>> 0
    : (Math.random() * 2 ** 32) >>> 0;
const ONLY = process.env.NSSH_FUZZ_ITERATION !== undefined ? Number(process.env.NSSH_FUZZ_ITERATION) : null;
const WORKERS = ONLY !== null ? 1 : Number(process.env.NSSH_FUZZ_WORKERS ?? 6);
const MEMORY_BOUND = 200 * 1024 * 1024;

const USER = os.userInfo().username;
const PASSWORD = "fuzz password";
const KBD_ANSWERS = ["fuzz password", "blue"];

// ---- a seeded PRNG ---------------------------------------------------------------------------------------

/** mulberry32: small, fast, good enough to pick mutations reproducibly. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  weighted<T extends string>(table: Record<T, number>): T {
    const entries = Object.entries(table) as Array<[T, number]>;
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) if ((r -= w) < 0) return k;
    return entries[entries.length - 1]![0];
  }
}

const iterationSeed = (i: number): number => (SEED ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0;

// ---- mutations of one payload ----------------------------------------------------------------------------

const INTERESTING_U32 = [
  0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x40000, 0x7fffffff,
  0x80000000, 0xfffffffe, 0xffffffff,
];
const KNOWN_TYPES = [
  ..."1 2 3 4 5 6 7 8 20 21 30 31 32 33 34 50 51 52 53 60 61 80 81 82 90 91 92 93 94 95 96 97 98 99 100"
    .split(" ")
    .map(Number),
  Msg.PING,
  Msg.PONG,
];
/** Stay under our own writer's packet limit (256 KiB). */
const MAX_PAYLOAD = 200 * 1024;

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

/** Offsets where a uint32 could be a string's length (it fits in what follows). */
function lengthOffsets(p: Buffer): number[] {
  const out: number[] = [];
  for (let o = 1; o + 4 <= p.length; o++) if (p.readUInt32BE(o) <= p.length - o - 4) out.push(o);
  return out;
}

function flipBits(rng: Rng, p: Buffer, n: number): Buffer {
  const q = Buffer.from(p);
  if (q.length === 0) return q;
  for (let i = 0; i < n; i++) {
    const pos = q.length > 1 && rng.chance(0.9) ? 1 + rng.int(q.length - 1) : rng.int(q.length);
    q[pos]! ^= 1 << rng.int(8);
  }
  return q;
}

function setLength(rng: Rng, p: Buffer): Buffer {
  const offs = lengthOffsets(p);
  if (p.length < 5) return Buffer.concat([p, u32(rng.pick(INTERESTING_U32))]);
  const o = offs.length > 0 && rng.chance(0.85) ? rng.pick(offs) : 1 + rng.int(p.length - 4);
  const q = Buffer.from(p);
  const cur = q.readUInt32BE(o);
  const v = rng.chance(0.5)
    ? rng.pick(INTERESTING_U32)
    : rng.pick([cur + 1, cur - 1, cur * 2, cur + 0x10000, p.length, p.length - o - 3, p.length - o - 5]);
  q.writeUInt32BE(v >>> 0, o);
  return q;
}

/** Replace a string field with a huge one: a long name-list, many empty names, or plain bulk. */
function hugeField(rng: Rng, p: Buffer): Buffer {
  const offs = lengthOffsets(p);
  const n = 1000 + rng.int(rng.chance(0.3) ? 90_000 : 10_000);
  const content = rng.pick([
    () => Buffer.from("a,".repeat(n).slice(0, -1)),
    () => Buffer.from(",".repeat(n)),
    () => Buffer.from("curve25519-sha256,".repeat(Math.ceil(n / 18)).slice(0, n)),
    () => Buffer.alloc(n, 0x41),
    () => Buffer.alloc(n),
  ])();
  if (offs.length === 0) return Buffer.concat([p, u32(content.length), content]);
  const o = rng.pick(offs);
  const len = p.readUInt32BE(o);
  return Buffer.concat([p.subarray(0, o), u32(content.length), content, p.subarray(o + 4 + len)]);
}

// ---- the server under test -------------------------------------------------------------------------------

interface Stats {
  iterations: number;
  outcomes: Record<string, number>;
  stages: Record<string, number>;
  ops: Record<string, number>;
  honestRoundTrips: number;
  honestLogins: number;
  honestMaxMs: number;
  maxRssGrowth: number;
  maxRssAfterGc: number;
  maxHeapAfterGc: number;
  handlerErrors: string[];
  serverErrors: string[];
  serverErrorLines: number;
  /** Internal (JavaScript) errors seen behind the server's protocol errors. */
  internalErrors: string[];
  /** Which iteration a fuzz connection belongs to, by its local port. */
  iterationByPort: Map<number, number>;
}

const bump = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1;
};

function startServer(
  hostKey: PrivateKey,
  userKey: PrivateKey,
  stats: Stats,
): Promise<{ server: SshServer; port: number }> {
  const server = createServer({
    hostKeys: [hostKey],
    failureDelayMs: 0,
    loginGraceTime: 15,
    auth: {
      checkPublicKey: ({ username, key }) => username === USER && key.equals(userKey.publicKey),
      checkPassword: ({ username, password }) => username === USER && password === PASSWORD,
      keyboardInteractive: async ({ username }, ask) => {
        const answers = await ask({
          name: "fuzz",
          instructions: "two questions",
          prompts: [
            { prompt: "Password: ", echo: false },
            { prompt: "Colour: ", echo: true },
          ],
        });
        return username === USER && answers.join("\n") === KBD_ANSWERS.join("\n");
      },
    },
    // In-process handlers only: a mutated exec must never reach a real shell.
    onSession: (session) => {
      session.on("start", (start, accept, reject) => {
        if (start.kind !== "exec") return reject();
        accept();
        const ch = session.channel;
        const exit = (code: number): void => {
          session.exit(code).catch((err: Error) => stats.handlerErrors.push(`exit(): ${err.stack}`));
        };
        if (start.command === "cat") {
          ch.pipe(ch, { end: false });
          ch.once("end", () => exit(0));
        } else if (start.command.startsWith("echo ")) {
          ch.resume();
          ch.write(start.command.slice(5) + "\n");
          exit(0);
        } else {
          ch.resume();
          ch.stderrWriter.write(`unknown command\n`);
          exit(127);
        }
      });
    },
    log: (level, message) => {
      if (ONLY !== null && level === "error") console.log(`# server: ${message}`);
      if (level === "error") stats.serverErrorLines++;
      if (INTERNAL.test(message)) noteInternal(stats, `log: ${message}`);
    },
  });
  server.on("error", (err) => stats.serverErrors.push(err.stack ?? String(err)));
  // A hostile peer may end its connection with any SshError; the transport's wrapper for anything else
  // (a JavaScript error escaping a parser or a handler) is a bug.
  server.on("connection-closed", (info, err) => {
    const i = stats.iterationByPort.get(info.remotePort);
    stats.iterationByPort.delete(info.remotePort);
    if (err && INTERNAL.test(err.message)) {
      const cause = err.cause instanceof Error ? err.cause.stack : String(err.cause);
      const which = i === undefined ? "a connection" : `iteration ${i} (NSSH_FUZZ_ITERATION=${i})`;
      noteInternal(stats, `${which} ended by ${err.message}\n${cause}`);
    }
  });
  return server.listen(0, "127.0.0.1").then(({ port }) => ({ server, port }));
}

/** What a bug looks like in the server's log: the transport's wrapper for a non-protocol error. */
const INTERNAL = /internal error|is not a function|Cannot read prop/;

function noteInternal(stats: Stats, what: string): void {
  if (stats.internalErrors.length < 20 && !stats.internalErrors.includes(what))
    stats.internalErrors.push(what);
}

/** The server's open sockets (a private member: the test checks that every connection has ended). */
function serverSocketCount(server: SshServer): number {
  const sockets = (server as unknown as { sockets?: Set<unknown> }).sockets;
  assert.ok(sockets instanceof Set, "SshServer no longer has the private sockets set this test counts");
  return sockets.size;
}

// ---- one fuzz iteration ----------------------------------------------------------------------------------

interface Context {
  port: number;
  rec: Recording;
  userKey: PrivateKey;
  sockets: Set<net.Socket>;
  stats: Stats;
}

type Op =
  | "bitflip"
  | "truncate"
  | "extend"
  | "length"
  | "huge"
  | "type"
  | "random"
  | "duplicate"
  | "reorder"
  | "drop"
  | "splice"
  | "frame-corrupt"
  | "raw-garbage"
  | "packet-length"
  | "rekey"
  | "ignore-flood"
  | "open-flood"
  | "window-bomb"
  | "global-flood";

const OP_WEIGHTS: Record<Op, number> = {
  bitflip: 4,
  truncate: 2,
  extend: 1,
  length: 4,
  huge: 1,
  type: 1,
  random: 1,
  duplicate: 1.5,
  reorder: 1.5,
  drop: 1,
  splice: 1,
  "frame-corrupt": 0.4,
  "raw-garbage": 0.2,
  "packet-length": 0.3,
  rekey: 0.5,
  "ignore-flood": 0.2,
  "open-flood": 0.4,
  "window-bomb": 0.3,
  "global-flood": 0.3,
};

const CIPHER_CHOICES: Array<{ ciphers: string[]; macs?: string[] }> = [
  { ciphers: ["chacha20-poly1305@openssh.com"] },
  { ciphers: ["aes128-gcm@openssh.com"] },
  { ciphers: ["aes256-ctr"], macs: ["hmac-sha2-256-etm@openssh.com"] },
  { ciphers: ["aes128-ctr"], macs: ["hmac-sha2-512"] },
];

/** Mostly curve25519, which most peers negotiate; the hybrids and NIST P-256 now and then. */
const KEX_WEIGHTS = {
  "curve25519-sha256": 8,
  "ecdh-sha2-nistp256": 1,
  "mlkem768x25519-sha256": 0.5,
  "sntrup761x25519-sha512": 0.5,
};

/** A mutation of `p` as payloads to send (structural ops act on the peer directly and return []). */
function mutate(rng: Rng, op: Op, p: Buffer, peer: ScriptedPeer, post: Buffer[]): Buffer[] {
  switch (op) {
    case "bitflip":
      return [flipBits(rng, p, 1 + rng.int(rng.chance(0.2) ? 32 : 4))];
    case "truncate":
      return [p.subarray(0, rng.chance(0.05) ? 0 : 1 + rng.int(Math.max(1, p.length - 1)))];
    case "extend":
      return [Buffer.concat([p, rng.bytes(rng.chance(0.1) ? 1000 + rng.int(60_000) : 1 + rng.int(64))])];
    case "length": {
      let q = p;
      for (let i = 0, n = 1 + rng.int(2); i < n; i++) q = setLength(rng, q);
      return [q];
    }
    case "huge":
      return [hugeField(rng, p)];
    case "type": {
      const q = Buffer.from(p.length > 0 ? p : Buffer.alloc(1));
      q[0] = rng.chance(0.6) ? rng.pick(KNOWN_TYPES) : rng.int(256);
      return [q];
    }
    case "random":
      return [Buffer.concat([Buffer.from([rng.pick(KNOWN_TYPES)]), rng.bytes(rng.int(300))])];
    case "duplicate":
      return Array.from({ length: 2 + rng.int(rng.chance(0.2) ? 300 : 8) }, () => p);
    case "reorder":
      return [rng.pick(post), ...(rng.chance(0.5) ? [p] : [])];
    case "drop":
      return [];
    case "splice": {
      const q = rng.pick(post);
      return [Buffer.concat([p.subarray(0, rng.int(p.length + 1)), q.subarray(rng.int(q.length + 1))])];
    }
    case "frame-corrupt": {
      const wire = flipBits(rng, peer.frame(p), 1 + rng.int(4));
      peer.sendBytes(wire);
      return [];
    }
    case "raw-garbage":
      peer.sendBytes(rng.bytes(1 + rng.int(2000)));
      return [];
    case "packet-length":
      peer.sendBytes(peer.withPacketLength(rng.pick([0, 1, 4, 5, 7, 0xffff, 256 * 1024 + 1, 0x7fffffff])));
      return [];
    case "rekey":
      peer.startKex();
      return [];
    case "ignore-flood":
      return Array.from({ length: 1 + rng.int(40) }, () =>
        Buffer.concat([Buffer.from([Msg.IGNORE]), u32(100_000), Buffer.alloc(100_000)]),
      );
    case "open-flood":
      return Array.from({ length: 5 + rng.int(300) }, (_, i) =>
        Buffer.from(
          new SshWriter()
            .byte(Msg.CHANNEL_OPEN)
            .string(rng.chance(0.8) ? "session" : rng.pick(["direct-tcpip", "x11", "forwarded-tcpip", "zz"]))
            .uint32(rng.chance(0.8) ? 100 + i : rng.pick(INTERESTING_U32))
            .uint32(rng.pick(INTERESTING_U32))
            .uint32(rng.pick(INTERESTING_U32))
            .toBuffer(),
        ),
      );
    case "window-bomb":
      return Array.from({ length: 1 + rng.int(50) }, () =>
        Buffer.from(
          new SshWriter()
            .byte(Msg.CHANNEL_WINDOW_ADJUST)
            .uint32(rng.chance(0.7) ? rng.int(4) : rng.pick(INTERESTING_U32))
            .uint32(rng.pick(INTERESTING_U32))
            .toBuffer(),
        ),
      );
    case "global-flood":
      return Array.from({ length: 1 + rng.int(500) }, () =>
        Buffer.from(
          new SshWriter()
            .byte(Msg.GLOBAL_REQUEST)
            .string(rng.pick(["keepalive@openssh.com", "tcpip-forward", "no-more-sessions@openssh.com", "x"]))
            .boolean(rng.chance(0.8))
            .raw(rng.bytes(rng.int(40)))
            .toBuffer(),
        ),
      );
  }
}

interface IterationResult {
  outcome: string;
  description: string;
}

/** Wait for `cond` (checked on every message from the server), the connection's end, or `ms`. */
function waitFor(
  cond: () => boolean,
  ms: number,
  watchers: Set<() => void>,
  closed: () => boolean,
): Promise<boolean> {
  if (cond() || closed()) return Promise.resolve(cond());
  return new Promise((resolve) => {
    const check = (): void => {
      if (cond() || closed()) done();
    };
    const timer = setTimeout(() => done(), ms);
    const done = (): void => {
      clearTimeout(timer);
      watchers.delete(check);
      resolve(cond());
    };
    watchers.add(check);
  });
}

async function connectSocket(ctx: Context, i: number): Promise<net.Socket> {
  const socket = net.connect(ctx.port, "127.0.0.1");
  ctx.sockets.add(socket);
  socket.on("error", () => {});
  socket.once("close", () => ctx.sockets.delete(socket));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  ctx.stats.iterationByPort.set(socket.localPort!, i);
  return socket;
}

/** Before encryption: a broken identification line, or plaintext garbage where KEXINIT belongs. */
async function plaintextIteration(ctx: Context, rng: Rng, i: number): Promise<IterationResult> {
  const socket = await connectSocket(ctx, i);
  const raw = new RawPeer(socket);
  const kexinit = ctx.rec.messages.find((m) => m.payload[0] === Msg.KEXINIT)!.payload;
  const what = rng.pick(["version", "kexinit", "garbage", "lengths"] as const);
  if (what === "version") {
    raw.sendBytes(
      rng.pick([
        () => flipBits(rng, Buffer.from("SSH-2.0-fuzz_1.0\r\n"), 1 + rng.int(3)),
        () => Buffer.from("SSH-2.0-" + "x".repeat(rng.int(100_000)) + "\r\n"),
        () => Buffer.from("SSH-1.99-fuzz\r\n"),
        () => Buffer.from("SSH-2.0-fuzz\0\r\n"),
        () => Buffer.from("not ssh\r\n".repeat(1 + rng.int(2000))),
        () => rng.bytes(1 + rng.int(5000)),
      ])(),
    );
  } else {
    raw.sendVersion("SSH-2.0-fuzz_1.0");
    if (what === "kexinit") {
      const op = rng.pick(["bitflip", "truncate", "length", "huge", "extend"] as const);
      const m = mutate(rng, op, rng.chance(0.5) ? kexinit : kexInitPayload("client"), null!, [kexinit]);
      for (const p of m) raw.sendPacket(p, rng.chance(0.2) ? { paddingLength: rng.int(256) } : {});
    } else if (what === "lengths") {
      raw.sendPacket(kexinit, {
        length: rng.pick([0, 1, 4, 5, 0xffff, 35_000, 256 * 1024 + 1, 0x7fffffff, 0xffffffff]),
      });
    } else {
      raw.sendBytes(rng.bytes(1 + rng.int(4000)));
    }
  }
  const closedWithin = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void raw.closed.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  let closed = await closedWithin(300);
  if (!closed) {
    // Waiting for the rest of a line or a packet: more than any line or packet may hold ends that.
    raw.sendBytes(rng.bytes(MAX_PACKET_LENGTH + 4096));
    closed = await closedWithin(8000);
  }
  raw.end();
  return { outcome: closed ? "plaintext-closed" : "silent", description: `plaintext ${what}` };
}

/** The main kind: an honest key exchange (or a mutated one), a replayed prefix, mutations, a probe. */
async function encryptedIteration(ctx: Context, rng: Rng, i: number): Promise<IterationResult> {
  const socket = await connectSocket(ctx, i);
  const algs = { ...rng.pick(CIPHER_CHOICES), kex: [rng.weighted(KEX_WEIGHTS)] };
  const desc: string[] = [algs.kex[0]!, algs.ciphers[0]!];

  // Stage 1: the key exchange itself, mutated now and then (our own KEXINIT, ECDH_INIT or NEWKEYS).
  let kexRewrite: OutgoingRewrite = () => undefined;
  const mutateKex = rng.chance(0.15);
  if (mutateKex) {
    const target = rng.pick([Msg.KEXINIT, 30, Msg.NEWKEYS]);
    const op = rng.pick<Op>(["bitflip", "truncate", "length", "huge", "extend", "duplicate", "drop", "type"]);
    desc.push(`kex-mutate ${target} ${op}`);
    bump(ctx.stats.stages, "kex");
    bump(ctx.stats.ops, op);
    let done = false;
    kexRewrite = (p) => {
      if (done || p[0] !== target) return undefined;
      done = true;
      // None of the kex-stage ops touches the peer.
      return mutate(rng, op, p, null as unknown as ScriptedPeer, [p]);
    };
  }
  const peer = scriptedClient(socket, algs, kexRewrite);
  const t = internals(peer.transport);
  let paced = 0;
  let closed = false;
  let closeError: string | null = null;
  let pong: Buffer | null = null;
  let serverDisconnect = false;
  const watchers = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...watchers]) w();
  };
  void peer.closed.then((err) => {
    closed = true;
    closeError = err?.code ?? null;
    notify();
  });
  // Our peer's own transport sees only what the key exchange needs: it is not the one being tested,
  // and its message policy would end the connection on replies to requests it never made.
  const inner = t.handlePacket;
  t.handlePacket = (payload, seq) => {
    const type = payload[0]!;
    if (isPaced(type)) paced++;
    if (type === Msg.PONG) pong = Buffer.from(payload);
    if (type === Msg.DISCONNECT) serverDisconnect = true;
    if (
      type === Msg.DISCONNECT ||
      type === Msg.KEXINIT ||
      type === Msg.NEWKEYS ||
      (type >= 30 && type <= 49)
    ) {
      inner(payload, seq);
    } else {
      peer.received.push(Buffer.from(payload));
    }
    notify();
  };
  peer.transport.setMessageHandler(() => {});
  const wait = (cond: () => boolean, ms: number): Promise<boolean> =>
    waitFor(cond, ms, watchers, () => closed);
  const ended = (): string =>
    serverDisconnect ? "server-disconnect" : `closed${closeError ? `-${closeError}` : ""}`;
  const finish = (outcome: string): IterationResult => {
    peer.end();
    return { outcome, description: desc.join(" ") };
  };
  const send = (p: Buffer): void => {
    if (closed) return;
    try {
      peer.sendRaw(p.length > MAX_PAYLOAD ? p.subarray(0, MAX_PAYLOAD) : p);
    } catch {
      // Our own writer refused it: not the server's business.
    }
  };

  let ready = false;
  peer.transport.once("ready", () => (ready = true));
  await wait(() => ready, 3000);
  if (!ready) return finish(closed ? `kex-${ended()}` : "kex-pending");

  let corrupted = false;
  if (!mutateKex) {
    // Stage 2: a prefix of the recording, with the honest pacing. The recording ends with the client's
    // DISCONNECT: that one is only ever sent mutated (or picked by reorder / splice).
    const post = ctx.rec.messages.slice(ctx.rec.firstEncrypted);
    const sessionId = peer.transport.sessionId!;
    const prepare = (p: Buffer): Buffer => resignPublicKeyRequest(p, sessionId, ctx.userKey);
    const k = rng.int(post.length);
    desc.push(`stage ${k}/${post.length}`);
    bump(ctx.stats.stages, `msg-${post[k]!.payload[0]}`);
    // Each answer gets 2 s, the whole prefix 5 s: a server that stops answering is found by the probe.
    const pacingDeadline = Date.now() + 5000;
    const pace = (j: number): Promise<boolean> =>
      wait(() => paced >= post[j]!.after, Math.max(0, Math.min(2000, pacingDeadline - Date.now())));
    for (let j = 0; j < k && !closed; j++) {
      await pace(j);
      send(prepare(post[j]!.payload));
    }
    if (closed) return finish(`prefix-${ended()}`);
    await pace(k);

    // Stage 3: mutations of the next message (now and then of another one).
    const prepared = post.map((m) => prepare(m.payload));
    const base = prepared[k]!;
    for (let n = 0, count = 1 + rng.int(3); n < count && !closed; n++) {
      const op = rng.weighted(OP_WEIGHTS);
      if (op === "frame-corrupt" || op === "raw-garbage" || op === "packet-length") corrupted = true;
      bump(ctx.stats.ops, op);
      desc.push(op);
      const target = rng.chance(0.8) ? base : rng.pick(prepared);
      for (const p of mutate(rng, op, target, peer, prepared)) {
        if (ONLY !== null) console.log(`# ${op}: ${p.length} bytes ${p.subarray(0, 48).toString("hex")}`);
        send(p);
      }
      if (rng.chance(0.3)) await sleep(rng.int(20));
    }

    // Stage 4: sometimes the rest of the recording, as if nothing had happened.
    if (rng.chance(0.4) && !corrupted) {
      desc.push("suffix");
      const deadline = Date.now() + 1000;
      for (let j = k + 1; j < post.length - 1 && !closed && Date.now() < deadline; j++) {
        await wait(() => paced >= post[j]!.after, 100);
        send(prepared[j]!);
      }
    }
  }

  // Stage 5: the server must answer a PING, or have ended the connection.
  if (closed) return finish(ended());
  if (corrupted) {
    // A corrupted length makes the server wait for that many bytes before it can check the MAC (as
    // OpenSSH does): give it more than the largest packet, after which it must have hung up.
    peer.sendBytes(rng.bytes(MAX_PACKET_LENGTH + 4096));
    await wait(() => false, 8000);
    return finish(closed ? ended() : "silent");
  }
  const cookie = randomBytes(8);
  send(Buffer.concat([Buffer.from([Msg.PING]), u32(cookie.length), cookie]));
  const answered = await wait(() => pong !== null && pong.subarray(5).equals(cookie), 8000);
  if (answered) return finish(mutateKex ? "kex-mutated-answered" : "answered");
  if (closed) return finish(ended());
  // In a key exchange we broke (PING is not answered during one, CVE-2025-26466): not a hang.
  if (t.kex !== null) return finish("in-kex");
  return finish("silent");
}

async function iteration(ctx: Context, i: number): Promise<IterationResult> {
  const rng = new Rng(iterationSeed(i));
  if (rng.chance(0.08)) {
    bump(ctx.stats.stages, "plaintext");
    return plaintextIteration(ctx, rng, i);
  }
  return encryptedIteration(ctx, rng, i);
}

// ---- the honest client alongside --------------------------------------------------------------------------

async function honestLoop(
  port: number,
  hostKey: PrivateKey,
  userKey: PrivateKey,
  stats: Stats,
  stopped: () => boolean,
): Promise<void> {
  let client: SshClient | null = null;
  try {
    for (let n = 0; !stopped(); n++) {
      const started = Date.now();
      if (client === null || n % 20 === 0) {
        await client?.close();
        client = await withTimeout(
          connect({
            host: "127.0.0.1",
            port,
            username: USER,
            identity: userKey,
            agent: false,
            verifyHostKey: (key) => key.equals(hostKey.publicKey),
          }),
          15_000,
          "the honest client to log in",
        );
        stats.honestLogins++;
      }
      const c0: SshClient = client;
      const token = `round-${n}`;
      const r = await withTimeout(c0.exec(`echo ${token}`), 15_000, `honest exec ${n}`);
      assert.deepEqual(r, { code: 0, signal: null, stdout: `${token}\n`, stderr: "" });
      if (n % 5 === 0) {
        const data = randomBytes(64 * 1024);
        const c = await withTimeout(
          c0.exec("cat", { stdin: data, encoding: "buffer" }),
          15_000,
          `honest cat ${n}`,
        );
        assert.equal(c.code, 0);
        assert.ok(c.stdout.equals(data), "cat returned different bytes");
      }
      stats.honestRoundTrips++;
      stats.honestMaxMs = Math.max(stats.honestMaxMs, Date.now() - started);
      await sleep(20); // leave the CPU to the fuzzing
    }
  } finally {
    // Bounded: should it hang, the server's close() ends the connection anyway.
    if (client) await withTimeout(client.close(), 5000, "the honest client to close").catch(() => {});
  }
}

/** A full collection, for memory samples that mean something (with or without --expose-gc). */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

// ---- the test ---------------------------------------------------------------------------------------------

test(
  `fuzz: mutated client traffic against createServer (${SECONDS} s)`,
  { timeout: (SECONDS + 60) * 1000 },
  async (t) => {
    const replay = `NSSH_FUZZ_SEED=${SEED}`;
    console.log(
      `# fuzz seed ${SEED}: replay with ${replay}${ONLY !== null ? ` NSSH_FUZZ_ITERATION=${ONLY}` : ""}`,
    );
    const stats: Stats = {
      iterations: 0,
      outcomes: {},
      stages: {},
      ops: {},
      honestRoundTrips: 0,
      honestLogins: 0,
      honestMaxMs: 0,
      maxRssGrowth: 0,
      maxRssAfterGc: 0,
      maxHeapAfterGc: 0,
      handlerErrors: [],
      serverErrors: [],
      serverErrorLines: 0,
      internalErrors: [],
      iterationByPort: new Map(),
    };
    const hostKey = PrivateKey.generate("ssh-ed25519");
    const userKey = PrivateKey.generate("ssh-ed25519");
    const { server, port } = await startServer(hostKey, userKey, stats);
    const sockets = new Set<net.Socket>();
    const inFlight = new Set<number>();
    const recent: string[] = [];
    const gc = collector();
    let stop = false;
    const onUncaught = (err: Error): void => {
      stop = true; // node:test fails the test at once; the workers stop with it
      console.error(
        `# fuzz: uncaught ${err.stack}\n# iterations in flight: ${[...inFlight].join(", ")}; ${replay}`,
      );
    };
    process.on("uncaughtExceptionMonitor", onUncaught);
    let sampler: NodeJS.Timeout | undefined;
    try {
      const rec = await recordHonestSession({
        port,
        username: USER,
        userKey,
        strangerKey: PrivateKey.generate("ssh-ed25519"),
      });
      const postTypes = rec.messages.slice(rec.firstEncrypted).map((m) => m.payload[0]);
      t.diagnostic(`recorded ${rec.messages.length} client messages; after NEWKEYS: ${postTypes.join(" ")}`);
      for (const type of [Msg.SERVICE_REQUEST, Msg.USERAUTH_REQUEST, Msg.USERAUTH_INFO_RESPONSE]) {
        assert.ok(postTypes.includes(type), `the recording lacks message ${type}`);
      }
      for (const type of [90, 93, 94, 96, 97, 98, 80, Msg.DISCONNECT]) {
        assert.ok(postTypes.includes(type), `the recording lacks message ${type}`);
      }

      gc();
      const { rss: baseline, heapUsed: heapBaseline } = process.memoryUsage();
      const mib = (n: number): string => (n / 2 ** 20).toFixed(0);
      const series: string[] = [];
      let ticks = 0;
      const sample = (): void => {
        const raw = process.memoryUsage().rss - baseline;
        stats.maxRssGrowth = Math.max(stats.maxRssGrowth, raw);
        if (++ticks % 10 !== 0) return;
        // Every 2 s a full collection: what stays after it is what the server holds on to.
        gc();
        const m = process.memoryUsage();
        const rssAfterGc = m.rss - baseline;
        const heapAfterGc = m.heapUsed - heapBaseline;
        stats.maxRssAfterGc = Math.max(stats.maxRssAfterGc, rssAfterGc);
        stats.maxHeapAfterGc = Math.max(stats.maxHeapAfterGc, heapAfterGc);
        series.push(`${mib(raw)}/${mib(rssAfterGc)}/${mib(heapAfterGc)}`);
      };
      sampler = setInterval(sample, 200);

      const ctx: Context = { port, rec, userKey, sockets, stats };
      const deadline = Date.now() + SECONDS * 1000;
      const stopped = (): boolean => stop || Date.now() > deadline;
      let next = ONLY ?? 0;
      const failures: string[] = [];
      const worker = async (): Promise<void> => {
        while (!stopped() && failures.length === 0) {
          const i = next++;
          inFlight.add(i);
          try {
            const r = await withTimeout(iteration(ctx, i), 30_000, `fuzz iteration ${i}`);
            stats.iterations++;
            bump(stats.outcomes, r.outcome);
            const line = `#${i} ${r.outcome}: ${r.description}`;
            if (ONLY !== null) console.log(`# ${line}`);
            recent.push(line);
            if (recent.length > 30) recent.shift();
            if (r.outcome === "silent") {
              failures.push(`iteration ${i} (${replay} NSSH_FUZZ_ITERATION=${i}) went unanswered: ${line}`);
            }
          } catch (err) {
            failures.push(
              `iteration ${i} (${replay} NSSH_FUZZ_ITERATION=${i}) failed: ${(err as Error).stack}`,
            );
          } finally {
            inFlight.delete(i);
          }
          if (ONLY !== null) stop = true;
        }
      };
      const honest = honestLoop(port, hostKey, userKey, stats, () => stopped() || failures.length > 0).catch(
        (err: Error) => {
          failures.push(`the honest client failed (${replay}): ${err.stack}\nrecent:\n${recent.join("\n")}`);
        },
      );
      await Promise.all([...Array.from({ length: WORKERS }, () => worker()), honest]);
      stop = true;

      for (const s of sockets) s.destroy();
      // Every connection ends on the server's side too.
      const deadlineClose = Date.now() + 10_000;
      while (serverSocketCount(server) > 0 && Date.now() < deadlineClose) await sleep(50);
      ticks = 9;
      sample();

      t.diagnostic(
        `${stats.iterations} iterations, ${stats.honestRoundTrips} honest round trips over ${stats.honestLogins} logins ` +
          `(slowest ${stats.honestMaxMs} ms), ` +
          `${stats.serverErrorLines} error lines logged by the server`,
      );
      t.diagnostic(
        `growth over the start every 2 s, MiB (RSS / RSS after gc / heap after gc): ${series.join(" ")}; ` +
          `at most ${mib(stats.maxRssGrowth)} / ${mib(stats.maxRssAfterGc)} / ${mib(stats.maxHeapAfterGc)}`,
      );
      t.diagnostic(`outcomes ${JSON.stringify(stats.outcomes)}`);
      t.diagnostic(`stages ${JSON.stringify(stats.stages)}`);
      t.diagnostic(`ops ${JSON.stringify(stats.ops)}`);

      assert.deepEqual(failures, [], `recent iterations:\n${recent.join("\n")}`);
      assert.deepEqual(stats.serverErrors, [], `the server emitted 'error' (${replay})`);
      assert.deepEqual(stats.handlerErrors, [], `session.exit() failed (${replay})`);
      assert.deepEqual(stats.internalErrors, [], `internal errors in the server (${replay})`);
      assert.ok(stats.honestRoundTrips > 0, "the honest client never completed a round trip");
      assert.equal(serverSocketCount(server), 0, `connections still open on the server (${replay})`);
      assert.ok(stats.maxRssGrowth < MEMORY_BOUND, `RSS grew by ${mib(stats.maxRssGrowth)} MiB (${replay})`);
      assert.ok(
        stats.maxHeapAfterGc < MEMORY_BOUND / 4,
        `the heap held ${mib(stats.maxHeapAfterGc)} MiB more after a full collection (${replay})`,
      );
    } finally {
      if (sampler) clearInterval(sampler);
      process.off("uncaughtExceptionMonitor", onUncaught);
      for (const s of sockets) s.destroy();
      await server.close();
    }
  },
);
