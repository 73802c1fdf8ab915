/**
 * The pipelines of get/put and the server's flow of requests and replies, on in-memory streams: a get or
 * put keeps no more requests outstanding than asked (bounded memory however slow the server) and still
 * moves every byte; a server whose client stops reading replies stops reading requests (the channel's
 * window then holds the client back); replies held to go out together are all sent, in order, before
 * the session ends; a local file that may not be written inline (anything but a regular file) goes
 * through the thread pool with the same bytes.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { SftpClient } from "../../src/sftp/client.js";
import { LocalFile } from "../../src/sftp/clientLocalFile.js";
import {
  OpenFlags,
  PacketType,
  SftpPacketParser,
  StatusCode,
  encodeAttrs,
  encodePacket,
  serveSftp,
} from "../../src/sftp/index.js";
import { SshReader } from "../../src/wire/index.js";
import { RawPeer } from "../helpers/sftpServerFixtures.js";

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/** An SftpClient on in-memory streams and a scripted server answering with `handler`. */
function scripted(handler: (type: number, id: number, r: SshReader, send: (b: Buffer) => void) => void): {
  client: SftpClient;
} {
  const toClient = new PassThrough();
  const toServer = new PassThrough();
  const parser = new SftpPacketParser(1024 * 1024);
  const send = (b: Buffer): void => void toClient.write(b);
  toServer.on("data", (d: Buffer) => {
    for (const p of parser.push(d)) {
      if (p.type === PacketType.INIT) {
        send(encodePacket(PacketType.VERSION, (w) => w.uint32(3)));
        continue;
      }
      const r = new SshReader(p.payload);
      handler(p.type, r.uint32(), r, send);
    }
  });
  return { client: new SftpClient(toClient, toServer) };
}

const ok = (id: number): Buffer =>
  encodePacket(PacketType.STATUS, (w) => w.uint32(id).uint32(StatusCode.OK).string("").string(""));

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "nssh-sftp-pipeline-"));
}

