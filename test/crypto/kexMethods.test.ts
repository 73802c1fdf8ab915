/**
 * Every key exchange method in KEX_ALGORITHMS: the two sides agree on K, and the peer values that
 * RFC 4253 §8, RFC 5656 §4 and RFC 8731 §3 tell us to refuse are refused with KEX_FAILED.
 * curve25519-sha256 is also checked against RFC 7748 §6.1 (Alice's and Bob's keys).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, diffieHellman, getDiffieHellman } from "node:crypto";
import { GEX_MAX_BITS, GEX_MIN_BITS, KEX_ALGORITHMS, kexByName } from "../../src/crypto/kex/index.js";
import type {
  DhGroup,
  GroupExchangeKex,
  KexAlgorithm,
  KexClientSide,
  KexServerSide,
} from "../../src/crypto/types.js";
import { SshError } from "../../src/wire/errors.js";

const hex = (s: string): Buffer => Buffer.from(s, "hex");
const kexFailed = (e: unknown): boolean => e instanceof SshError && e.code === "KEX_FAILED";

/** An mpint (RFC 4251 §5) from an unsigned magnitude, written out here rather than with our SshWriter. */
function mpint(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  let body = magnitude.subarray(start);
  if (body.length > 0 && body[0]! & 0x80) body = Buffer.concat([Buffer.alloc(1), body]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

function toBigInt(b: Buffer): bigint {
  return b.length === 0 ? 0n : BigInt("0x" + b.toString("hex"));
}

function fromBigInt(v: bigint): Buffer {
  let h = v.toString(16);
  if (h.length % 2) h = "0" + h;
  return hex(h);
}

function isGex(kex: KexAlgorithm): kex is GroupExchangeKex {
  return kex.kind === "gex";
}

/** Client and server sides of a method; for group exchange, in the group the server picks for 2048..8192. */
function sides(kex: KexAlgorithm): {
  client: () => KexClientSide;
  server: () => KexServerSide;
  group?: DhGroup;
} {
  if (isGex(kex)) {
    const group = kex.chooseGroup(2048, 2048, 8192);
    assert.ok(group, `${kex.name} offers a 2048-bit group`);
    return {
      client: () => kex.createClientForGroup(group),
      server: () => kex.createServerForGroup(group),
      group,
    };
  }
  assert.ok(kex.createClient && kex.createServer, `${kex.name} creates single-round-trip sides`);
  return { client: () => kex.createClient!(), server: () => kex.createServer!() };
}

function kex(name: string): KexAlgorithm {
  const found = kexByName(name);
  assert.ok(found, `${name} is implemented`);
  return found;
}

// ---------------------------------------------------------------------------------------------------
// Agreement, for every method.

test("KEX_ALGORITHMS names are unique and cover the expected families", () => {
  const names = KEX_ALGORITHMS.map((k) => k.name);
  assert.equal(new Set(names).size, names.length);
  for (const name of [
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "curve25519-sha256",
    "ecdh-sha2-nistp256",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group14-sha256",
  ]) {
    assert.ok(names.includes(name), name);
  }
});

for (const method of KEX_ALGORITHMS) {
  test(`${method.name}: client and server agree on K`, () => {
    const { client: newClient, server: newServer } = sides(method);
    const client = newClient();
    const { publicValue, secret } = newServer().respond(client.publicValue);
    const k = client.computeSecret(publicValue);
    assert.deepEqual(k, secret);
    // K is already encoded: uint32 length, then exactly that many bytes.
    assert.equal(k.readUInt32BE(0), k.length - 4);
    if (method.secretEncoding === "mpint") {
      // A canonical mpint: no superfluous leading zero, positive.
      assert.deepEqual(k, mpint(k.subarray(4)));
    } else {
      assert.equal(k.length - 4, method.hash === "sha512" ? 64 : 32);
    }
    // Two exchanges do not share a key.
    const again = newClient();
    assert.notDeepEqual(again.computeSecret(newServer().respond(again.publicValue).publicValue), k);
  });
}

// ---------------------------------------------------------------------------------------------------
// Finite-field Diffie-Hellman: e and f must lie in [2, p-2] (RFC 4253 §8).

const dhMethods = KEX_ALGORITHMS.filter((k) => k.publicEncoding === "mpint");

test("the DH methods are the fixed groups and group exchange", () => {
  assert.deepEqual(dhMethods.map((k) => k.name).sort(), [
    "diffie-hellman-group-exchange-sha1",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
  ]);
});

/** The fixed groups are the RFC 2409/3526 MODP primes, which Node ships by name. */
const MODP_OF: Record<string, string> = {
  "diffie-hellman-group1-sha1": "modp2",
  "diffie-hellman-group14-sha1": "modp14",
  "diffie-hellman-group14-sha256": "modp14",
  "diffie-hellman-group16-sha512": "modp16",
  "diffie-hellman-group18-sha512": "modp18",
};

for (const method of dhMethods) {
  test(`${method.name}: peer values 0, 1, p-1, p and above are KEX_FAILED; 2 and p-2 are not`, () => {
    const { client: newClient, server: newServer, group } = sides(method);
    const client = newClient();
    const p = toBigInt(group ? group.p : getDiffieHellman(MODP_OF[method.name]!).getPrime());
    const bad: Buffer[] = [
      Buffer.alloc(0),
      hex("00"),
      hex("01"),
      hex("0001"),
      fromBigInt(p - 1n),
      Buffer.concat([hex("00"), fromBigInt(p - 1n)]), // the sign byte of an mpint changes nothing
      fromBigInt(p),
      fromBigInt(p + 1n),
      fromBigInt(2n * p + 2n),
    ];
    for (const value of bad) {
      assert.throws(() => client.computeSecret(value), kexFailed, `client accepted ${value.length} bytes`);
      assert.throws(() => newServer().respond(value), kexFailed, `server accepted ${value.length} bytes`);
    }
    // The edges of the allowed range compute a secret.
    for (const value of [hex("02"), fromBigInt(p - 2n)]) {
      assert.equal(client.computeSecret(value).readUInt32BE(0) > 0, true);
      assert.ok(newServer().respond(value).secret.length > 4);
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Group exchange (RFC 4419): group choice and the client's checks on the server's group.

test("group exchange: chooseGroup respects min, n and max", () => {
  const gex = kex("diffie-hellman-group-exchange-sha256");
  assert.ok(isGex(gex));
  assert.equal(GEX_MIN_BITS, 2048);
  assert.equal(GEX_MAX_BITS, 8192);
  const cases: [number, number, number, number | null][] = [
    // [min, n, max, bits of the group expected]
    [2048, 2048, 8192, 2048],
    [2048, 3072, 8192, 3072],
    [2048, 4000, 8192, 4096], // the smallest group at least as large as n
    [2048, 8192, 8192, 8192],
    [3072, 3072, 3072, 3072],
    [1024, 2048, 8192, 2048],
    [1024, 1024, 8192, 2048], // nothing under 2048 is offered, even when asked for
    [2048, 8192, 4096, 4096], // n above max: the largest group that fits
    [2048, 1024, 8192, 2048], // n below min
    [4096, 7000, 16384, 8192],
    [1024, 1024, 1024, null], // only groups below our floor would fit
    [1024, 1024, 2047, null],
    [3100, 3500, 4000, null], // no group between 3072 and 4096
    [8193, 9000, 16384, null], // only groups above our ceiling would fit
    [4096, 4096, 2048, null], // min > max
  ];
  for (const [min, n, max, bits] of cases) {
    const group = gex.chooseGroup(min, n, max);
    assert.equal(group?.bits ?? null, bits, `chooseGroup(${min}, ${n}, ${max})`);
    if (group) {
      assert.ok(group.bits >= Math.max(min, GEX_MIN_BITS) && group.bits <= Math.min(max, GEX_MAX_BITS));
      assert.equal(group.p.length * 8, group.bits);
      assert.equal(group.p[0]! & 0x80, 0x80, "p has exactly `bits` bits");
    }
  }
});

test("group exchange: createClientForGroup refuses groups under 2048 or over 8192 bits, and bad generators", () => {
  const gex = kex("diffie-hellman-group-exchange-sha256");
  assert.ok(isGex(gex));
  const modp2 = getDiffieHellman("modp2"); // the 1024-bit Oakley group 2 (RFC 2409)
  const small: DhGroup = { p: modp2.getPrime(), g: hex("02"), bits: 1024 };
  assert.throws(() => gex.createClientForGroup(small), kexFailed);
  // 2047 bits: one short of the floor.
  const p2047 = Buffer.alloc(256, 0xff);
  p2047[0] = 0x7f;
  assert.throws(() => gex.createClientForGroup({ p: p2047, g: hex("02"), bits: 2047 }), kexFailed);
  // Over the ceiling: refused before any arithmetic is done with it.
  const p8200 = Buffer.alloc(1025, 0xff);
  assert.throws(() => gex.createClientForGroup({ p: p8200, g: hex("02"), bits: 8200 }), kexFailed);

  const group = gex.chooseGroup(2048, 2048, 8192)!;
  const p = toBigInt(group.p);
  for (const g of [Buffer.alloc(0), hex("00"), hex("01"), fromBigInt(p - 1n), group.p]) {
    assert.throws(() => gex.createClientForGroup({ ...group, g }), kexFailed);
  }
  // 2048 and 8192 themselves are fine.
  assert.ok(gex.createClientForGroup(group).publicValue.length > 0);
  assert.ok(gex.createClientForGroup(gex.chooseGroup(8192, 8192, 8192)!).publicValue.length > 0);
});

// ---------------------------------------------------------------------------------------------------
// ECDH on the NIST curves (RFC 5656 §4): only uncompressed points on the curve.

for (const bits of [256, 384, 521] as const) {
  test(`ecdh-sha2-nistp${bits}: points not on the curve or of the wrong size are KEX_FAILED`, () => {
    const method = kex(`ecdh-sha2-nistp${bits}`);
    const { client: newClient, server: newServer } = sides(method);
    const client = newClient();
    const field = { 256: 32, 384: 48, 521: 66 }[bits];
    const point = newServer().respond(client.publicValue).publicValue;
    assert.equal(point.length, 1 + 2 * field);
    assert.equal(point[0], 4);

    const offCurve = Buffer.from(point);
    offCurve[offCurve.length - 1]! ^= 0x01; // same x, y changed: (almost surely) not on the curve
    const zero = Buffer.alloc(1 + 2 * field);
    zero[0] = 4; // (0, 0) is not on these curves
    const compressed = Buffer.concat([
      Buffer.from([2 + (point[point.length - 1]! & 1)]),
      point.subarray(1, 1 + field),
    ]);
    const badPrefix = Buffer.from(point);
    badPrefix[0] = 6; // "hybrid" encoding of X9.62, not allowed by RFC 5656
    const otherCurve = kex(bits === 256 ? "ecdh-sha2-nistp384" : "ecdh-sha2-nistp256").createClient!()
      .publicValue;
    for (const bad of [
      offCurve,
      zero,
      compressed,
      badPrefix,
      otherCurve,
      point.subarray(0, point.length - 1),
      Buffer.concat([point, Buffer.alloc(1)]),
      hex("00"), // the point at infinity
      Buffer.alloc(0),
    ]) {
      assert.throws(() => client.computeSecret(bad), kexFailed, `client accepted ${bad.toString("hex")}`);
      assert.throws(() => newServer().respond(bad), kexFailed, `server accepted ${bad.toString("hex")}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// curve25519-sha256 (RFC 8731).

/** RFC 7748 §6.1. */
const RFC7748 = {
  alicePrivate: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  alicePublic: hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
  bobPrivate: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
  bobPublic: hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
  shared: hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
};

/** A Node X25519 private key from its raw 32 bytes (PKCS#8 with the RFC 8410 prefix). */
function x25519Private(raw: Buffer) {
  return createPrivateKey({
    key: Buffer.concat([hex("302e020100300506032b656e04220420"), raw]),
    format: "der",
    type: "pkcs8",
  });
}

function x25519Public(raw: Buffer) {
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: raw.toString("base64url") }, format: "jwk" });
}

test("X25519 through node:crypto reproduces RFC 7748 §6.1, and K is that output as an mpint", () => {
  const alice = x25519Private(RFC7748.alicePrivate);
  const bob = x25519Private(RFC7748.bobPrivate);
  const publicOf = (k: ReturnType<typeof x25519Private>): Buffer =>
    Buffer.from(createPublicKey(k).export({ format: "jwk" }).x!, "base64url");
  assert.deepEqual(publicOf(alice), RFC7748.alicePublic);
  assert.deepEqual(publicOf(bob), RFC7748.bobPublic);
  assert.deepEqual(
    diffieHellman({ privateKey: alice, publicKey: x25519Public(RFC7748.bobPublic) }),
    RFC7748.shared,
  );
  assert.deepEqual(
    diffieHellman({ privateKey: bob, publicKey: x25519Public(RFC7748.alicePublic) }),
    RFC7748.shared,
  );
  // RFC 8731 §3.1: the 32 bytes are an unsigned big-endian integer, encoded as an mpint.
  assert.deepEqual(mpint(RFC7748.shared), hex("00000020" + RFC7748.shared.toString("hex")));
});

for (const name of ["curve25519-sha256", "curve25519-sha256@libssh.org"]) {
  test(`${name}: our side against a peer holding RFC 7748 Bob's key`, () => {
    const method = kex(name);
    assert.equal(method.publicEncoding, "string");
    assert.equal(method.secretEncoding, "mpint");
    const bob = x25519Private(RFC7748.bobPrivate);
    const expected = (ours: Buffer): Buffer =>
      mpint(diffieHellman({ privateKey: bob, publicKey: x25519Public(ours) }));

    const client = method.createClient!();
    assert.equal(client.publicValue.length, 32);
    assert.deepEqual(client.computeSecret(RFC7748.bobPublic), expected(client.publicValue));

    const reply = method.createServer!().respond(RFC7748.bobPublic);
    assert.deepEqual(reply.secret, expected(reply.publicValue));
  });

  test(`${name}: wrong sizes and low-order points are KEX_FAILED`, () => {
    const method = kex(name);
    const client = method.createClient!();
    const one = Buffer.alloc(32);
    one[0] = 1;
    // The order-8 point of RFC 7748's curve (u = 325606250916557431795983626356110631294008115727848805560023387167927233504).
    const order8 = hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
    for (const bad of [
      Buffer.alloc(32),
      one,
      order8,
      RFC7748.bobPublic.subarray(0, 31),
      Buffer.concat([RFC7748.bobPublic, Buffer.alloc(1)]),
      Buffer.alloc(0),
    ]) {
      assert.throws(() => client.computeSecret(bad), kexFailed, `client accepted ${bad.toString("hex")}`);
      assert.throws(
        () => method.createServer!().respond(bad),
        kexFailed,
        `server accepted ${bad.toString("hex")}`,
      );
    }
  });
}
