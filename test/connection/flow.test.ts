/**
 * Flow control between our client and server connections over TCP (RFC 4254 §5.2): a 100 MiB transfer
 * arrives intact, a reader that stops reading stops the sender and bounds memory to about the window,
 * and the peer's window and maximum packet size are honoured with few WINDOW_ADJUSTs.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { after, describe, test } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { Channel, Connection, DEFAULT_MAX_PACKET, DEFAULT_WINDOW } from "../../src/connection/index.js";
import { Msg } from "../../src/wire/index.js";
import {
  connectedConnections,
  connectedTransports,
  recordMessages,
  until,
} from "../helpers/connectedTransports.js";

const pairs: Array<{ close(): void }> = [];
after(() => pairs.forEach((p) => p.close()));

const MiB = 1024 * 1024;

/** A full garbage collection, so that memory figures count live buffers only. */
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

async function liveBuffers(): Promise<number> {
  // Freed backing stores are released asynchronously: collect twice, with a turn of the loop between.
  gc();
  await new Promise((r) => setTimeout(r, 20));
  gc();
  return process.memoryUsage().arrayBuffers;
}

/** Write `count` chunks with back-pressure (wait for 'drain' when write() says so), then end(). */
async function writeAll(ch: Channel, chunks: (i: number) => Buffer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    if (!ch.write(chunks(i))) await once(ch, "drain");
  }
  ch.end();
}