test("get keeps at most `requests` READs outstanding and writes every byte", async () => {
  const data = randomBytes(2 * 1024 * 1024 + 333);
  let outstanding = 0;
  let most = 0;
  const { client } = scripted((type, id, r, send) => {
    if (type === PacketType.OPEN)
      return send(encodePacket(PacketType.HANDLE, (w) => w.uint32(id).string("h")));
    if (type === PacketType.FSTAT) {
      return send(
        encodePacket(PacketType.ATTRS, (w) =>
          w.uint32(id).uint32(0x5).uint64(BigInt(data.length)).uint32(0o100644),
        ),
      );
    }
    if (type === PacketType.CLOSE) return send(ok(id));
    if (type !== PacketType.READ) return;
    r.string();
    const offset = Number(r.uint64());
    const length = r.uint32();
    outstanding++;
    most = Math.max(most, outstanding);
    // Answered a turn of the event loop later, so that the client could pile up requests meanwhile.
    setImmediate(() => {
      outstanding--;
      if (offset >= data.length) {
        send(
          encodePacket(PacketType.STATUS, (w) => w.uint32(id).uint32(StatusCode.EOF).string("").string("")),
        );
      } else
        send(
          encodePacket(PacketType.DATA, (w) => w.uint32(id).string(data.subarray(offset, offset + length))),
        );
    });
  });
  const dir = tempDir();
  try {
    const out = path.join(dir, "out.bin");
    await client.get("/f", out, { requests: 8, blockSize: 16 * 1024 });
    assert.equal(sha256(fs.readFileSync(out)), sha256(data));
    assert.ok(most <= 8, `${most} READs were outstanding, over the 8 asked for`);
    assert.ok(most > 1, "READs were not pipelined");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("put keeps at most `requests` WRITEs outstanding and sends every byte in place", async () => {
  const data = randomBytes(1024 * 1024 + 77);
  const received = Buffer.alloc(data.length);
  let outstanding = 0;
  let most = 0;
  const { client } = scripted((type, id, r, send) => {
    if (type === PacketType.OPEN)
      return send(encodePacket(PacketType.HANDLE, (w) => w.uint32(id).string("h")));
    if (type === PacketType.CLOSE) return send(ok(id));
    if (type !== PacketType.WRITE) return;
    r.string();
    const offset = Number(r.uint64());
    r.string(1024 * 1024).copy(received, offset);
    outstanding++;
    most = Math.max(most, outstanding);
    setImmediate(() => {
      outstanding--;
      send(ok(id));
    });
  });
  const dir = tempDir();
  try {
    const src = path.join(dir, "src.bin");
    fs.writeFileSync(src, data);
    await client.put(src, "/f", { requests: 4, blockSize: 8 * 1024 });
    assert.equal(sha256(received), sha256(data));
    assert.ok(most <= 4, `${most} WRITEs were outstanding, over the 4 asked for`);
    assert.ok(most > 1, "WRITEs were not pipelined");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a server whose client stops reading replies stops reading requests", async () => {
  const dir = tempDir();
  const input = new PassThrough();
  const output = new PassThrough(); // never read: the server's replies back up
  const done = serveSftp(input, output, { startDirectory: dir });
  try {
    fs.writeFileSync(path.join(dir, "f"), randomBytes(256 * 1024));
    const peer = new RawPeer(input, new PassThrough());
    input.write(encodePacket(PacketType.INIT, (w) => w.uint32(3)));
    peer.request(PacketType.OPEN, (w) => encodeAttrs(w.string("f").uint32(OpenFlags.READ), {}));
    // 2000 READs of 128 KiB (250 MiB of replies), each in its own chunk as a channel would deliver them.
    // Handle strings are 4 bytes from 1 up: the first file opened is handle 1.
    const handle = Buffer.from([0, 0, 0, 1]);
    for (let i = 0; i < 2000; i++) {
      peer.request(PacketType.READ, (w) =>
        w
          .string(handle)
          .uint64(0n)
          .uint32(128 * 1024),
      );
    }
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 100));
    const heldReplies = output.writableLength + output.readableLength;
    assert.ok(heldReplies < 2 * 1024 * 1024, `${heldReplies} bytes of replies held`);
    assert.ok(input.readableLength > 0, "the server read every request although no reply was taken");
  } finally {
    output.destroy(); // the session's output is gone: the server stops
    input.end();
    await done;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("replies held to go out together are all sent, in order, before the session ends", async () => {
  const dir = tempDir();
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on("data", (c: Buffer) => chunks.push(c));
  try {
    const done = serveSftp(input, output, { startDirectory: dir });
    const requests = [encodePacket(PacketType.INIT, (w) => w.uint32(3))];
    for (let id = 1; id <= 50; id++)
      requests.push(encodePacket(PacketType.STAT, (w) => w.uint32(id).string(".")));
    input.end(Buffer.concat(requests)); // every request in one chunk, then the end of input
    await done;
    const replies = new SftpPacketParser(1024 * 1024).push(Buffer.concat(chunks));
    assert.equal(replies.length, 51);
    assert.equal(replies[0]!.type, PacketType.VERSION);
    replies.slice(1).forEach((p, i) => {
      assert.equal(p.type, PacketType.ATTRS);
      assert.equal(p.payload.readUInt32BE(0), i + 1);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a local file that may not be written inline goes through the thread pool, same bytes", async () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, "f");
    const fh = await fs.promises.open(file, "w+");
    try {
      const regular = new LocalFile(fh, await fh.stat());
      // As for a FIFO or a terminal (a memory device such as /dev/null may be written inline).
      const fifo = { isFile: () => false, isCharacterDevice: () => false } as fs.Stats;
      const other = new LocalFile(fh, fifo);
      const parts = [randomBytes(1000), Buffer.alloc(0), randomBytes(3000)];
      assert.equal(other.writeNow(parts, 0, 4000), false);
      await other.write(parts, 0);
      assert.equal(regular.writeNow(parts, 4000, 4000), true);
      const back = Buffer.alloc(8000);
      assert.equal(other.readNow(back, 0, 8000, 0), null);
      assert.equal(await other.read(back, 0, 4000, 0), 4000);
      assert.equal(regular.readNow(back, 4000, 4000, 4000), 4000);
      const one = Buffer.concat(parts);
      assert.ok(back.equals(Buffer.concat([one, one])));
    } finally {
      await fh.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
