/**
 * mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex) and sntrup761x25519-sha512.
 *
 * Known answers used here:
 *  - ML-KEM-768: NIST ACVP-Server vectors (gen-val/json-files, ML-KEM-keyGen-FIPS203 and
 *    ML-KEM-encapDecap-FIPS203, version v1.1.0.40), tgId 2 (ML-KEM-768) tcId 26 of keyGen and of
 *    encapsulation, taken from the copies in github.com/pq-code-package/mlkem-native,
 *    test/acvp_data/acvp_v1.1.0.40_keyGen_prompt.json (commit a00cc0de802ae1a45da312d398bd809d26378b65),
 *    acvp_v1.1.0.40_keyGen_expectedResults.json (bcd852d9858095451de1bdb4b3aca5408b82ce32) and
 *    acvp_v1.1.0.40_encapDecap_{prompt,expectedResults}.json (d7ee35248d35b2b274bf2e76e0c4c2a240121a5c).
 *    Stored in test/fixtures/mlkem/acvp-mlkem768.json.
 *  - X25519: RFC 7748 §6.1 (Alice's and Bob's keys and their shared secret).
 *  - The hybrid combination: no published mlkem768x25519-sha256 vector was found (the draft has none,
 *    nor do the OpenSSH, libssh, Go or russh tests we looked at), so K is computed here independently
 *    from the draft's definition: K = string(SHA-256(K_PQ || K_CL)), K_PQ the ML-KEM shared secret,
 *    K_CL the raw X25519 output; a string, so 4-byte length then the digest, no mpint sign handling.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import {
  hybridKex,
  hybridSecret,
  MLKEM768,
  mlkem768Kem,
  SNTRUP761,
  type HybridEcdh,
  type Kem,
  type KemRandom,
} from "../../src/crypto/kex/hybrid.js";
import { kexByName } from "../../src/crypto/kex/index.js";
import type { KexAlgorithm, KexClientSide, KexServerSide } from "../../src/crypto/types.js";
import { SshError } from "../../src/wire/errors.js";

const hex = (s: string): Buffer => Buffer.from(s, "hex");

interface AcvpVectors {
  keyGen: { d: string; z: string; dk: string };
  encapsulation: { ek: string; m: string; c: string; k: string };
}
const vectors = JSON.parse(
  readFileSync(new URL("../../../test/fixtures/mlkem/acvp-mlkem768.json", import.meta.url), "utf8"),
) as AcvpVectors;

const keyGen = {
  d: hex(vectors.keyGen.d),
  z: hex(vectors.keyGen.z),
  dk: hex(vectors.keyGen.dk),
  // FIPS 203 Algorithm 16: dk = dkPKE (384k bytes) || ek || H(ek) || z.
  ek: hex(vectors.keyGen.dk).subarray(1152, 1152 + 1184),
};
const encaps = {
  ek: hex(vectors.encapsulation.ek),
  m: hex(vectors.encapsulation.m),
  c: hex(vectors.encapsulation.c),
  k: hex(vectors.encapsulation.k),
};

/** RFC 7748 §6.1. */
const RFC7748 = {
  alicePrivate: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  alicePublic: hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
  bobPrivate: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
  bobPublic: hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
  shared: hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"),
};

/** An X25519 private key from its raw 32 bytes (PKCS#8: RFC 8410 prefix, then the key). */
function x25519Private(raw: Buffer): KeyObject {
  const pkcs8Prefix = hex("302e020100300506032b656e04220420");
  return createPrivateKey({ key: Buffer.concat([pkcs8Prefix, raw]), format: "der", type: "pkcs8" });
}

/** The X25519 half with a fixed private key, computing what X25519KeyPair computes. */
function fixedX25519(privateRaw: Buffer): HybridEcdh {
  const privateKey = x25519Private(privateRaw);
  const publicValue = Buffer.from(createPublicKey(privateKey).export({ format: "jwk" }).x!, "base64url");
  return {
    publicValue,
    sharedSecret: (peer) =>
      diffieHellman({
        privateKey,
        publicKey: createPublicKey({
          key: { kty: "OKP", crv: "X25519", x: peer.toString("base64url") },
          format: "jwk",
        }),
      }),
  };
}

