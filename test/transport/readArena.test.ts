/**
 * Reading the socket into one reused buffer (src/transport/readArena.ts):
 *  - the arena itself, driven as Node drives an `onread` socket: bytes reach the consumer in order, what it
 *    still holds is moved to the front (or copied out) before the room after it runs short, bytes read
 *    before a consumer is attached are handed over on attach;
 *  - InputBuffer.replaceTail, which that move uses;
 *  - connect() (whose TCP socket reads into an arena) downloading from a real sshd with every packet layout
 *    (AEAD, encrypt-then-MAC, encrypt-and-MAC, whose open() decrypts in place, and zlib): bytes intact with a
 *    reader that stops for a while, and what waits for it stays within the channel window.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "../../src/client/index.js";
import { InputBuffer } from "../../src/transport/inputBuffer.js";
import {
  arenaSocketFor,
  readArenaOf,
  readArenaSocket,
  SocketReadArena,
  type ArenaConsumer,
} from "../../src/transport/readArena.js";
import {
  startTransferServer,
  transferSkip,
  writeRandomFile,
  type TransferServer,
} from "../helpers/transferFixtures.js";

/** A consumer that takes whole records of `record` bytes and leaves a partial one held, like a transport. */
class RecordConsumer implements ArenaConsumer {
  readonly input = new InputBuffer();
  readonly records: Buffer[] = [];
  paused = false;

  constructor(private readonly record: number) {}

  data(view: Buffer): void {
    this.input.push(view);
    this.drain();
  }

  drain(): void {
    // Copied, as a transport's openers return new memory: the views die with the next read.
    while (!this.paused && this.input.length >= this.record)
      this.records.push(Buffer.from(this.input.take(this.record)));
  }

  held(): number {
    return this.input.length;
  }

  replaceHeld(n: number, moved: Buffer): void {
    this.input.replaceTail(n, moved);
  }
}

/** What Node does for an `onread` socket: read into the buffer the arena gives, call back, ask again. */
function feed(arena: SocketReadArena, bytes: Buffer, readSize: number): boolean[] {
  const results: boolean[] = [];
  let target = arena.onread.buffer() as Buffer;
  for (let off = 0; off < bytes.length;) {
    const n = Math.min(readSize, target.length, bytes.length - off);
    bytes.copy(target, 0, off, off + n);
    off += n;
    results.push(arena.onread.callback(n, target));
    target = arena.onread.buffer() as Buffer;
  }
  return results;
}

