import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createHmac } from "node:crypto";
import { chacha20orig } from "@noble/ciphers/chacha.js";
import { CIPHERS, cipherByName } from "../../src/crypto/ciphers.js";
import { MACS, macByName } from "../../src/crypto/macs.js";
import {
  MAX_PACKET_LENGTH,
  PLAINTEXT_SEALER,
  createPacketOpener,
  createPacketSealer,
  createPlaintextOpener,
} from "../../src/crypto/packetProtection.js";
import type { CipherAlgorithm, MacAlgorithm, PacketOpener, PacketSealer } from "../../src/crypto/types.js";
import { SshError } from "../../src/wire/index.js";
import type { SshErrorCode } from "../../src/wire/index.js";

// ---- deterministic test data -----------------------------------------------------------------------

const prng = createCipheriv("aes-128-ctr", Buffer.alloc(16, 0x5a), Buffer.alloc(16));
function bytes(n: number): Buffer {
  return prng.update(Buffer.alloc(n));
}

const LENGTH_CODES: SshErrorCode[] = ["MALFORMED", "BAD_PADDING", "PACKET_TOO_LARGE"];

/** uint32 packet_length || padding_length || payload || padding, aligned as the layout requires. */
function buildPacket(payload: Buffer, blockSize: number, lengthExcluded: boolean): Buffer {
  const bs = Math.max(blockSize, 8);
  const unpadded = (lengthExcluded ? 1 : 5) + payload.length;
  let padding = bs - (unpadded % bs);
  if (padding < 4) padding += bs;
  const packet = Buffer.alloc(5 + payload.length + padding);
  packet.writeUInt32BE(packet.length - 4, 0);
  packet[4] = padding;
  payload.copy(packet, 5);
  bytes(padding).copy(packet, 5 + payload.length);
  return packet;
}

function packetFor(sealer: PacketSealer, payloadLength: number): Buffer {
  return buildPacket(bytes(payloadLength), sealer.blockSize, sealer.lengthExcludedFromPadding);
}

interface Combo {
  label: string;
  cipher: CipherAlgorithm;
  mac: MacAlgorithm | null;
}

const COMBOS: Combo[] = CIPHERS.flatMap((cipher): Combo[] =>
  cipher.aead
    ? [{ label: cipher.name, cipher, mac: null }]
    : MACS.map((mac) => ({ label: `${cipher.name} + ${mac.name}`, cipher, mac })),
);

interface Keys {
  key: Buffer;
  iv: Buffer;
  macKey: Buffer | null;
}

function keysFor(c: Combo): Keys {
  return {
    key: bytes(c.cipher.keyLength),
    iv: bytes(c.cipher.ivLength),
    macKey: c.mac ? bytes(c.mac.keyLength) : null,
  };
}

function pair(c: Combo, k: Keys): { sealer: PacketSealer; opener: PacketOpener } {
  return {
    sealer: createPacketSealer(c.cipher, c.mac, k.key, k.iv, k.macKey),
    opener: createPacketOpener(c.cipher, c.mac, k.key, k.iv, k.macKey),
  };
}

/** What the transport does: read lengthFieldBytes, learn the length, then open the whole packet. */
function receive(opener: PacketOpener, seq: number, wire: Buffer): Buffer {
  const length = opener.packetLength(seq, wire.subarray(0, opener.lengthFieldBytes));
  assert.equal(wire.length, 4 + length + opener.macLength, "wire length from packetLength()");
  return opener.open(seq, Buffer.from(wire)); // open() decrypts in place: give it a copy
}

/** The same without asserting the framing, for tampered packets: open() must refuse them itself. */
function deliver(opener: PacketOpener, seq: number, wire: Buffer): Buffer {
  opener.packetLength(seq, wire.subarray(0, opener.lengthFieldBytes));
  return opener.open(seq, Buffer.from(wire));
}

function assertSshError(fn: () => unknown, codes: SshErrorCode[], what: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      if (!(e instanceof SshError)) {
        assert.fail(`${what}: expected SshError, got ${e instanceof Error ? e.stack : String(e)}`);
      }
      assert.ok(codes.includes(e.code), `${what}: code ${e.code} not in ${codes.join("/")}`);
      return true;
    },
    what,
  );
}

/** Payload sizes: every small size, then the ones around blocks and channel packets. */
const SIZES = [
  ...Array.from({ length: 40 }, (_, i) => i),
  63,
  64,
  65,
  255,
  256,
  1000,
  4095,
  16384,
  32768,
  65536,
  200_000,
];