/** A random source that hands out the given values in order, each for a request of exactly its size. */
function scripted(...values: Buffer[]): KemRandom {
  const queue = [...values];
  return (n) => {
    const next = queue.shift();
    assert.ok(next, `unexpected request for ${n} random bytes`);
    assert.equal(n, next.length, "random request size");
    return new Uint8Array(next);
  };
}

/** string(digest): uint32 length, then the bytes, as RFC 4251 §5 encodes a string. */
function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** K as the draft defines it, computed without our code. */
function expectedK(hash: "sha256" | "sha512", kemSecret: Uint8Array, x25519Secret: Uint8Array): Buffer {
  return sshString(createHash(hash).update(kemSecret).update(x25519Secret).digest());
}

const kexFailed = (e: unknown): boolean => e instanceof SshError && e.code === "KEX_FAILED";

function single(name: string): {
  kex: KexAlgorithm;
  client: () => KexClientSide;
  server: () => KexServerSide;
} {
  const kex = kexByName(name);
  assert.ok(kex?.createClient && kex.createServer, `${name} is a single-round-trip method`);
  return { kex, client: () => kex.createClient!(), server: () => kex.createServer!() };
}

// ---------------------------------------------------------------------------------------------------
// (a) ML-KEM-768 as the hybrid uses it, against NIST's ACVP vectors.

test("ML-KEM-768 keygen from the ACVP seed d || z reproduces ek and dk (tcId 26)", () => {
  const { publicKey, secretKey } = ml_kem768.keygen(Buffer.concat([keyGen.d, keyGen.z]));
  assert.equal(Buffer.from(secretKey).toString("hex"), keyGen.dk.toString("hex"));
  assert.equal(Buffer.from(publicKey).toString("hex"), keyGen.ek.toString("hex"));
  // The dk layout the slice above relies on: ... || H(ek) || z.
  assert.deepEqual(keyGen.dk.subarray(2336, 2368), createHash("sha3-256").update(keyGen.ek).digest());
  assert.deepEqual(keyGen.dk.subarray(2368), keyGen.z);
});

test("the hybrid's ML-KEM-768 draws d || z in one 64-byte request and reproduces the ACVP key", () => {
  const kem = mlkem768Kem(scripted(Buffer.concat([keyGen.d, keyGen.z])));
  assert.equal(kem.publicKeyBytes, 1184);
  assert.equal(kem.ciphertextBytes, 1088);
  const { publicKey, secretKey } = kem.keyPair();
  assert.deepEqual(Buffer.from(publicKey), keyGen.ek);
  assert.deepEqual(Buffer.from(secretKey), keyGen.dk);
});

test("ML-KEM-768 encapsulation with the ACVP message m reproduces c and K (tcId 26)", () => {
  const direct = ml_kem768.encapsulate(encaps.ek, encaps.m);
  assert.equal(Buffer.from(direct.cipherText).toString("hex"), encaps.c.toString("hex"));
  assert.equal(Buffer.from(direct.sharedSecret).toString("hex"), encaps.k.toString("hex"));

  const kem = mlkem768Kem(scripted(encaps.m));
  const ours = kem.encapsulate(encaps.ek);
  assert.deepEqual(Buffer.from(ours.ciphertext), encaps.c);
  assert.deepEqual(Buffer.from(ours.sharedSecret), encaps.k);
});

test("ML-KEM-768 decapsulation with the ACVP key: the right secret, and implicit rejection otherwise", () => {
  const { ciphertext, sharedSecret } = mlkem768Kem(scripted(encaps.m)).encapsulate(keyGen.ek);
  assert.deepEqual(MLKEM768.decapsulate(ciphertext, keyGen.dk), sharedSecret);
  // FIPS 203 Algorithm 18: a ciphertext that does not re-encrypt to itself yields J(z || c) = SHAKE256(z || c, 32).
  const tampered = Uint8Array.from(ciphertext);
  tampered[100]! ^= 0x01;
  const rejection = createHash("shake256", { outputLength: 32 }).update(keyGen.z).update(tampered).digest();
  assert.deepEqual(Buffer.from(MLKEM768.decapsulate(tampered, keyGen.dk)), rejection);
  assert.notDeepEqual(Buffer.from(MLKEM768.decapsulate(tampered, keyGen.dk)), Buffer.from(sharedSecret));
});