describe("SocketReadArena", () => {
  test("hands every byte on in order across many wraps, records straddling reads", () => {
    const arena = new SocketReadArena();
    const consumer = new RecordConsumer(100_003);
    arena.attach(consumer, fakeSocket());
    const bytes = randomBytes(12 * 1024 * 1024 + 7);
    for (const size of [65_536, 300_001, 1024 * 1024]) {
      consumer.records.length = 0;
      feed(arena, bytes, size);
      assert.deepEqual(
        Buffer.concat([...consumer.records, consumer.input.take(consumer.input.length)]),
        bytes,
      );
    }
  });

  test("quiet connections share one buffer, each read's leftovers copied out, bytes intact for each", () => {
    const arenas = [new SocketReadArena(), new SocketReadArena()];
    const consumers = [new RecordConsumer(1_501), new RecordConsumer(777)];
    arenas.forEach((arena, i) => arena.attach(consumers[i]!, fakeSocket()));
    const first = arenas.map((arena) => arena.onread.buffer() as Buffer);
    assert.ok(first[0]!.buffer === first[1]!.buffer, "one buffer for both");
    const streams = [randomBytes(50_000), randomBytes(40_003)];
    // Interleaved reads of 1,000 bytes, as two sockets of one process are read.
    for (let off = 0; off < 50_000; off += 1000) {
      arenas.forEach((arena, i) => {
        const part = streams[i]!.subarray(off, off + 1000);
        if (part.length === 0) return;
        const target = arena.onread.buffer() as Buffer;
        part.copy(target);
        arena.onread.callback(part.length, target);
      });
    }
    consumers.forEach((consumer, i) => {
      const got = Buffer.concat([...consumer.records, consumer.input.take(consumer.input.length)]);
      assert.deepEqual(got, streams[i]);
    });
  });

  test("a read that fills the shared buffer gets an arena of its own; small reads leaving nothing held give it up", () => {
    const arena = new SocketReadArena();
    const consumer = new RecordConsumer(1000);
    arena.attach(consumer, fakeSocket());
    const shared = (arena.onread.buffer() as Buffer).buffer;
    const bulk = randomBytes(4_000_309); // 309 bytes of a record left held
    feed(arena, bulk, 1024 * 1024);
    const own = arena.onread.buffer() as Buffer;
    assert.ok(own.buffer !== shared, "bulk reads go to an arena of the connection's own");
    assert.ok(own.length >= 256 * 1024);
    const partial = randomBytes(400);
    feed(arena, partial, 100); // four small reads
    assert.ok((arena.onread.buffer() as Buffer).buffer !== shared, "a small read, but bytes still held");
    const rest = randomBytes(291); // a fifth, completing the last record: nothing held
    feed(arena, rest, 291);
    assert.ok((arena.onread.buffer() as Buffer).buffer === shared, "quiet again: the shared buffer");
    const all = Buffer.concat([bulk, partial, rest]);
    assert.deepEqual(Buffer.concat([...consumer.records, consumer.input.take(consumer.input.length)]), all);
  });

  test("a large packet arriving in small reads gets an arena of its own", () => {
    const arena = new SocketReadArena();
    const consumer = new RecordConsumer(200_000);
    arena.attach(consumer, fakeSocket());
    const shared = (arena.onread.buffer() as Buffer).buffer;
    const bytes = randomBytes(1_000_000);
    feed(arena, bytes.subarray(0, 48 * 1024), 16 * 1024);
    assert.ok((arena.onread.buffer() as Buffer).buffer !== shared, "over 32 KiB held: bulk");
    feed(arena, bytes.subarray(48 * 1024), 16 * 1024);
    assert.deepEqual(Buffer.concat([...consumer.records, consumer.input.take(consumer.input.length)]), bytes);
  });

  test("a paused consumer's bytes survive the arena being reused (moved or copied out)", () => {
    const arena = new SocketReadArena();
    const consumer = new RecordConsumer(4096);
    arena.attach(consumer, fakeSocket());
    consumer.paused = true;
    const bytes = randomBytes(3 * 1024 * 1024);
    feed(arena, bytes, 200_000);
    assert.equal(consumer.records.length, 0);
    assert.equal(consumer.input.length, bytes.length);
    assert.deepEqual(consumer.input.peek(bytes.length), bytes);
    consumer.paused = false;
    consumer.drain();
    assert.deepEqual(Buffer.concat(consumer.records), bytes);
  });

  test("bytes read before a consumer is attached are handed over on attach; reading stops past a limit", () => {
    const arena = new SocketReadArena();
    const early = randomBytes(300 * 1024);
    const results = feed(arena, early, 64 * 1024);
    assert.equal(results.at(-1), false, "reading stops while nobody takes the bytes");
    const consumer = new RecordConsumer(1);
    const socket = fakeSocket();
    arena.attach(consumer, socket);
    assert.deepEqual(Buffer.concat(consumer.records), early);
    assert.equal(socket.resumed, true, "reading resumes on attach");
  });

  test("while anyone listens for 'data' on the socket, it gets a copy of what is read", () => {
    const arena = new SocketReadArena();
    const socket = fakeSocket();
    arena.watchedBy(socket);
    const consumer = new RecordConsumer(10);
    arena.attach(consumer, socket);
    feed(arena, randomBytes(100), 30);
    assert.equal(socket.emitted.length, 0, "nothing is copied for nobody");
    (socket as unknown as { watching: boolean }).watching = true;
    const watched = randomBytes(1000);
    feed(arena, watched, 300);
    feed(arena, randomBytes(1000), 1000); // reuses the arena's memory the copies must not share
    assert.deepEqual(Buffer.concat(socket.emitted.slice(0, 4)), watched);
  });

  test("detach() returns what was read after it, for a hand-off", () => {
    const arena = new SocketReadArena();
    const consumer = new RecordConsumer(1_000_000);
    arena.attach(consumer, fakeSocket());
    feed(arena, randomBytes(10), 10);
    assert.equal(consumer.input.length, 10);
    assert.deepEqual(arena.detach(), []);
    const later = randomBytes(5000);
    feed(arena, later, 1000);
    assert.deepEqual(Buffer.concat(arena.detach()), later);
  });
});

