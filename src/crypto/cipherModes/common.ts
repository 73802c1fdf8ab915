/**
 * Checks shared by every packet layout (RFC 4253 §6): the bounds and alignment of packet_length, the
 * padding length, and the shape of what the transport hands to a sealer.
 */
import { SshError } from "../../wire/index.js";

/** The largest packet_length accepted, as OpenSSH's PACKET_MAX_SIZE (RFC 4253 §6.1 asks only 35000). */
export const MAX_PACKET_LENGTH = 256 * 1024;

/** Poly1305 and GCM tags are 16 bytes (PROTOCOL.chacha20poly1305, RFC 5647 §7.3). */
export const AEAD_TAG_LENGTH = 16;

/**
 * Validates packet_length as read (or decrypted) from the wire. `lengthExcluded`: the length is outside
 * the encrypted, block-aligned part (AEAD and -etm modes), so packet_length itself is block-aligned;
 * otherwise 4 + packet_length is (RFC 4253 §6). The minimum of 5 (padding_length byte + 4 bytes of
 * padding) also refuses an empty encrypted part under GCM/ChaCha (cf. CVE-2021-43565).
 */
export function checkPacketLength(length: number, blockSize: number, lengthExcluded: boolean): void {
  if (length < 5) throw new SshError("MALFORMED", `bad packet length ${length}`);
  if (length > MAX_PACKET_LENGTH) {
    throw new SshError("PACKET_TOO_LARGE", `packet length ${length} exceeds ${MAX_PACKET_LENGTH}`);
  }
  const aligned = lengthExcluded ? length : length + 4;
  if (aligned % blockSize !== 0) {
    throw new SshError(
      "BAD_PADDING",
      `packet length ${length} is not a multiple of the block size ${blockSize}`,
    );
  }
}

/** The uint32 at the start of `first`, refusing a buffer too short to hold it. */
export function readLengthField(first: Buffer): number {
  if (first.length < 4) {
    throw new SshError("MALFORMED", `need 4 bytes to read the packet length, got ${first.length}`);
  }
  return first.readUInt32BE(0);
}

/** The wire buffer given to open() must be exactly one packet: 4 + packet_length + MAC. */
export function checkWireLength(wire: Buffer, length: number, macLength: number): void {
  const expected = 4 + length + macLength;
  if (wire.length !== expected) {
    throw new SshError("MALFORMED", `packet buffer holds ${wire.length} bytes, expected ${expected}`);
  }
}

/** After authentication: padding_length must leave a non-negative payload and be at least 4 (RFC 4253 §6). */
export function checkPadding(plain: Buffer): void {
  checkBodyPadding(plain.subarray(4));
}

/** The same for a packet without its length field: padding_length || payload || padding. */
export function checkBodyPadding(body: Buffer): void {
  const length = body.length;
  const padding = body[0]!;
  if (padding < 4 || padding > length - 1) {
    throw new SshError("BAD_PADDING", `bad padding length ${padding} in a packet of length ${length}`);
  }
}

/**
 * A sealer is given uint32 packet_length || padding_length || payload || padding, already aligned. A
 * misaligned packet is a bug in the caller that the peer would report as a corrupt packet, so say so here.
 */
export function checkSealInput(packet: Buffer, blockSize: number, lengthExcluded: boolean): void {
  if (packet.length < 9 || packet.readUInt32BE(0) !== packet.length - 4) {
    throw new SshError("PROTOCOL", "internal error: packet_length does not match the packet to seal");
  }
  const aligned = lengthExcluded ? packet.length - 4 : packet.length;
  if (aligned % blockSize !== 0) {
    throw new SshError("PROTOCOL", `internal error: packet to seal is not padded to ${blockSize} bytes`);
  }
}

/**
 * The same for a packet given in pieces (sealPieces()): the first piece starts with the 4-byte
 * packet_length, and the pieces together are the packet. Returns the first piece.
 */