// ---------------------------------------------------------------------------------------------------
// (b) The shared-secret encoding.

test("X25519 with fixed keys reproduces RFC 7748 §6.1 (the fixed half used below)", () => {
  const alice = fixedX25519(RFC7748.alicePrivate);
  const bob = fixedX25519(RFC7748.bobPrivate);
  assert.deepEqual(alice.publicValue, RFC7748.alicePublic);
  assert.deepEqual(bob.publicValue, RFC7748.bobPublic);
  assert.deepEqual(alice.sharedSecret(RFC7748.bobPublic), RFC7748.shared);
  assert.deepEqual(bob.sharedSecret(RFC7748.alicePublic), RFC7748.shared);
});

test("K = string(SHA-256(K_PQ || K_CL)) for the ACVP ML-KEM secret and the RFC 7748 X25519 secret", () => {
  const k = hybridSecret("sha256", encaps.k, RFC7748.shared);
  const digest = createHash("sha256").update(encaps.k).update(RFC7748.shared).digest();
  assert.deepEqual(k, Buffer.concat([hex("00000020"), digest]));
  // Order matters: the KEM secret first.
  assert.notDeepEqual(k, expectedK("sha256", RFC7748.shared, encaps.k));
  // sntrup761x25519-sha512 uses the same construction with SHA-512.
  assert.deepEqual(
    hybridSecret("sha512", encaps.k, RFC7748.shared),
    Buffer.concat([hex("00000040"), createHash("sha512").update(encaps.k).update(RFC7748.shared).digest()]),
  );
});

test("K is a string, not an mpint: leading zero bytes stay and no sign byte is added", () => {
  let leadingZero: Buffer | undefined;
  let highBit: Buffer | undefined;
  for (let i = 0; !(leadingZero && highBit); i++) {
    const kemSecret = Buffer.alloc(32);
    kemSecret.writeUInt32BE(i);
    const digest = createHash("sha256").update(kemSecret).update(RFC7748.shared).digest();
    if (digest[0] === 0 && !leadingZero) leadingZero = kemSecret;
    if (digest[0]! >= 0x80 && !highBit) highBit = kemSecret;
  }
  for (const kemSecret of [leadingZero, highBit]) {
    const k = hybridSecret("sha256", kemSecret, RFC7748.shared);
    assert.equal(k.length, 36);
    assert.equal(k.readUInt32BE(0), 32);
    assert.deepEqual(k, expectedK("sha256", kemSecret, RFC7748.shared));
  }
});

test("with fixed randomness the hybrid's Q_C, Q_S and K are the published values combined", () => {
  const alice = fixedX25519(RFC7748.alicePrivate);
  const bob = fixedX25519(RFC7748.bobPrivate);

  // Client: ML-KEM key from the ACVP keyGen seeds, X25519 key Alice's. Q_C = ek || X25519 public.
  const clientKex = hybridKex(
    "mlkem768x25519-sha256",
    mlkem768Kem(scripted(Buffer.concat([keyGen.d, keyGen.z]))),
    "sha256",
    () => alice,
  );
  const client = clientKex.createClient!();
  assert.deepEqual(client.publicValue, Buffer.concat([keyGen.ek, RFC7748.alicePublic]));

  // Server answering the ACVP encapsulation key with the ACVP m, X25519 key Bob's: every input and
  // output of the two primitives is published, so Q_S and K are known answers.
  const serverKex = hybridKex("mlkem768x25519-sha256", mlkem768Kem(scripted(encaps.m)), "sha256", () => bob);
  const reply = serverKex.createServer!().respond(Buffer.concat([encaps.ek, RFC7748.alicePublic]));
  assert.deepEqual(reply.publicValue, Buffer.concat([encaps.c, RFC7748.bobPublic]));
  assert.deepEqual(reply.secret, expectedK("sha256", encaps.k, RFC7748.shared));

  // The same server answering our client: both sides reach the same K, the one the draft defines.
  const server2 = hybridKex("mlkem768x25519-sha256", mlkem768Kem(scripted(encaps.m)), "sha256", () => bob);
  const answer = server2.createServer!().respond(client.publicValue);
  assert.equal(answer.publicValue.length, 1088 + 32);
  assert.deepEqual(answer.publicValue.subarray(1088), RFC7748.bobPublic);
  const kemSecret = ml_kem768.decapsulate(answer.publicValue.subarray(0, 1088), keyGen.dk);
  const k = client.computeSecret(answer.publicValue);
  assert.deepEqual(k, answer.secret);
  assert.deepEqual(k, expectedK("sha256", kemSecret, RFC7748.shared));
});

