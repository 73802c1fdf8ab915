/**
 * sealPieces(): the AEAD and encrypt-then-MAC sealers take a packet in pieces (its header, views of the
 * channel data, its padding) and encrypt each where it lies. For every such cipher and MAC, a run of
 * packets split at awkward places (inside a block, one-byte pieces, empty pieces) gives exactly the wire
 * bytes seal() gives for the joined packets, and the opener of the same keys opens them; a packet whose
 * pieces do not add up to its packet_length, or are not padded to the block size, is refused.
 */
import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import { test } from "node:test";
import { CIPHERS } from "../../src/crypto/ciphers.js";
import { MACS } from "../../src/crypto/macs.js";
import { createPacketOpener, createPacketSealer } from "../../src/crypto/packetProtection.js";
import type { CipherAlgorithm, MacAlgorithm, PacketSealer } from "../../src/crypto/types.js";
import { SshError } from "../../src/wire/index.js";

type PieceSealer = PacketSealer & { sealPieces?(seq: number, pieces: readonly Buffer[]): Buffer[] };

const prng = createCipheriv("aes-128-ctr", Buffer.alloc(16, 0x33), Buffer.alloc(16));
const bytes = (n: number): Buffer => prng.update(Buffer.alloc(n));

function buildPacket(payloadLength: number, blockSize: number): Buffer {
  const bs = Math.max(blockSize, 8);
  let padding = bs - ((1 + payloadLength) % bs);
  if (padding < 4) padding += bs;
  const packet = Buffer.concat([Buffer.alloc(5), bytes(payloadLength + padding)]);
  packet.writeUInt32BE(packet.length - 4, 0);
  packet[4] = padding;
  return packet;
}

/** `packet` cut at the given offsets (an empty piece where two offsets are equal). */
function cut(packet: Buffer, offsets: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of [...offsets, packet.length]) {
    pieces.push(packet.subarray(from, at));
    from = at;
  }
  return pieces;
}

interface Combo {
  label: string;
  cipher: CipherAlgorithm;
  mac: MacAlgorithm | null;
}
const combos: Combo[] = CIPHERS.flatMap((cipher): Combo[] =>
  cipher.aead
    ? [{ label: cipher.name, cipher, mac: null }]
    : MACS.filter((m) => m.etm).map((mac) => ({ label: `${cipher.name} + ${mac.name}`, cipher, mac })),
);

for (const { label, cipher, mac } of combos) {
  test(`${label}: sealPieces gives seal()'s bytes, and they open`, () => {
    const key = bytes(cipher.keyLength);
    const iv = bytes(cipher.ivLength);
    const macKey = mac ? bytes(mac.keyLength) : null;
    const whole = createPacketSealer(cipher, mac, key, iv, macKey);
    const pieces = createPacketSealer(cipher, mac, key, iv, macKey) as PieceSealer;
    const opener = createPacketOpener(cipher, mac, key, iv, macKey);
    assert.equal(typeof pieces.sealPieces, "function");
    for (const [seq, payloadLength, offsets] of [
      [0, 100, [14]],
      [1, 32_768 + 9, [5, 14, 14, 15, 16, 17, 32_000]],
      [2, 3, [4]],
      [3, 131_072 + 9, [4, 5, 14, 100_001]],
      [4, 1000, [7, 21, 22, 23, 24, 25, 26]],
    ] as Array<[number, number, number[]]>) {
      const packet = buildPacket(payloadLength, whole.blockSize);
      const expected = whole.seal(seq, Buffer.from(packet));
      const wire = Buffer.concat(pieces.sealPieces!(seq, cut(packet, offsets)));
      assert.deepEqual(wire, expected, `packet ${seq}`);
      const body = opener.openBody ? opener.openBody(seq, wire) : opener.open(seq, wire).subarray(4);
      assert.deepEqual(body, packet.subarray(4), `packet ${seq} opens`);
    }
  });
}

test("sealPieces refuses pieces that do not make the packet their length field announces", () => {
  const cipher = CIPHERS.find((c) => c.name === "aes128-gcm@openssh.com")!;
  const sealer = createPacketSealer(cipher, null, bytes(16), bytes(12), null) as PieceSealer;
  const packet = buildPacket(100, sealer.blockSize);
  assert.throws(() => sealer.sealPieces!(0, cut(packet, [20]).slice(0, 1)), SshError);
  assert.throws(() => sealer.sealPieces!(0, [packet.subarray(0, 3), packet.subarray(3)]), SshError);
  const misaligned = Buffer.concat([packet, Buffer.alloc(1)]);
  misaligned.writeUInt32BE(misaligned.length - 4, 0);
  assert.throws(() => sealer.sealPieces!(0, [misaligned]), SshError);
});