// ---- round trips -----------------------------------------------------------------------------------

test("algorithm lists: names, lengths and lookups", () => {
  assert.equal(COMBOS.length, 3 + 7 * 6);
  for (const c of CIPHERS) assert.equal(cipherByName(c.name), c);
  for (const m of MACS) assert.equal(macByName(m.name), m);
  assert.equal(cipherByName("arcfour"), undefined);
  assert.equal(macByName("hmac-md5"), undefined);
  const chacha = cipherByName("chacha20-poly1305@openssh.com")!;
  assert.deepEqual([chacha.keyLength, chacha.ivLength, chacha.blockSize, chacha.aead], [64, 0, 8, true]);
  const gcm = cipherByName("aes256-gcm@openssh.com")!;
  assert.deepEqual([gcm.keyLength, gcm.ivLength, gcm.blockSize, gcm.aead], [32, 12, 16, true]);
  const des = cipherByName("3des-cbc")!;
  assert.deepEqual([des.keyLength, des.ivLength, des.blockSize, des.weak], [24, 8, 8, true]);
  assert.deepEqual(
    CIPHERS.filter((c) => c.weak).map((c) => c.name),
    ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"],
  );
  assert.ok(MACS.every((m) => !m.weak && m.keyLength === m.digestLength));
});

for (const c of COMBOS) {
  test(`round trip: ${c.label}`, () => {
    const { sealer, opener } = pair(c, keysFor(c));
    assert.equal(opener.blockSize, sealer.blockSize);
    assert.equal(opener.macLength, sealer.macLength);
    assert.equal(sealer.macLength, c.mac ? c.mac.digestLength : 16);
    const encryptAndMac = !c.cipher.aead && !c.mac!.etm;
    assert.equal(sealer.lengthExcludedFromPadding, !encryptAndMac);
    assert.equal(opener.lengthFieldBytes, encryptAndMac ? c.cipher.blockSize : 4);
    // Start just below 2^32 so that the sequence number wraps (RFC 4253 §6.4).
    let seq = 0xfffffff8;
    for (const size of SIZES) {
      const packet = packetFor(sealer, size);
      const original = Buffer.from(packet);
      const wire = sealer.seal(seq, packet);
      assert.equal(wire.length, packet.length + sealer.macLength);
      assert.ok(!wire.subarray(5, 5 + size).equals(original.subarray(5, 5 + size)) || size < 4, "encrypted");
      const plain = receive(opener, seq, wire);
      assert.ok(plain.equals(original), `packet of payload ${size} at seq ${seq}`);
      seq = (seq + 1) >>> 0;
    }
  });
}

test("a sealed 32 KiB packet is exactly 4 + packet_length + macLength on the wire", () => {
  for (const c of COMBOS) {
    const { sealer } = pair(c, keysFor(c));
    const packet = packetFor(sealer, 32 * 1024);
    const packetLength = packet.readUInt32BE(0);
    const wire = sealer.seal(3, packet);
    assert.equal(wire.length, 4 + packetLength + sealer.macLength, c.label);
  }
});

test("plaintext sealer and opener (before the first NEWKEYS)", () => {
  const opener = createPlaintextOpener();
  assert.deepEqual(
    [PLAINTEXT_SEALER.blockSize, PLAINTEXT_SEALER.macLength, PLAINTEXT_SEALER.lengthExcludedFromPadding],
    [8, 0, false],
  );
  assert.deepEqual([opener.blockSize, opener.macLength, opener.lengthFieldBytes], [8, 0, 4]);
  for (const size of [0, 1, 7, 100, 5000]) {
    const packet = buildPacket(bytes(size), 8, false);
    const wire = PLAINTEXT_SEALER.seal(0, packet);
    assert.ok(receive(opener, 0, wire).equals(packet));
  }
  const misaligned = Buffer.alloc(4 + 13);
  misaligned.writeUInt32BE(13, 0);
  misaligned[4] = 4;
  assertSshError(() => opener.packetLength(0, misaligned), ["BAD_PADDING"], "misaligned plaintext");
  assertSshError(() => PLAINTEXT_SEALER.seal(0, misaligned), ["PROTOCOL"], "sealing a misaligned packet");
  const badPadding = buildPacket(bytes(10), 8, false);
  badPadding[4] = 3;
  assertSshError(() => opener.open(0, badPadding), ["BAD_PADDING"], "padding_length < 4");
  badPadding[4] = 255;
  assertSshError(() => opener.open(0, badPadding), ["BAD_PADDING"], "padding_length > packet_length - 1");
});