describe("readArenaSocket over TCP", () => {
  test(
    "bytes sent before the consumer attaches (past the early limit) and after arrive intact",
    { timeout: 20_000 },
    async () => {
      const data = randomBytes(3 * 1024 * 1024);
      const server = net.createServer((c) => c.end(data));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      const socket = readArenaSocket((onread) => net.connect({ host: "127.0.0.1", port, onread }));
      try {
        // Attached late, as nssh's transport is attached after the host lookup and connect.
        await new Promise((r) => setTimeout(r, 300));
        const consumer = new RecordConsumer(1);
        const ended = new Promise((resolve) => socket.once("end", resolve));
        readArenaOf(socket)!.attach(consumer, socket);
        await ended;
        assert.equal(Buffer.concat(consumer.records).length, data.length);
        assert.deepEqual(Buffer.concat(consumer.records), data);
      } finally {
        socket.destroy();
        server.close();
      }
    },
  );
});

describe("InputBuffer.replaceTail", () => {
  test("replaces the last bytes across chunks, the first one partly consumed", () => {
    const all = randomBytes(1000);
    const input = new InputBuffer();
    // Copies: views next to each other in one buffer would be joined into one chunk (next test).
    input.push(Buffer.from(all.subarray(0, 300)));
    input.push(Buffer.from(all.subarray(300, 600)));
    input.push(Buffer.from(all.subarray(600)));
    input.skip(100);
    for (const n of [0, 50, 400, 700, 900]) {
      const copy = Buffer.from(input.peek(input.length).subarray(input.length - n));
      input.replaceTail(n, copy);
      assert.equal(input.length, 900);
      assert.deepEqual(input.peek(900), all.subarray(100));
    }
    assert.throws(() => input.replaceTail(901, Buffer.alloc(901)), RangeError);
  });
});

describe("InputBuffer.push", () => {
  test("joins a view that continues the last one in the same memory, so taking across them copies nothing", () => {
    const arena = randomBytes(1000);
    const input = new InputBuffer();
    input.push(arena.subarray(0, 300));
    input.push(arena.subarray(300, 700));
    input.skip(100);
    const taken = input.take(500);
    assert.equal(taken.buffer, arena.buffer, "a view of the arena, not a copy");
    assert.equal(taken.byteOffset, arena.byteOffset + 100);
    assert.deepEqual(taken, arena.subarray(100, 600));
    // Not adjacent (a gap, or other memory): kept apart, and bytes taken across them are a copy.
    input.push(arena.subarray(800, 900));
    input.push(Buffer.from(arena.subarray(900)));
    const rest = input.take(input.length);
    assert.notEqual(rest.buffer, arena.buffer);
    assert.deepEqual(rest, Buffer.concat([arena.subarray(600, 700), arena.subarray(800)]));
    assert.equal(input.take(0).length, 0, "nothing taken from nothing");
  });
});

describe("arenaSocketFor: a socket Node made, re-made to read into an arena", () => {
  test(
    "an accepted socket's bytes arrive intact through the arena, and the server still sees it close",
    { timeout: 20_000 },
    async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const got: { socket: net.Socket; consumer: RecordConsumer; ended: Promise<unknown> }[] = [];
      const server = net.createServer((accepted) => {
        const socket = arenaSocketFor(accepted);
        const consumer = new RecordConsumer(1);
        const ended = new Promise((resolve) => socket.once("end", resolve));
        readArenaOf(socket)!.attach(consumer, socket);
        socket.on("end", () => socket.end());
        got.push({ socket, consumer, ended });
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      const client = net.connect({ host: "127.0.0.1", port });
      try {
        client.end(data);
        await new Promise((resolve) => client.once("close", resolve));
        assert.equal(got.length, 1);
        assert.notEqual(readArenaOf(got[0]!.socket), undefined);
        await got[0]!.ended;
        assert.deepEqual(Buffer.concat(got[0]!.consumer.records), data);
        // close() calls back only once the server counts no connection: the old socket was released too.
        await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
      } finally {
        client.destroy();
        for (const g of got) g.socket.destroy();
        server.close();
      }
    },
  );

  test("a socket that has read already, or has no handle, is returned as it is", async () => {
    const { PassThrough } = await import("node:stream");
    const stream = new PassThrough() as unknown as net.Socket;
    assert.equal(arenaSocketFor(stream), stream);
    const server = net.createServer((c) => c.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port });
    try {
      await new Promise((resolve) => client.once("data", resolve));
      assert.equal(arenaSocketFor(client), client);
      assert.equal(readArenaOf(client), undefined);
    } finally {
      client.destroy();
      server.close();
    }
  });
});