// ---------------------------------------------------------------------------------------------------
// (c) The methods as negotiated: agreement and refusals.

for (const [name, sizes] of [
  ["mlkem768x25519-sha256", { init: 1184 + 32, reply: 1088 + 32, k: 4 + 32 }],
  ["sntrup761x25519-sha512", { init: 1158 + 32, reply: 1039 + 32, k: 4 + 64 }],
  ["sntrup761x25519-sha512@openssh.com", { init: 1158 + 32, reply: 1039 + 32, k: 4 + 64 }],
] as const) {
  test(`${name}: client and server agree on K`, () => {
    const { kex, client: newClient, server: newServer } = single(name);
    assert.equal(kex.publicEncoding, "string");
    assert.equal(kex.secretEncoding, "string");
    for (let i = 0; i < 2; i++) {
      const client = newClient();
      assert.equal(client.publicValue.length, sizes.init);
      const { publicValue, secret } = newServer().respond(client.publicValue);
      assert.equal(publicValue.length, sizes.reply);
      assert.equal(secret.length, sizes.k);
      assert.equal(secret.readUInt32BE(0), sizes.k - 4);
      assert.deepEqual(client.computeSecret(publicValue), secret);
    }
  });

  test(`${name}: init and reply of the wrong length are KEX_FAILED`, () => {
    const { client: newClient, server: newServer } = single(name);
    const client = newClient();
    const { publicValue } = newServer().respond(client.publicValue);
    for (const reply of [
      publicValue.subarray(0, publicValue.length - 1),
      Buffer.concat([publicValue, Buffer.alloc(1)]),
      publicValue.subarray(0, 32),
      Buffer.alloc(0),
    ]) {
      // A client takes one reply (its KEM key is wiped after it): a fresh one for each.
      assert.throws(
        () => newClient().computeSecret(reply),
        (e: unknown) => kexFailed(e) && /hybrid KEX reply is \d+ bytes/.test((e as Error).message),
      );
    }
    for (const init of [
      client.publicValue.subarray(1),
      Buffer.concat([client.publicValue, Buffer.alloc(1)]),
      client.publicValue.subarray(client.publicValue.length - 32),
    ]) {
      assert.throws(() => newServer().respond(init), kexFailed);
    }
  });

  test(`${name}: an all-zero or low-order X25519 public value is KEX_FAILED`, () => {
    const { client: newClient, server: newServer } = single(name);
    const client = newClient();
    const { publicValue } = newServer().respond(client.publicValue);
    const kemPart = (v: Buffer): Buffer => v.subarray(0, v.length - 32);
    const one = Buffer.alloc(32);
    one[0] = 1; // u = 1 is a low-order point: X25519 with any clamped scalar gives zero
    for (const bad of [Buffer.alloc(32), one]) {
      const fresh = newClient();
      assert.throws(() => fresh.computeSecret(Buffer.concat([kemPart(publicValue), bad])), kexFailed);
      assert.throws(
        () => fresh.computeSecret(publicValue),
        (e: unknown) => kexFailed(e) && /KEM key was used already/.test((e as Error).message),
      );
      assert.throws(() => newServer().respond(Buffer.concat([kemPart(client.publicValue), bad])), kexFailed);
    }
  });
}