// ---- tampering ---------------------------------------------------------------------------------------

/** A fresh pair that has already carried `before` packets, and the next packet sealed. */
function primed(c: Combo, k: Keys, before = 2) {
  const { sealer, opener } = pair(c, k);
  let seq = 40;
  for (let i = 0; i < before; i++, seq++) receive(opener, seq, sealer.seal(seq, packetFor(sealer, 50 + i)));
  const packet = packetFor(sealer, 100);
  const wire = sealer.seal(seq, Buffer.from(packet));
  return { sealer, opener, seq, packet, wire };
}

for (const c of COMBOS) {
  test(`tampering is refused with SshError: ${c.label}`, () => {
    const k = keysFor(c);
    const cbcEncryptAndMac = !c.cipher.aead && !c.mac!.etm && c.cipher.name.endsWith("-cbc");

    // Sanity: the untouched packet opens.
    const ok = primed(c, k);
    assert.ok(receive(ok.opener, ok.seq, ok.wire).equals(ok.packet));

    // A bit flipped anywhere after the length: payload, padding_length, padding, or the MAC/tag.
    for (const offset of [4, 5, 20, -17, -1]) {
      const { opener, seq, wire } = primed(c, k);
      const at = offset < 0 ? wire.length + offset : offset;
      wire[at]! ^= 0x01;
      // Under encrypt-and-MAC CBC a flip in the first block garbles the decrypted length too.
      const codes: SshErrorCode[] = cbcEncryptAndMac ? ["MAC", ...LENGTH_CODES] : ["MAC"];
      assertSshError(() => deliver(opener, seq, wire), codes, `bit flipped at ${offset}`);
    }

    // A flipped low bit misaligns the length (or, under CBC, garbles the first block).
    {
      const { opener, seq, wire } = primed(c, k);
      wire[3]! ^= 0x01;
      assertSshError(() => deliver(opener, seq, wire), [...LENGTH_CODES, "MAC"], "length misaligned");
    }
    // A high bit makes it huge.
    {
      const { opener, seq, wire } = primed(c, k);
      wire[0]! ^= 0x80;
      assertSshError(() => deliver(opener, seq, wire), [...LENGTH_CODES, "MAC"], "length huge");
    }
    // A length changed by one block stays plausible: the transport reads that many bytes; the MAC fails.
    {
      const { opener, seq, wire } = primed(c, k);
      const flipped = Buffer.from(wire);
      flipped[3]! ^= opener.blockSize;
      let length: number;
      try {
        length = opener.packetLength(seq, flipped.subarray(0, opener.lengthFieldBytes));
      } catch (e) {
        assert.ok(cbcEncryptAndMac && e instanceof SshError && LENGTH_CODES.includes(e.code), String(e));
        length = -1;
      }
      if (length >= 0) {
        const reframed = Buffer.alloc(4 + length + opener.macLength);
        flipped.copy(reframed, 0, 0, Math.min(flipped.length - opener.macLength, 4 + length));
        wire.copy(reframed, reframed.length - opener.macLength, wire.length - opener.macLength);
        const codes: SshErrorCode[] = cbcEncryptAndMac ? ["MAC", ...LENGTH_CODES] : ["MAC"];
        assertSshError(() => opener.open(seq, reframed), codes, "length off by one block");
      }
    }

    // The wrong sequence number. AES-GCM does not use it: its nonce is the invocation counter.
    if (!c.cipher.name.includes("-gcm@")) {
      const { opener, seq, wire } = primed(c, k);
      assertSshError(() => deliver(opener, seq + 1, wire), ["MAC", ...LENGTH_CODES], "wrong seq");
    }

    // A packet lost in between: the receiver opens the next one with the sequence number it expects.
    {
      const { sealer, opener, seq, wire: lost } = primed(c, k);
      const next = sealer.seal(seq + 1, packetFor(sealer, 30));
      assert.ok(lost.length > 0);
      assertSshError(() => deliver(opener, seq, next), ["MAC", ...LENGTH_CODES], "dropped packet");
    }
    // A packet replayed: the receiver's sequence number has moved on.
    {
      const { opener, seq, wire } = primed(c, k);
      deliver(opener, seq, wire);
      assertSshError(() => deliver(opener, seq + 1, wire), ["MAC", ...LENGTH_CODES], "replayed packet");
    }

    // A truncated or over-long buffer given to open().
    {
      const { opener, seq, wire } = primed(c, k);
      opener.packetLength(seq, wire.subarray(0, opener.lengthFieldBytes));
      assertSshError(() => opener.open(seq, wire.subarray(0, wire.length - 1)), ["MALFORMED"], "short");
    }
  });
}

