/**
 * SftpPacketParser with `splitData` (the client's and the server's framer): a DATA or WRITE packet whose
 * bytes arrive in several chunks gives its data as slices, the exact bytes in order, with the header
 * copied; other packets, or a DATA/WRITE whose inner length does not match its packet, are joined as
 * before; the server writes a WRITE that came in pieces byte for byte (memory file system, no SSH).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { MemoryFileSystem } from "../../src/sftp/fileSystemMemory.js";
import { SftpPacketParser, type SftpPacket } from "../../src/sftp/packetParser.js";
import { PacketType, encodePacket } from "../../src/sftp/protocol.js";
import { serveSftp } from "../../src/sftp/server.js";
import { SshReader } from "../../src/wire/index.js";

function dataPacket(id: number, data: Buffer): Buffer {
  return encodePacket(PacketType.DATA, (w) => w.uint32(id).string(data), data.length + 16);
}

function writePacket(id: number, handle: Buffer, offset: number, data: Buffer): Buffer {
  return encodePacket(
    PacketType.WRITE,
    (w) => w.uint32(id).string(handle).uint64(BigInt(offset)).string(data),
    data.length + 64,
  );
}

/** Feed `bytes` in pieces of `size` and collect every packet. */
function feed(parser: SftpPacketParser, bytes: Buffer, size: number): SftpPacket[] {
  const out: SftpPacket[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(...parser.push(bytes.subarray(i, i + size)));
  return out;
}

test("a DATA packet in many chunks comes as slices holding its exact bytes", () => {
  const data = randomBytes(100_000);
  for (const size of [1, 7, 4096, 32 * 1024, 99_999]) {
    const parser = new SftpPacketParser(256 * 1024, true);
    const packets = feed(
      parser,
      Buffer.concat([dataPacket(7, data), dataPacket(8, data.subarray(0, 10))]),
      size,
    );
    assert.equal(packets.length, 2, `chunks of ${size}`);
    const [big, small] = packets as [SftpPacket, SftpPacket];
    assert.equal(big.type, PacketType.DATA);
    assert.ok(big.data, `chunks of ${size}: split`);
    const r = new SshReader(big.payload);
    assert.equal(r.uint32(), 7);
    assert.equal(r.uint32(), data.length);
    assert.equal(r.remaining, 0);
    assert.deepEqual(Buffer.concat(big.data), data);
    // The short one after it: whole in one chunk (or joined), read as usual.
    if (small.data) assert.deepEqual(Buffer.concat(small.data), data.subarray(0, 10));
    else assert.deepEqual(new SshReader(small.payload.subarray(4)).string(100, "data"), data.subarray(0, 10));
    assert.equal(parser.pending, 0);
  }
});

test("a WRITE packet in many chunks: handle and offset in the header, the data as slices", () => {
  const data = randomBytes(70_000);
  const handle = Buffer.from("handle-1");
  const parser = new SftpPacketParser(256 * 1024, true);
  const [p] = feed(parser, writePacket(3, handle, 2 ** 40 + 5, data), 32 * 1024);
  assert.ok(p?.data);
  const r = new SshReader(p.payload);
  assert.equal(r.uint32(), 3);
  assert.deepEqual(r.string(256, "handle"), handle);
  assert.equal(r.uint64(), BigInt(2 ** 40 + 5));
  assert.equal(r.uint32(), data.length);
  assert.equal(r.remaining, 0);
  assert.deepEqual(Buffer.concat(p.data), data);
});

test("without splitData, and for a DATA whose inner length lies, the packet is joined whole", () => {
  const data = randomBytes(50_000);
  const plain = feed(new SftpPacketParser(256 * 1024), dataPacket(1, data), 1000);
  assert.equal(plain.length, 1);
  assert.equal(plain[0]!.data, undefined);
  assert.deepEqual(new SshReader(plain[0]!.payload.subarray(4)).string(100_000, "data"), data);

  const lying = dataPacket(2, data);
  lying.writeUInt32BE(data.length - 1, 9); // the string's length no longer ends at the packet's end
  const [p] = feed(new SftpPacketParser(256 * 1024, true), lying, 1000);
  assert.equal(p!.data, undefined);
  assert.equal(p!.payload.length, 4 + 4 + data.length);
});

test("the server writes a WRITE that arrived in pieces byte for byte", async () => {
  const fs = new MemoryFileSystem();
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const replies: SftpPacket[] = [];
  const parser = new SftpPacketParser(1024 * 1024);
  fromServer.on("data", (d: Buffer) => replies.push(...parser.push(d)));
  const served = serveSftp(toServer, fromServer, { fs, homeDirectory: "/" });
  const next = async (): Promise<SftpPacket> => {
    while (replies.length === 0) await new Promise((r) => setImmediate(r));
    return replies.shift()!;
  };
  toServer.write(encodePacket(PacketType.INIT, (w) => w.uint32(3)));
  assert.equal((await next()).type, PacketType.VERSION);
  // OPEN /f for writing, creating it.
  toServer.write(
    encodePacket(PacketType.OPEN, (w) =>
      w
        .uint32(1)
        .string("/f")
        .uint32(0x02 | 0x08 | 0x10)
        .uint32(0),
    ),
  );
  const opened = await next();
  assert.equal(opened.type, PacketType.HANDLE);
  const r = new SshReader(opened.payload);
  r.uint32();
  const handle = r.string(256, "handle");
  const data = randomBytes(200_000);
  const blocks = [
    writePacket(2, handle, 0, data.subarray(0, 120_000)),
    writePacket(3, handle, 120_000, data.subarray(120_000)),
  ];
  const stream = Buffer.concat(blocks);
  for (let i = 0; i < stream.length; i += 3000) toServer.write(stream.subarray(i, i + 3000));
  for (const id of [2, 3]) {
    const reply = await next();
    assert.equal(reply.type, PacketType.STATUS);
    const s = new SshReader(reply.payload);
    assert.equal(s.uint32(), id);
    assert.equal(s.uint32(), 0, "STATUS OK");
  }
  toServer.end();
  await served;
  const file = await fs.open("/f", { flags: 0x01, mode: 0 });
  const back = Buffer.alloc(data.length + 10);
  const n = await file.read(back, 0, back.length, 0);
  assert.equal(n, data.length);
  assert.deepEqual(back.subarray(0, n), data);
});