export function checkSealPieces(
  pieces: readonly Buffer[],
  blockSize: number,
  lengthExcluded: boolean,
): Buffer {
  const first = pieces[0];
  let total = 0;
  for (const p of pieces) total += p.length;
  if (first === undefined || first.length < 4 || total < 9 || first.readUInt32BE(0) !== total - 4) {
    throw new SshError("PROTOCOL", "internal error: packet_length does not match the packet to seal");
  }
  if ((lengthExcluded ? total - 4 : total) % blockSize !== 0) {
    throw new SshError("PROTOCOL", `internal error: packet to seal is not padded to ${blockSize} bytes`);
  }
  return first;
}

/**
 * The most bytes one cipher update() is given when sealing. Node 20's update() sizes its output a block
 * longer than the input and then copies it into a buffer of the right length; with 64 KiB pieces (a
 * command's pipe read, sent whole) glibc's copy ran at a fraction of its speed on this project's machine
 * (perf of nsshd's session process sending 1 GiB with aes128-gcm: the copy 13.5 % of its samples, more
 * than AES-GCM's 10 %), with 32 KiB pieces at full speed (1.3 %; 10-20 % fewer samples in all). The
 * output is the same whatever the split: GCM, CTR and ChaCha20 are stream modes, and OpenSSL's CBC keeps
 * a partial block for the next call.
 */
export const MAX_UPDATE_BYTES = 32 * 1024;

/** `cipher.update(data)`, at most MAX_UPDATE_BYTES at a time; each non-empty output goes to `out`. */
export function updateInto(cipher: { update(data: Buffer): Buffer }, data: Buffer, out: Buffer[]): void {
  for (let at = 0; at < data.length; at += MAX_UPDATE_BYTES) {
    // A piece that fits (most of them: headers, padding, 32 KiB packets) is ciphered as it is, no view made.
    const piece = data.length <= MAX_UPDATE_BYTES ? data : data.subarray(at, at + MAX_UPDATE_BYTES);
    const encrypted = cipher.update(piece);
    if (encrypted.length > 0) out.push(encrypted);
  }
}

export function macError(): SshError {
  return new SshError("MAC", "message authentication code incorrect");
}

/** Key material shorter than the algorithm needs is a key-derivation bug (RFC 4253 §7.2). */
export function keyMaterial(what: string, name: string, material: Buffer | null, length: number): Buffer {
  if (material === null || material.length < length) {
    throw new SshError(
      "KEX_FAILED",
      `${name} needs a ${length}-byte ${what}, got ${material === null ? "none" : material.length}`,
    );
  }
  return material.subarray(0, length);
}

/**
 * Where a CTR or CBC keystream stands after the packets done so far, for exporting a direction: CTR's
 * counter block is the IV plus the blocks used (RFC 4344 §4), CBC's next IV is the last ciphertext block.
 */
export class StreamPosition {
  /** CTR: the blocks used, a plain number: the per-packet cost is one addition (BigInt only on export). */
  private blocks = 0;
  /** CBC: the last ciphertext block, copied into this one buffer (CBC is offered only when configured). */
  private readonly lastBlock: Buffer;
  private sawBlock = false;

  constructor(
    private readonly initialIv: Buffer,
    private readonly mode: "ctr" | "cbc",
    private readonly blockSize: number,
  ) {
    this.lastBlock = Buffer.alloc(mode === "cbc" ? blockSize : 0);
  }

  /** Record a packet's ciphertext (before it is decrypted in place). */
  advance(ciphertext: Buffer): void {
    if (this.mode === "ctr") {
      this.blocks += ciphertext.length / this.blockSize;
    } else if (ciphertext.length >= this.blockSize) {
      ciphertext.copy(this.lastBlock, 0, ciphertext.length - this.blockSize);
      this.sawBlock = true;
    }
  }

  /** For EaM, whose first block is decrypted separately from the rest. */
  advanceSplit(first: Buffer, rest: Buffer): void {
    if (this.mode === "ctr" || rest.length === 0) this.advance(first);
    if (rest.length > 0) this.advance(rest);
  }

  currentIv(): Buffer {
    if (this.mode === "cbc") return Buffer.from(this.sawBlock ? this.lastBlock : this.initialIv);
    const width = BigInt(this.initialIv.length * 8);
    const counter = (BigInt("0x" + this.initialIv.toString("hex")) + BigInt(this.blocks)) % (1n << width);
    return Buffer.from(counter.toString(16).padStart(this.initialIv.length * 2, "0"), "hex");
  }
}