test("random garbage gives SshError, never TypeError or RangeError", () => {
  const lengths = [0, 1, 3, 4, 8, 15, 16, 17, 31, 32, 48, 64, 100, 1000];
  for (const c of COMBOS) {
    const k = keysFor(c);
    for (const n of lengths) {
      for (let i = 0; i < 3; i++) {
        const garbage = bytes(n);
        const opener = pair(c, k).opener;
        // Garbage may by chance decrypt to a plausible length; anything else must be an SshError.
        try {
          const length = opener.packetLength(1, garbage);
          assert.ok(length >= 5 && length <= MAX_PACKET_LENGTH, `${c.label}: ${length}`);
        } catch (e) {
          assert.ok(e instanceof SshError && LENGTH_CODES.includes(e.code), `${c.label}: ${String(e)}`);
        }
        assertSshError(() => pair(c, k).opener.open(1, garbage), ["MAC", ...LENGTH_CODES], `${c.label} open`);
      }
    }
    // A plausible length in clear with garbage after it.
    const opener = pair(c, k).opener;
    if (opener.lengthFieldBytes === 4 && !c.cipher.name.startsWith("chacha")) {
      const wire = bytes(4 + 64 + opener.macLength);
      wire.writeUInt32BE(64, 0);
      assertSshError(() => opener.open(1, wire), ["MAC"], `${c.label} forged`);
    }
  }
});

test("an empty encrypted part is refused under GCM and ChaCha20-Poly1305 (cf. CVE-2021-43565)", () => {
  for (const name of ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"]) {
    const c = { label: name, cipher: cipherByName(name)!, mac: null };
    const k = keysFor(c);
    const { opener } = pair(c, k);
    const wire = Buffer.alloc(4 + 16);
    if (name.startsWith("chacha")) {
      // packet_length 0 encrypted under K_1 (the last 32 key bytes), nonce = seq 9.
      const nonce = Buffer.alloc(8);
      nonce.writeUInt32BE(9, 4);
      Buffer.from(chacha20orig(k.key.subarray(32), nonce, new Uint8Array(4))).copy(wire);
    }
    assertSshError(() => opener.packetLength(9, wire), ["MALFORMED"], `${name} length 0`);
    assertSshError(() => opener.open(9, wire), ["MALFORMED"], `${name} open length 0`);
  }
});

test("packetLength() may be asked twice for one packet without losing the cipher state", () => {
  for (const c of COMBOS) {
    const { sealer, opener } = pair(c, keysFor(c));
    for (let seq = 0; seq < 4; seq++) {
      const packet = packetFor(sealer, 20 + seq * 33);
      const wire = sealer.seal(seq, Buffer.from(packet));
      const first = wire.subarray(0, opener.lengthFieldBytes);
      assert.equal(opener.packetLength(seq, first), packet.length - 4, c.label);
      assert.equal(opener.packetLength(seq, Buffer.from(first)), packet.length - 4, c.label);
      assert.ok(receive(opener, seq, wire).equals(packet), c.label);
    }
  }
});

