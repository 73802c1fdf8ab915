import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { CIPHERS } from "../../src/crypto/ciphers.js";
import { MACS } from "../../src/crypto/macs.js";
import {
  createPacketOpener,
  createPacketSealer,
  restorePacketOpener,
  restorePacketSealer,
} from "../../src/crypto/packetProtection.js";
import type { CipherAlgorithm, MacAlgorithm, PacketOpener, PacketSealer } from "../../src/crypto/types.js";

// A direction exported mid-stream and restored elsewhere must go on exactly as the original would have:
// same wire bytes from the sealer, and an opener that accepts what the original sealer sends next.

function packet(sealer: PacketSealer, payloadLength: number): Buffer {
  const block = Math.max(sealer.blockSize, 8);
  const aligned = (sealer.lengthExcludedFromPadding ? 1 : 5) + payloadLength;
  let pad = block - (aligned % block);
  if (pad < 4) pad += block;
  const p = Buffer.alloc(4 + 1 + payloadLength + pad, 7);
  p.writeUInt32BE(1 + payloadLength + pad, 0);
  p[4] = pad;
  randomBytes(payloadLength).copy(p, 5);
  return p;
}

function open(opener: PacketOpener, seq: number, wire: Buffer): Buffer {
  opener.packetLength(seq, wire.subarray(0, opener.lengthFieldBytes));
  return opener.open(seq, Buffer.from(wire));
}

const combos = CIPHERS.flatMap((cipher): { cipher: CipherAlgorithm; mac: MacAlgorithm | null }[] =>
  cipher.aead
    ? [{ cipher, mac: null }]
    : MACS.filter((m) => m.name.startsWith("hmac-sha2-256")).map((mac) => ({ cipher, mac })),
);

for (const { cipher, mac } of combos) {
  test(`${cipher.name}${mac ? " + " + mac.name : ""}: exported state continues the stream`, () => {
    const key = randomBytes(cipher.keyLength);
    const iv = randomBytes(cipher.ivLength);
    const macKey = mac ? randomBytes(mac.keyLength) : null;
    const sealer = createPacketSealer(cipher, mac, key, iv, macKey);
    const opener = createPacketOpener(cipher, mac, key, iv, macKey);
    let seq = 0;
    for (const size of [0, 1, 100, 32768, 5]) {
      const p = packet(sealer, size);
      const plain = Buffer.from(p);
      assert.deepEqual(open(opener, seq, sealer.seal(seq, p)), plain);
      seq++;
    }
    const sealerCopy = restorePacketSealer(sealer.exportState!());
    const openerCopy = restorePacketOpener(opener.exportState!());
    for (const size of [3, 32768, 77]) {
      const p = packet(sealer, size);
      const plain = Buffer.from(p);
      const wire = sealer.seal(seq, Buffer.from(p));
      assert.deepEqual(sealerCopy.seal(seq, Buffer.from(p)), wire, "restored sealer sends the same bytes");
      assert.deepEqual(open(openerCopy, seq, wire), plain, "restored opener reads the original's packets");
      seq++;
    }
  });
}

test("a packet whose length was read but not opened is left to the new owner", () => {
  const cipher = CIPHERS.find((c) => c.name === "aes128-ctr")!;
  const mac = MACS.find((m) => m.name === "hmac-sha2-256")!; // encrypt-and-MAC: the length is encrypted
  const key = randomBytes(16);
  const iv = randomBytes(16);
  const macKey = randomBytes(32);
  const sealer = createPacketSealer(cipher, mac, key, iv, macKey);
  const opener = createPacketOpener(cipher, mac, key, iv, macKey);
  const p = packet(sealer, 40);
  const plain = Buffer.from(p);
  const wire = sealer.seal(0, p);
  opener.packetLength(0, wire.subarray(0, opener.lengthFieldBytes)); // the reader peeked, then handed over
  const copy = restorePacketOpener(opener.exportState!());
  assert.deepEqual(open(copy, 0, wire), plain);
});
