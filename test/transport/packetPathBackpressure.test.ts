/**
 * The send path of 4b6a995/ea7eb44/08d1706 under pressure, between our own client and server over TCP:
 * channel data framed as header + views and copied into one plaintext scratch buffer shared by every
 * Transport of the process, sealed in pieces, 'drain' asked for past 256 KiB held by the socket.
 *  - a receiver that stops reading its socket: the sender's socket backlog stays bounded (many channels,
 *    each with a full window to spend), and everything arrives intact once it reads again;
 *  - several connections with different ciphers (and zlib@openssh.com, and re-keying every 512 KiB, which
 *    runs the key exchange queue) sending both ways at once through the shared scratch stay intact;
 *  - a socket whose own writable highWaterMark is above 256 KiB (any Duplex may carry a Transport) still
 *    gets its 'drain': a channel writing 16 MiB through it finishes.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import type { Duplex } from "node:stream";
import { after, describe, test } from "node:test";
import { Channel, Connection } from "../../src/connection/index.js";
import { Transport, type TransportOptions } from "../../src/transport/index.js";
import { Msg, SshWriter } from "../../src/wire/index.js";
import { connectedConnections, type ConnectedConnections } from "../helpers/connectedTransports.js";
import { testHostKeys } from "../helpers/transportServer.js";

const MiB = 1024 * 1024;
const closers: Array<() => void> = [];
after(() => closers.forEach((c) => c()));

/** The socket a Transport writes to (private there; read here only to measure its backlog). */
function socketOf(t: Transport): Duplex {
  return (t as unknown as { socket: Duplex }).socket;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

const pools = new Map<string, Buffer[]>();

/** Block i of a stream named by `seed` and `size`: one of four random blocks made once for that stream. */
function blockOf(seed: string, i: number, size: number): Buffer {
  const key = `${seed}/${size}`;
  let pool = pools.get(key);
  if (!pool) pools.set(key, (pool = Array.from({ length: 4 }, () => randomBytes(size))));
  return pool[(i * 3) % 4]!;
}

/** Write `count` blocks with back-pressure, then end(); resolves with the sha256 of what was written. */
async function writeAll(ch: Channel, block: (i: number) => Buffer, count: number): Promise<string> {
  const hash = createHash("sha256");
  for (let i = 0; i < count; i++) {
    const b = block(i);
    hash.update(b);
    if (!ch.write(b)) await once(ch, "drain");
  }
  ch.end();
  return hash.digest("hex");
}

/** Read a channel to its end; resolves with the sha256 and length of what arrived. */
function readAll(ch: Channel): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    let bytes = 0;
    ch.on("data", (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    ch.once("end", () => resolve({ hash: hash.digest("hex"), bytes }));
    ch.once("error", reject);
  });
}

/** Server side: every "echo-sink" channel is read to its end and answered with `reply` bytes of its own. */
function serveSinks(
  conn: Connection,
  seed: string,
  replyBytes: number,
): Map<number, Promise<{ hash: string; bytes: number }>> {
  const got = new Map<number, Promise<{ hash: string; bytes: number }>>();
  let n = 0;
  conn.setChannelOpenHandler("sink", (req) => {
    const ch = req.accept();
    const index = n++;
    got.set(index, readAll(ch));
    if (replyBytes > 0) {
      void writeAll(ch, (i) => blockOf(`${seed}/reply/${index}`, i, 256 * 1024), replyBytes / (256 * 1024));
    } else {
      ch.once("end", () => ch.end());
    }
  });
  return got;
}

/**
 * Our client and server Connections over TCP, with the client's socket created with `socketOptions`
 * (connectedTransports() cannot take them): the same fake login, USERAUTH_SUCCESS for anything.
 */
async function pairWithSocket(
  socketOptions: net.SocketConstructorOpts,
  transport: Partial<Omit<TransportOptions, "role" | "socket">> = {},
): Promise<{ client: Connection; server: Connection; close(): void }> {
  let serverConnection!: Promise<Connection>;
  const listener = net.createServer((socket) => {
    listener.close();
    const t = new Transport({ hostKeys: testHostKeys(), ...transport, role: "server", socket });
    serverConnection = new Promise((resolve) =>
      t.setMessageHandler((type) => {
        if (type !== Msg.USERAUTH_REQUEST) return;
        t.send(Buffer.from([Msg.USERAUTH_SUCCESS]));
        resolve(new Connection(t));
      }),
    );
  });
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const socket = new net.Socket(socketOptions);
  socket.connect((listener.address() as net.AddressInfo).port, "127.0.0.1");
  const client = new Transport({ ...transport, role: "client", socket, verifyHostKey: () => true });
  await new Promise<void>((resolve, reject) => {
    client.once("ready", resolve);
    client.once("close", reject);
  });
  await client.requestService("ssh-userauth");
  let clientConnection!: Connection;
  const authenticated = new Promise<void>((resolve) =>
    client.setMessageHandler((type) => {
      if (type !== Msg.USERAUTH_SUCCESS) return;
      clientConnection = new Connection(client);
      resolve();
    }),
  );
  const request = new SshWriter().byte(Msg.USERAUTH_REQUEST).string("u").string("ssh-connection");
  client.send(Buffer.from(request.string("none").toBuffer()));
  await authenticated;
  const server = await serverConnection;
  return {
    client: clientConnection,
    server,
    close: () => {
      client.disconnect();
      server.close();
      listener.close();
    },
  };
}