test("sealers and factories refuse misuse with SshError", () => {
  const ctr = cipherByName("aes128-ctr")!;
  const mac = macByName("hmac-sha2-256")!;
  assertSshError(
    () => createPacketSealer(ctr, null, Buffer.alloc(16), Buffer.alloc(16), null),
    ["UNSUPPORTED"],
    "no MAC",
  );
  assertSshError(
    () => createPacketOpener(ctr, mac, Buffer.alloc(15), Buffer.alloc(16), Buffer.alloc(32)),
    ["KEX_FAILED"],
    "short key",
  );
  assertSshError(
    () => createPacketOpener(ctr, mac, Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(31)),
    ["KEX_FAILED"],
    "short MAC key",
  );
  const unknown = { ...ctr, name: "twofish-ctr" };
  assertSshError(
    () => createPacketSealer(unknown, mac, Buffer.alloc(16), Buffer.alloc(16), Buffer.alloc(32)),
    ["UNSUPPORTED"],
    "unknown cipher",
  );
  for (const c of COMBOS) {
    const { sealer } = pair(c, keysFor(c));
    const packet = packetFor(sealer, 10);
    const misaligned = Buffer.concat([packet, Buffer.alloc(1)]);
    misaligned.writeUInt32BE(misaligned.length - 4, 0);
    assertSshError(() => sealer.seal(0, misaligned), ["PROTOCOL"], `${c.label} misaligned`);
    const wrongLength = Buffer.from(packet);
    wrongLength.writeUInt32BE(packet.length, 0);
    assertSshError(() => sealer.seal(0, wrongLength), ["PROTOCOL"], `${c.label} wrong length`);
  }
  assert.equal(MAX_PACKET_LENGTH, 256 * 1024);
});

// ---- known answers and independent implementations ----------------------------------------------------

test("chacha20-poly1305@openssh.com: the worked example of draft-ietf-sshm-chacha20-poly1305 Appendix A", () => {
  const key = Buffer.from(
    "8bbff6855fc102338c373e73aac0c914f076a905b2444a32eecaffeae22becc5" +
      "e9b7a7a5825a8249346ec1c28301cf394543fc7569887d76e168f37562ac0740",
    "hex",
  );
  const packet = Buffer.concat([
    Buffer.from("00000048065e00000000000000", "hex"),
    Buffer.from("8Lorem ipsum dolor sit amet, consectetur adipisicing elit"),
    Buffer.from("4e43e804dc6c", "hex"),
  ]);
  const expected =
    "2c3ecce4" + // encrypted packet_length
    "a5bc05895bf07a7ba956b6c68829ac7c83b780b7000ecde745afc705bbc378ce" +
    "03a280236b87b53bed5839662302b164b6286a48cd1e097138e3cb909b8b2b82" +
    "9dd18d2a35ff82d9" +
    "95349e855bf02c298ef775f2d1a7e8b8"; // Poly1305 tag
  const cipher = cipherByName("chacha20-poly1305@openssh.com")!;
  const sealer = createPacketSealer(cipher, null, key, Buffer.alloc(0), null);
  const wire = sealer.seal(7, Buffer.from(packet));
  assert.equal(wire.toString("hex"), expected);
  const opener = createPacketOpener(cipher, null, key, Buffer.alloc(0), null);
  assert.equal(opener.packetLength(7, wire), 0x48);
  assert.ok(opener.open(7, wire).equals(packet));
});

