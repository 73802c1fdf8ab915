/** SshReader: every short, negative or oversized field is SshError("MALFORMED"), never a RangeError. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_MAX_STRING, SshError, SshReader, SshWriter } from "../../src/wire/index.js";

const malformed = (e: unknown): boolean => e instanceof SshError && e.code === "MALFORMED";

function bytes(...parts: Array<number[] | Buffer | string>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

describe("fixed-size fields", () => {
  test("byte, boolean, uint32 and uint64 read big-endian and advance", () => {
    const r = new SshReader(bytes([7, 1], u32(0xdeadbeef), [0, 0, 0, 1, 0, 0, 0, 2]));
    assert.equal(r.byte(), 7);
    assert.equal(r.boolean(), true);
    assert.equal(r.uint32(), 0xdeadbeef);
    assert.equal(r.uint64(), 0x100000002n);
    assert.equal(r.remaining, 0);
    assert.equal(r.offset, 14);
  });

  test("short reads are MALFORMED", () => {
    assert.throws(() => new SshReader(Buffer.alloc(0)).byte(), malformed);
    assert.throws(() => new SshReader(Buffer.alloc(0)).boolean(), malformed);
    assert.throws(() => new SshReader(Buffer.alloc(3)).uint32(), malformed);
    assert.throws(() => new SshReader(Buffer.alloc(7)).uint64(), malformed);
    assert.throws(() => new SshReader(Buffer.alloc(4)).bytes(5), malformed);
  });

  test("a failed read consumes nothing", () => {
    const r = new SshReader(Buffer.from([1, 2, 3]));
    assert.throws(() => r.uint32(), malformed);
    assert.equal(r.offset, 0);
    assert.equal(r.byte(), 1);
  });

  test("a negative byte count is MALFORMED", () => {
    assert.throws(() => new SshReader(Buffer.alloc(8)).bytes(-1), malformed);
  });

  test("the reader stays inside its [start, end) window", () => {
    const buf = Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
    const r = new SshReader(buf, 2, 5);
    assert.equal(r.remaining, 3);
    assert.throws(() => r.uint32(), malformed);
    assert.deepEqual([...r.bytes(3)], [0, 0, 1]);
    assert.throws(() => r.byte(), malformed);
  });
});

describe("string", () => {
  test("reads a length-prefixed string as a view", () => {
    const buf = bytes(u32(3), "abc", [9]);
    const r = new SshReader(buf);
    const s = r.string();
    assert.equal(s.toString(), "abc");
    assert.equal(s.buffer, buf.buffer, "not a copy");
    assert.equal(r.byte(), 9);
  });

  test("an empty string", () => {
    assert.equal(new SshReader(bytes(u32(0))).string().length, 0);
  });

  test("a length beyond the data is MALFORMED", () => {
    assert.throws(() => new SshReader(bytes(u32(4), "abc")).string(), malformed);
    assert.throws(() => new SshReader(bytes(u32(1))).string(), malformed);
    assert.throws(() => new SshReader(bytes([0, 0, 0])).string(), malformed);
  });

  test("huge lengths (2^31, 2^32-1) are MALFORMED, not a RangeError or an allocation", () => {
    for (const n of [2 ** 31, 2 ** 31 - 1, 0xffffffff, DEFAULT_MAX_STRING + 1]) {
      assert.throws(() => new SshReader(bytes(u32(n), "abcd")).string(), malformed, `length ${n}`);
      assert.throws(() => new SshReader(bytes(u32(n), "abcd")).string(0xffffffff), malformed, `length ${n}`);
    }
  });

  test("a length over the caller's limit is MALFORMED even when the bytes are there", () => {
    const r = new SshReader(bytes(u32(10), "0123456789"));
    assert.throws(
      () => r.string(9, "thing"),
      (e: unknown) => malformed(e) && /thing of 10 bytes exceeds the limit of 9/.test((e as Error).message),
    );
    assert.equal(new SshReader(bytes(u32(10), "0123456789")).string(10).length, 10);
  });

  test("utf8: valid text is decoded, invalid UTF-8 is MALFORMED", () => {
    assert.equal(new SshReader(bytes(u32(5), Buffer.from("héé", "utf8"))).utf8(), "héé");
    assert.throws(() => new SshReader(bytes(u32(2), [0xc3, 0x28])).utf8(), malformed);
    assert.throws(() => new SshReader(bytes(u32(1), [0xff])).utf8(), malformed);
  });

  test("ascii: printable US-ASCII only", () => {
    assert.equal(new SshReader(bytes(u32(7), "ssh-rsa")).ascii(), "ssh-rsa");
    for (const bad of [[0x00], [0x1f], [0x7f], [0x80], [0x0a]]) {
      assert.throws(() => new SshReader(bytes(u32(3), "a", bad, "b")).ascii(), malformed);
    }
  });
});

describe("mpint", () => {
  test("unsigned magnitudes, with the sign byte removed", () => {
    assert.deepEqual([...new SshReader(bytes(u32(0))).mpintUnsigned()], []);
    assert.deepEqual([...new SshReader(bytes(u32(1), [0x7f])).mpintUnsigned()], [0x7f]);
    assert.deepEqual([...new SshReader(bytes(u32(2), [0x00, 0x80])).mpintUnsigned()], [0x80]);
    assert.equal(new SshReader(bytes(u32(3), [0x01, 0x00, 0x01])).mpintBigInt(), 65537n);
    assert.equal(new SshReader(bytes(u32(0))).mpintBigInt(), 0n);
  });

  test("negative values are MALFORMED", () => {
    assert.throws(() => new SshReader(bytes(u32(1), [0x80])).mpintUnsigned(), malformed);
    assert.throws(() => new SshReader(bytes(u32(2), [0xff, 0x01])).mpintBigInt(), malformed);
  });

  test("superfluous leading zeros are MALFORMED", () => {
    assert.throws(() => new SshReader(bytes(u32(1), [0x00])).mpintUnsigned(), malformed);
    assert.throws(() => new SshReader(bytes(u32(2), [0x00, 0x7f])).mpintUnsigned(), malformed);
  });

  test("longer than the limit is MALFORMED", () => {
    const big = Buffer.alloc(65, 0x11);
    assert.equal(new SshReader(bytes(u32(65), big)).mpintUnsigned(64).length, 65, "a sign byte's allowance");
    assert.throws(() => new SshReader(bytes(u32(66), Buffer.alloc(66, 0x11))).mpintUnsigned(64), malformed);
    assert.throws(() => new SshReader(bytes(u32(0x7fffffff), big)).mpintUnsigned(), malformed);
  });

  test("round trip with SshWriter", () => {
    for (const v of [0n, 1n, 127n, 128n, 255n, 256n, 2n ** 255n - 19n, 2n ** 2048n - 1n]) {
      const w = new SshWriter().mpintBigInt(v).toBuffer();
      const r = new SshReader(Buffer.from(w));
      assert.equal(r.mpintBigInt(), v);
      r.done();
    }
  });
});

describe("name-list", () => {
  test("splits on commas; empty is no names", () => {
    assert.deepEqual(new SshReader(bytes(u32(11), "a,b-c,d@e.f")).nameList(), ["a", "b-c", "d@e.f"]);
    assert.deepEqual(new SshReader(bytes(u32(0))).nameList(), []);
  });

  test("empty names are MALFORMED", () => {
    for (const s of [",", "a,", ",a", "a,,b"]) {
      assert.throws(() => new SshReader(bytes(u32(s.length), s)).nameList(), malformed, s);
    }
  });

  test("names over 64 characters are MALFORMED", () => {
    const ok = "n".repeat(64);
    assert.deepEqual(new SshReader(bytes(u32(64), ok)).nameList(), [ok]);
    const long = "n".repeat(65);
    assert.throws(() => new SshReader(bytes(u32(65), long)).nameList(), malformed);
  });

  test("non-printable bytes and lists over the limit are MALFORMED", () => {
    assert.throws(() => new SshReader(bytes(u32(3), "a\0b")).nameList(), malformed);
    const list = Array.from({ length: 2000 }, (_, i) => `alg${i}`).join(",");
    assert.throws(() => new SshReader(bytes(u32(list.length), list)).nameList(1024), malformed);
    assert.throws(
      () => new SshReader(bytes(u32(100 * 1024), Buffer.alloc(100 * 1024, 0x61))).nameList(),
      malformed,
    );
  });
});

describe("done and rest", () => {
  test("done() refuses trailing bytes", () => {
    const r = new SshReader(Buffer.from([1, 2]));
    r.byte();
    assert.throws(
      () => r.done("PING"),
      (e: unknown) => malformed(e) && /PING has 1 unexpected trailing bytes/.test((e as Error).message),
    );
    r.byte();
    r.done();
  });

  test("rest() takes what is left, as a view", () => {
    const r = new SshReader(Buffer.from([1, 2, 3, 4]), 1, 3);
    assert.deepEqual([...r.rest()], [2, 3]);
    assert.equal(r.remaining, 0);
    r.done();
  });
});

describe("random input", () => {
  test("any sequence of reads over random bytes fails only with MALFORMED", () => {
    let seed = 0x1234567;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const ops: Array<(r: SshReader) => unknown> = [
      (r) => r.byte(),
      (r) => r.boolean(),
      (r) => r.uint32(),
      (r) => r.uint64(),
      (r) => r.string(),
      (r) => r.string(16),
      (r) => r.utf8(),
      (r) => r.ascii(),
      (r) => r.mpintUnsigned(),
      (r) => r.mpintBigInt(32),
      (r) => r.nameList(),
      (r) => r.bytes(rand(10)),
      (r) => r.done(),
    ];
    for (let i = 0; i < 3000; i++) {
      const len = rand(40);
      // Small lengths make strings likely to fit: put a few plausible uint32 lengths in.
      const buf = Buffer.from(Array.from({ length: len }, () => (rand(4) === 0 ? 0 : rand(256))));
      const r = new SshReader(buf);
      for (let k = 0; k < 8; k++) {
        try {
          ops[rand(ops.length)]!(r);
        } catch (e) {
          assert.ok(malformed(e), `unexpected ${String(e)}`);
          break;
        }
      }
    }
  });
});