describe("packet path: back-pressure and the shared plaintext scratch", { concurrency: 1 }, () => {
  test("a receiver that stops reading its socket bounds the sender's backlog; 64 MiB then arrives intact", async () => {
    const p: ConnectedConnections = await connectedConnections({
      transport: { ciphers: ["aes128-gcm@openssh.com"] },
    });
    closers.push(() => p.close());
    const got = serveSinks(p.serverConnection, "slow", 0);
    // Eight channels, each with a fresh 2 MiB window: 16 MiB the sender may send at once, so only the
    // transport's 'drain' (not the windows) keeps the socket backlog small while the peer does not read.
    const channels = await Promise.all(
      Array.from({ length: 8 }, () => p.clientConnection.openChannel("sink")),
    );
    const socket = socketOf(p.client);
    let maxBacklog = 0;
    const sampler = setInterval(() => (maxBacklog = Math.max(maxBacklog, socket.writableLength)), 1);
    p.server.pause();
    const sent = channels.map((ch, c) => writeAll(ch, (i) => blockOf(`slow/${c}`, i, 512 * 1024), 16));
    // Let the sender fill whatever it will fill, then read again.
    await new Promise((r) => setTimeout(r, 500));
    const stalledBacklog = socket.writableLength;
    p.server.resume();
    const hashes = await withTimeout(Promise.all(sent), 25_000, "64 MiB to a slow reader");
    clearInterval(sampler);
    for (let c = 0; c < channels.length; c++) {
      const r = await got.get(c)!;
      assert.equal(r.bytes, 8 * MiB, `channel ${c} length`);
      assert.equal(r.hash, hashes[c], `channel ${c} content`);
    }
    // 256 KiB mark + one 128 KiB packet per channel that was mid-write; far below the 16 MiB of windows.
    assert.ok(stalledBacklog <= 2 * MiB, `backlog while the peer did not read: ${stalledBacklog}`);
    assert.ok(maxBacklog <= 2 * MiB, `largest backlog seen: ${maxBacklog}`);
  });

  test("connections with different ciphers, compression and re-keying send both ways at once, intact", async () => {
    const setups: Array<Partial<Omit<TransportOptions, "role" | "socket">>> = [
      { ciphers: ["aes128-gcm@openssh.com"] },
      { ciphers: ["chacha20-poly1305@openssh.com"], rekeyLimit: { bytes: 512 * 1024 } },
      { ciphers: ["aes256-ctr"], macs: ["hmac-sha2-256-etm@openssh.com"] },
      { ciphers: ["aes128-cbc"], macs: ["hmac-sha1-etm@openssh.com"], rekeyLimit: { bytes: 512 * 1024 } },
      { ciphers: ["aes192-ctr"], macs: ["hmac-sha2-512"] },
      { ciphers: ["aes256-gcm@openssh.com"], compression: ["zlib@openssh.com", "zlib"] },
    ];
    const pairs = await Promise.all(setups.map((transport) => connectedConnections({ transport })));
    for (const p of pairs) closers.push(() => p.close());
    const sinks = pairs.map((p, k) => serveSinks(p.serverConnection, `mix${k}`, 4 * MiB));
    const channels = await Promise.all(pairs.map((p) => p.clientConnection.openChannel("sink")));
    const replies = channels.map((ch) => readAll(ch));
    const sent = channels.map((ch, k) => writeAll(ch, (i) => blockOf(`mix${k}/up`, i, 192 * 1024), 22));
    const hashes = await withTimeout(Promise.all(sent), 25_000, "mixed connections sending");
    for (let k = 0; k < pairs.length; k++) {
      const up = await withTimeout(sinks[k]!.get(0)!, 25_000, `upload ${k}`);
      assert.equal(up.bytes, 22 * 192 * 1024, `upload ${k} length`);
      assert.equal(up.hash, hashes[k], `upload ${k} (${JSON.stringify(setups[k])}) content`);
      const down = await withTimeout(replies[k]!, 25_000, `download ${k}`);
      const expected = createHash("sha256");
      for (let i = 0; i < 16; i++) expected.update(blockOf(`mix${k}/reply/0`, i, 256 * 1024));
      assert.equal(down.bytes, 4 * MiB, `download ${k} length`);
      assert.equal(down.hash, expected.digest("hex"), `download ${k} (${JSON.stringify(setups[k])}) content`);
    }
  });

  test("a socket whose own highWaterMark is above 256 KiB still drains: 16 MiB through it finishes", async () => {
    // send() asks for 'drain' at 256 KiB held, but a socket emits 'drain' only after a write returned
    // false, i.e. past its own writableHighWaterMark: 1 MiB here.
    const p = await pairWithSocket({ writableHighWaterMark: MiB } as net.SocketConstructorOpts, {
      ciphers: ["aes128-gcm@openssh.com"],
    });
    closers.push(() => p.close());
    const got = serveSinks(p.server, "hwm", 0);
    const ch = await p.client.openChannel("sink");
    const data = randomBytes(MiB);
    const sent = writeAll(ch, () => data, 16);
    const hash = await withTimeout(sent, 10_000, "16 MiB through a socket with a 1 MiB highWaterMark");
    const r = await withTimeout(got.get(0)!, 20_000, "the receiver to see the end");
    assert.equal(r.bytes, 16 * MiB);
    assert.equal(r.hash, hash);
  });
});