test("mlkem768x25519-sha256: an encapsulation key failing the FIPS 203 §7.2 modulus check is KEX_FAILED", () => {
  const { client: newClient, server: newServer } = single("mlkem768x25519-sha256");
  const init = newClient().publicValue;
  // ek = ByteEncode12(t̂) (1152 bytes, two 12-bit little-endian coefficients per 3 bytes) || ρ.
  const firstIsQ = Buffer.from(init);
  firstIsQ[0] = 0x01;
  firstIsQ[1] = (firstIsQ[1]! & 0xf0) | 0x0d; // coefficient 0 = 0xd01 = 3329 = q
  const lastIs4095 = Buffer.from(init);
  lastIs4095[1150] = lastIs4095[1150]! | 0xf0;
  lastIs4095[1151] = 0xff; // coefficient 767 = 0xfff
  for (const bad of [firstIsQ, lastIs4095]) {
    assert.throws(() => ml_kem768.encapsulate(bad.subarray(0, 1184), new Uint8Array(32)));
    assert.throws(
      () => newServer().respond(bad),
      (e: unknown) => {
        assert.ok(kexFailed(e));
        assert.match((e as Error).message, /KEM public key is invalid/);
        return true;
      },
    );
  }
  // q - 1 is still a valid coefficient: the same key with 3328 is accepted.
  const firstIsQMinus1 = Buffer.from(init);
  firstIsQMinus1[0] = 0x00;
  firstIsQMinus1[1] = (firstIsQMinus1[1]! & 0xf0) | 0x0d;
  assert.equal(newServer().respond(firstIsQMinus1).publicValue.length, 1088 + 32);
});

test("a corrupted ciphertext gives the two sides different keys, not an error (implicit rejection)", () => {
  for (const name of ["mlkem768x25519-sha256", "sntrup761x25519-sha512"]) {
    const { client: newClient, server: newServer } = single(name);
    const client = newClient();
    const { publicValue, secret } = newServer().respond(client.publicValue);
    const corrupted = Buffer.from(publicValue);
    corrupted[5]! ^= 0x80;
    const k = client.computeSecret(corrupted);
    assert.equal(k.length, secret.length);
    assert.notDeepEqual(k, secret);
  }
});

test("the exported KEM objects keep their sizes", () => {
  assert.deepEqual([MLKEM768.publicKeyBytes, MLKEM768.ciphertextBytes], [1184, 1088]);
  assert.deepEqual([SNTRUP761.publicKeyBytes, SNTRUP761.ciphertextBytes], [1158, 1039]);
});

test("a client's KEM secret key serves one reply: it is zeroed then, and a second reply is KEX_FAILED", () => {
  for (const kem of [MLKEM768, SNTRUP761]) {
    let secretKey: Uint8Array = new Uint8Array(0);
    const watched: Kem = {
      ...kem,
      keyPair: () => {
        const pair = kem.keyPair();
        secretKey = pair.secretKey;
        return pair;
      },
    };
    const kex = hybridKex("test", watched, "sha256");
    const client = kex.createClient!();
    const { publicValue, secret } = kex.createServer!().respond(client.publicValue);
    assert.ok(secretKey.some((b) => b !== 0));
    assert.deepEqual(client.computeSecret(publicValue), secret);
    assert.ok(
      secretKey.every((b) => b === 0),
      "the KEM secret key is zeroed after use",
    );
    assert.throws(
      () => client.computeSecret(publicValue),
      (e: unknown) => kexFailed(e) && /KEM key was used already/.test((e as Error).message),
    );
  }
});

test("a server given a low-order X25519 point makes no KEM secret: it refuses before encapsulating", () => {
  let encapsulations = 0;
  const watched: Kem = {
    ...MLKEM768,
    encapsulate: (pk) => {
      encapsulations++;
      return MLKEM768.encapsulate(pk);
    },
  };
  const kex = hybridKex("test", watched, "sha256");
  const client = kex.createClient!();
  const lowOrder = Buffer.alloc(32);
  lowOrder[0] = 1;
  const init = Buffer.concat([client.publicValue.subarray(0, MLKEM768.publicKeyBytes), lowOrder]);
  assert.throws(() => kex.createServer!().respond(init), kexFailed);
  assert.equal(encapsulations, 0);
  kex.createServer!().respond(client.publicValue);
  assert.equal(encapsulations, 1, "a good init is encapsulated");
});