/** Poly1305 (RFC 8439 §2.5) with BigInt: slow, obviously correct, independent of @noble. */
function poly1305Reference(message: Uint8Array, key: Uint8Array): Buffer {
  const le = (b: Uint8Array): bigint => BigInt("0x" + (Buffer.from(b).reverse().toString("hex") || "0"));
  const p = (1n << 130n) - 5n;
  const r = le(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(key.subarray(16, 32));
  let acc = 0n;
  for (let i = 0; i < message.length; i += 16) {
    const block = message.subarray(i, i + 16);
    acc = ((acc + le(block) + (1n << BigInt(8 * block.length))) * r) % p;
  }
  const tag = (acc + s) & ((1n << 128n) - 1n);
  return Buffer.from(tag.toString(16).padStart(32, "0"), "hex").reverse();
}

test("chacha20-poly1305@openssh.com matches an independent construction (@noble ChaCha20, BigInt Poly1305)", () => {
  const cipher = cipherByName("chacha20-poly1305@openssh.com")!;
  const key = bytes(64);
  const sealer = createPacketSealer(cipher, null, key, Buffer.alloc(0), null);
  const k2 = key.subarray(0, 32);
  const k1 = key.subarray(32, 64);
  for (const [seq, size] of [
    [0, 0],
    [1, 13],
    [2, 50],
    [0x01020304, 700],
    // Either side of the longest payload ChaCha20 runs in WebAssembly for (chacha20.ts), then OpenSSL's.
    [3, 1000],
    [4, 1010],
    [5, 1020],
    [6, 1030],
    [0xffffffff, 33000],
  ] as const) {
    const packet = packetFor(sealer, size);
    const wire = sealer.seal(seq, Buffer.from(packet));
    const nonce = Buffer.alloc(8);
    nonce.writeUInt32BE(seq, 4); // uint64 big-endian sequence number
    const encLength = chacha20orig(k1, nonce, packet.subarray(0, 4)); // counter 0
    const polyKey = chacha20orig(k2, nonce, new Uint8Array(32)); // counter 0
    const encRest = chacha20orig(k2, nonce, packet.subarray(4), undefined, 1); // from counter 1
    const body = Buffer.concat([encLength, encRest]);
    const expected = Buffer.concat([body, poly1305Reference(body, polyKey)]);
    assert.equal(wire.toString("hex"), expected.toString("hex"), `seq ${seq} size ${size}`);
  }
});

test("AES-GCM matches Node's raw AES-GCM with the RFC 5647 nonce, including the counter carry", () => {
  for (const name of ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]) {
    const cipher = cipherByName(name)!;
    const key = bytes(cipher.keyLength);
    const iv = Buffer.concat([bytes(4), Buffer.from("00000000fffffffe", "hex")]);
    const sealer = createPacketSealer(cipher, null, key, iv, null);
    let counter = BigInt("0x" + iv.subarray(4).toString("hex"));
    for (let i = 0; i < 4; i++) {
      const packet = packetFor(sealer, 100 * i);
      const wire = sealer.seal(1000 + i, Buffer.from(packet));
      const nonce = Buffer.concat([
        iv.subarray(0, 4),
        Buffer.from(counter.toString(16).padStart(16, "0"), "hex"),
      ]);
      const raw = createCipheriv(name.startsWith("aes128") ? "aes-128-gcm" : "aes-256-gcm", key, nonce);
      raw.setAAD(packet.subarray(0, 4));
      const body = Buffer.concat([raw.update(packet.subarray(4)), raw.final()]);
      const expected = Buffer.concat([packet.subarray(0, 4), body, raw.getAuthTag()]);
      assert.equal(wire.toString("hex"), expected.toString("hex"), `${name} packet ${i}`);
      counter = (counter + 1n) & 0xffffffffffffffffn;
    }
  }
});

test("CTR/CBC with HMAC match one continuous raw cipher stream and an independent HMAC", () => {
  const cases: [string, string, string][] = [
    ["aes128-ctr", "aes-128-ctr", "hmac-sha2-256-etm@openssh.com"],
    ["aes256-ctr", "aes-256-ctr", "hmac-sha2-512"],
    ["aes192-cbc", "aes-192-cbc", "hmac-sha1-etm@openssh.com"],
    ["aes256-cbc", "aes-256-cbc", "hmac-sha2-256"],
    ["3des-cbc", "des-ede3-cbc", "hmac-sha1"],
  ];
  for (const [name, openssl, macName] of cases) {
    const cipher = cipherByName(name)!;
    const mac = macByName(macName)!;
    const hash = macName.includes("512") ? "sha512" : macName.includes("256") ? "sha256" : "sha1";
    const key = bytes(cipher.keyLength);
    const iv = bytes(cipher.ivLength);
    const macKey = bytes(mac.keyLength);
    const sealer = createPacketSealer(cipher, mac, key, iv, macKey);
    const raw = createCipheriv(openssl, key, iv).setAutoPadding(false);
    for (let seq = 0; seq < 6; seq++) {
      // The last packet is larger than one update() of a sealer (MAX_UPDATE_BYTES): its split is invisible.
      const packet = packetFor(sealer, seq === 5 ? 100_000 : seq * 77);
      const wire = sealer.seal(seq, Buffer.from(packet));
      const seqBytes = Buffer.alloc(4);
      seqBytes.writeUInt32BE(seq);
      let expected: Buffer;
      if (mac.etm) {
        // PROTOCOL §1.5: length in clear, MAC over seq || length || ciphertext.
        const body = Buffer.concat([packet.subarray(0, 4), raw.update(packet.subarray(4))]);
        const tag = createHmac(hash, macKey).update(seqBytes).update(body).digest();
        expected = Buffer.concat([body, tag]);
      } else {
        // RFC 4253 §6.4: everything encrypted, MAC over seq || plaintext.
        const tag = createHmac(hash, macKey).update(seqBytes).update(packet).digest();
        expected = Buffer.concat([raw.update(packet), tag]);
      }
      assert.equal(wire.toString("hex"), expected.toString("hex"), `${name} + ${macName} seq ${seq}`);
    }
  }
});