describe("flow control", { concurrency: 1 }, () => {
  test("100 MiB through one channel arrives intact", async (t) => {
    // AES-GCM (AES-NI) so that the figure measures the channel path more than a cipher written in JS.
    const p = await connectedConnections({ transport: { ciphers: ["aes128-gcm@openssh.com"] } });
    pairs.push(p);
    const received = new Promise<{ hash: string; bytes: number }>((resolve) => {
      p.serverConnection.setChannelOpenHandler("sink", (req) => {
        const ch = req.accept();
        const hash = createHash("sha256");
        let bytes = 0;
        ch.on("data", (d: Buffer) => {
          hash.update(d);
          bytes += d.length;
        });
        ch.on("end", () => {
          resolve({ hash: hash.digest("hex"), bytes });
          ch.end();
        });
      });
    });
    const ch = await p.clientConnection.openChannel("sink");
    const blocks = Array.from({ length: 7 }, () => randomBytes(MiB));
    const sent = createHash("sha256");
    const start = process.hrtime.bigint();
    await writeAll(
      ch,
      (i) => {
        const b = blocks[(i * 3) % 7]!;
        sent.update(b);
        return b;
      },
      100,
    );
    const got = await received;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    assert.equal(got.bytes, 100 * MiB);
    assert.equal(got.hash, sent.digest("hex"));
    const cipher = p.client.negotiated?.cipherC2S;
    t.diagnostic(`100 MiB in ${seconds.toFixed(2)} s: ${(100 / seconds).toFixed(0)} MiB/s (${cipher})`);
  });

  test("a reader that stops reading stalls the writer and bounds memory to the window", async (t) => {
    const p = await connectedConnections({ transport: { ciphers: ["aes128-gcm@openssh.com"] } });
    pairs.push(p);
    let serverChannel!: Channel;
    p.serverConnection.setChannelOpenHandler("slow", (req) => {
      serverChannel = req.accept();
      serverChannel.pause();
    });
    const ch = await p.clientConnection.openChannel("slow");
    const chunk = randomBytes(256 * 1024);
    const baseline = await liveBuffers();
    const total = 32 * MiB;
    let completed = 0;
    let drains = 0;
    ch.on("drain", () => drains++);
    const writer = (async () => {
      for (let sent = 0; sent < total; sent += chunk.length) {
        const ok = ch.write(chunk, () => (completed += chunk.length));
        if (!ok) await once(ch, "drain");
      }
      ch.end();
    })();
    await until(() => ch.outgoingWindow === 0, "the sender's window to run out");
    await until(() => serverChannel.incomingWindow === 0, "the window's worth to arrive");
    const completedAtStall = completed;
    const drainsAtStall = drains;
    await new Promise((r) => setTimeout(r, 500));
    // Nothing moved while the reader slept: no write completed, no 'drain', the window stays empty.
    assert.equal(completed, completedAtStall);
    assert.equal(drains, drainsAtStall);
    assert.equal(ch.outgoingWindow, 0);
    assert.ok(completed <= DEFAULT_WINDOW + chunk.length, `completed ${completed}`);
    assert.equal(serverChannel.incomingWindow, 0);
    assert.ok(serverChannel.readableLength <= DEFAULT_WINDOW, `buffered ${serverChannel.readableLength}`);
    // Live buffers: the receiver's window's worth (views of ~32 KiB packets) plus the writer's chunk.
    const grown = (await liveBuffers()) - baseline;
    t.diagnostic(
      `stalled with ${(grown / MiB).toFixed(2)} MiB of buffers live (window ${DEFAULT_WINDOW / MiB} MiB)`,
    );
    assert.ok(grown < 2 * DEFAULT_WINDOW, `memory grew by ${grown} bytes while stalled`);
    // The reader wakes: everything arrives.
    let bytes = 0;
    serverChannel.on("data", (d: Buffer) => (bytes += d.length));
    serverChannel.resume();
    await writer;
    await once(serverChannel, "end");
    assert.equal(bytes, total);
    assert.equal(completed, total);
  });

  test("echo through several re-keys: data held during key exchange arrives in order", async () => {
    const p = await connectedConnections({
      transport: { rekeyLimit: { bytes: 2 * MiB }, ciphers: ["aes256-gcm@openssh.com", "aes128-ctr"] },
    });
    pairs.push(p);
    p.serverConnection.setChannelOpenHandler("echo", (req) => {
      const ch = req.accept();
      ch.pipe(ch);
    });
    const ch = await p.clientConnection.openChannel("echo");
    const blocks = Array.from({ length: 5 }, () => randomBytes(MiB));
    const sent = createHash("sha256");
    const back = createHash("sha256");
    let bytes = 0;
    ch.on("data", (d: Buffer) => {
      back.update(d);
      bytes += d.length;
    });
    const ended = once(ch, "end");
    await writeAll(
      ch,
      (i) => {
        const b = blocks[(i * 2) % 5]!;
        sent.update(b);
        return b;
      },
      12,
    );
    await ended;
    assert.equal(bytes, 12 * MiB);
    assert.equal(back.digest("hex"), sent.digest("hex"));
    const rekeys = p.logs.client.filter((l) => l.includes("rekey completed")).length;
    assert.ok(rekeys >= 3, `${rekeys} re-keys`);
  });

  test("the peer's window and maximum packet size are honoured; WINDOW_ADJUST is not sent per packet", async () => {
    let serverLog!: { received: number[]; sent: number[] };
    let server!: Connection;
    let client!: Connection;
    const sizes: number[] = [];
    const p = await connectedTransports({
      onServerAuthenticated: (t) => {
        serverLog = recordMessages(t);
        // Spy on the sizes of the data packets the server receives.
        const set = t.setMessageHandler.bind(t);
        t.setMessageHandler = (h) =>
          set((type, payload) => {
            if (type === Msg.CHANNEL_DATA) sizes.push(payload.readUInt32BE(5));
            h(type, payload);
          });
        server = new Connection(t);
      },
      onClientAuthenticated: (t) => (client = new Connection(t)),
    });
    pairs.push(p);
    const done = new Promise<number>((resolve) => {
      server.setChannelOpenHandler("small", (req) => {
        const ch = req.accept({ window: 100_000, maxPacket: 1000 });
        let bytes = 0;
        ch.on("data", (d: Buffer) => (bytes += d.length));
        ch.on("end", () => resolve(bytes));
      });
    });
    const ch = await client.openChannel("small");
    await writeAll(ch, () => randomBytes(64 * 1024), 16);
    assert.equal(await done, MiB);
    assert.ok(sizes.length >= MiB / 1000);
    assert.ok(Math.max(...sizes) <= 1000, `largest packet ${Math.max(...sizes)}`);
    const adjusts = serverLog.sent.filter((t) => t === Msg.CHANNEL_WINDOW_ADJUST).length;
    // One adjust per half window consumed: about 1 MiB / 50 kB, not one per 1000-byte packet.
    assert.ok(adjusts >= 10 && adjusts <= 25, `${adjusts} WINDOW_ADJUSTs`);
  });

  test("our send packet size (DEFAULT_MAX_PACKET) applies when the peer allows more", async () => {
    const p = await connectedConnections();
    pairs.push(p);
    const sizes: number[] = [];
    const serverDone = new Promise<void>((resolve) =>
      p.serverConnection.setChannelOpenHandler("big", (req) => {
        const ch = req.accept({ maxPacket: 250_000 });
        ch.on("data", (d: Buffer) => sizes.push(d.length));
        ch.on("end", resolve);
      }),
    );
    const ch = await p.clientConnection.openChannel("big");
    ch.end(randomBytes(MiB));
    await serverDone;
    assert.equal(Math.max(...sizes), DEFAULT_MAX_PACKET);
  });
});
