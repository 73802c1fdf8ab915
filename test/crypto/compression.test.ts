import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import { constants, createDeflate, deflateSync, inflateSync } from "node:zlib";
import { COMPRESSIONS, compressionByName } from "../../src/crypto/compression.js";
import type { PayloadCompressor, PayloadDecompressor } from "../../src/crypto/types.js";
import { SshError } from "../../src/wire/index.js";

const prng = createCipheriv("aes-128-ctr", Buffer.alloc(16, 0x33), Buffer.alloc(16));
const random = (n: number): Buffer => prng.update(Buffer.alloc(n));

/** Payloads like a session's: small messages, text, incompressible data, and big channel data. */
function payloads(): Buffer[] {
  const text = Buffer.from("drwxr-xr-x  2 user user 4096 Jan  1 00:00 some-directory-name\n".repeat(600));
  return [
    Buffer.from([94, 0, 0, 0, 0]),
    Buffer.from("hello"),
    text.subarray(0, 1000),
    random(1000),
    text.subarray(0, 32768),
    random(32768),
    Buffer.from([2]),
    text, // 37 KiB
    Buffer.alloc(200_000, 0x41),
    random(100_000),
  ];
}

function zlibPair(maxOutput = 256 * 1024): { c: PayloadCompressor; d: PayloadDecompressor } {
  const zlib = compressionByName("zlib")!;
  return { c: zlib.createCompressor()!, d: zlib.createDecompressor(maxOutput)! };
}

function assertCompressionError(fn: () => unknown, what: string): void {
  assert.throws(fn, (e: unknown) => e instanceof SshError && e.code === "COMPRESSION", what);
}

/** A zlib error would surface later as an 'error' event; give it the chance to appear. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("compression list: none, zlib@openssh.com (delayed), zlib", () => {
  assert.deepEqual(
    COMPRESSIONS.map((c) => [c.name, c.delayed]),
    [
      ["none", false],
      ["zlib@openssh.com", true],
      ["zlib", false],
    ],
  );
  for (const c of COMPRESSIONS) assert.equal(compressionByName(c.name), c);
  assert.equal(compressionByName("zstd"), undefined);
  const none = compressionByName("none")!;
  assert.equal(none.createCompressor(), null);
  assert.equal(none.createDecompressor(1024), null);
});

test("zlib: one stream per direction, each packet inflates alone, in order", () => {
  for (const name of ["zlib", "zlib@openssh.com"]) {
    const alg = compressionByName(name)!;
    const c = alg.createCompressor()!;
    const d = alg.createDecompressor(256 * 1024)!;
    let compressedTotal = 0;
    let plainTotal = 0;
    for (const payload of [...payloads(), ...payloads()]) {
      const packet = c.compress(payload);
      compressedTotal += packet.length;
      plainTotal += payload.length;
      assert.ok(d.decompress(packet).equals(payload), `${name}: payload of ${payload.length}`);
    }
    // The second round refers back to the first: one stream, not one per packet.
    assert.ok(compressedTotal < plainTotal * 0.75, `${compressedTotal} of ${plainTotal}`);
    c.close();
    d.close();
  }
});

test("zlib: the concatenated output is one zlib stream a fresh Node inflate reads", () => {
  const { c } = zlibPair();
  const inputs = payloads();
  const outputs = inputs.map((p) => c.compress(p));
  c.close();
  // The stream never ends (no Z_FINISH), so inflate must not demand the end.
  const all = inflateSync(Buffer.concat(outputs), { finishFlush: constants.Z_SYNC_FLUSH });
  assert.ok(all.equals(Buffer.concat(inputs)));
});

test("zlib: inflates what another deflater flushed with Z_SYNC_FLUSH packet by packet", async () => {
  const deflate = createDeflate();
  const chunks: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => chunks.push(chunk));
  const { d } = zlibPair();
  for (const payload of payloads()) {
    deflate.write(payload);
    await new Promise<void>((resolve) => deflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    const packet = Buffer.concat(chunks.splice(0));
    assert.ok(d.decompress(packet).equals(payload), `payload of ${payload.length}`);
  }
  deflate.destroy();
  d.close();
});

test("zlib: a decompression bomb is refused at maxOutput bytes for one packet", async () => {
  const limit = 64 * 1024;
  const { d } = zlibPair(limit);
  const bomb = deflateSync(Buffer.alloc(10 * 1024 * 1024), { finishFlush: constants.Z_SYNC_FLUSH });
  assert.ok(bomb.length < 20 * 1024);
  assertCompressionError(() => d.decompress(bomb), "10 MiB of zeros");
  await tick();

  // Exactly the limit passes; one byte more does not.
  const c2 = zlibPair(limit);
  assert.equal(c2.d.decompress(c2.c.compress(Buffer.alloc(limit, 7))).length, limit);
  const c3 = zlibPair(limit);
  assertCompressionError(() => c3.d.decompress(c3.c.compress(Buffer.alloc(limit + 1, 7))), "limit + 1");
  // The bound is per packet, not for the stream.
  const c4 = zlibPair(limit);
  for (let i = 0; i < 8; i++) c4.d.decompress(c4.c.compress(Buffer.alloc(limit, i)));
});

test("zlib: corrupt or ended streams are SshError COMPRESSION, and no error event escapes", async () => {
  const { d } = zlibPair();
  assertCompressionError(() => d.decompress(Buffer.from("this is not a zlib stream at all")), "garbage");
  // The stream is dead after an error.
  assertCompressionError(() => d.decompress(Buffer.from([0x78, 0x9c])), "after an error");

  // A valid first packet (byte-aligned by Z_SYNC_FLUSH), then a block of the reserved type 3.
  const { d: d2 } = zlibPair();
  const first = deflateSync(Buffer.from("first packet"), { finishFlush: constants.Z_SYNC_FLUSH });
  assert.equal(d2.decompress(first).toString(), "first packet");
  assertCompressionError(() => d2.decompress(Buffer.from([0x07, 0x00, 0x00, 0x00])), "invalid block type");

  // A stream the peer ended (Z_FINISH) followed by more data.
  const { d: d3 } = zlibPair();
  const ended = Buffer.concat([deflateSync(Buffer.from("done")), Buffer.from("trailing")]);
  assertCompressionError(() => d3.decompress(ended), "data after the end of the stream");
  await tick();
});

test("zlib: close() is final and idempotent", () => {
  const { c, d } = zlibPair();
  c.compress(Buffer.from("x"));
  c.close();
  c.close();
  d.close();
  d.close();
  assertCompressionError(() => c.compress(Buffer.from("y")), "compress after close");
  assertCompressionError(() => d.decompress(Buffer.from("y")), "decompress after close");
});