function fakeSocket(paused = false): import("node:net").Socket & { resumed: boolean; emitted: Buffer[] } {
  const s = {
    resumed: false,
    emitted: [] as Buffer[],
    watching: false,
    isPaused: () => paused,
    resume() {
      s.resumed = true;
      paused = false;
    },
    listenerCount: (event: string) => (event === "data" && s.watching ? 1 : 0),
    emit(event: string, chunk: Buffer) {
      if (event === "data") s.emitted.push(chunk);
      return true;
    },
  };
  return s as unknown as import("node:net").Socket & { resumed: boolean; emitted: Buffer[] };
}

describe("connect() reading into an arena, against OpenSSH's sshd", { skip: transferSkip }, () => {
  let server: TransferServer;
  let file: string;
  let digest: string;
  const SIZE = 12 * 1024 * 1024;

  before(async () => {
    server = await startTransferServer(["Compression yes"]);
    file = path.join(server.work, "data.bin");
    digest = writeRandomFile(file, SIZE);
  });
  after(() => server?.stop());

  const layouts: Array<[string, Record<string, unknown>]> = [
    ["aes128-gcm@openssh.com", { ciphers: ["aes128-gcm@openssh.com"] }],
    ["chacha20-poly1305@openssh.com", { ciphers: ["chacha20-poly1305@openssh.com"] }],
    ["aes128-ctr + hmac-sha2-256-etm", { ciphers: ["aes128-ctr"], macs: ["hmac-sha2-256-etm@openssh.com"] }],
    ["aes256-ctr + hmac-sha2-512 (encrypt-and-MAC)", { ciphers: ["aes256-ctr"], macs: ["hmac-sha2-512"] }],
    [
      "aes128-gcm + zlib@openssh.com",
      { ciphers: ["aes128-gcm@openssh.com"], compression: ["zlib@openssh.com"] },
    ],
  ];
  for (const [name, algorithms] of layouts) {
    test(`${name}: a download read with pauses arrives intact, buffered within the window`, async () => {
      const client = await connect({ ...server.connectOptions(), ...algorithms });
      try {
        const session = await client.spawn(`cat ${file}`);
        const channel = session.channel;
        const hash = createHash("sha256");
        let bytes = 0;
        let mostBuffered = 0;
        let reads = 0;
        await new Promise<void>((resolve, reject) => {
          channel.on("data", (d: Buffer) => {
            hash.update(d);
            bytes += d.length;
            mostBuffered = Math.max(mostBuffered, channel.readableLength);
            // Every 16th chunk the reader stops for a moment: the transport holds input meanwhile.
            if (++reads % 16 === 0) {
              channel.pause();
              setTimeout(() => channel.resume(), 5);
            }
          });
          channel.once("end", resolve);
          channel.once("error", reject);
        });
        const exit = await session.exit;
        assert.equal(exit.code, 0);
        assert.equal(bytes, SIZE);
        assert.equal(hash.digest("hex"), digest);
        // Our window (2 MiB) bounds what the peer may send ahead of the reader.
        assert.ok(mostBuffered <= 2 * 1024 * 1024, `${mostBuffered} bytes buffered`);
      } finally {
        await client.close();
      }
    });
  }

  test("a reader that stops holds the sender back: the remote command cannot finish until it reads", async () => {
    const client = await connect(server.connectOptions());
    const marker = path.join(server.work, "finished");
    try {
      const session = await client.spawn(`cat ${file} && touch ${marker}`);
      const channel = session.channel;
      channel.pause();
      // Without flow control 12 MiB would cross loopback in well under this.
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(fs.existsSync(marker), false, "the remote side finished while nobody read");
      assert.ok(channel.readableLength <= 2 * 1024 * 1024, `${channel.readableLength} bytes buffered`);
      const hash = createHash("sha256");
      channel.on("data", (d: Buffer) => hash.update(d));
      channel.resume();
      await new Promise((resolve) => channel.once("end", resolve));
      assert.equal((await session.exit).code, 0);
      assert.equal(hash.digest("hex"), digest);
      assert.equal(fs.existsSync(marker), true);
    } finally {
      await client.close();
    }
  });
});
