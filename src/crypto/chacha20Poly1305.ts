/**
 * chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305). The 64-byte key is K_2 (first 32
 * bytes, payload) || K_1 (last 32 bytes, length). The nonce is the 64-bit big-endian sequence number.
 * K_1 at block counter 0 encrypts packet_length; ChaCha20(K_2, nonce, counter 0) gives the Poly1305 key
 * in its first 32 bytes; K_2 from block counter 1 encrypts the rest; the tag is Poly1305 over the
 * encrypted length || encrypted rest.
 *
 * ChaCha20 is OpenSSL's (Node's "chacha20"), whose 16-byte IV is the four state words 12..15 in
 * little-endian order: with DJB's original layout that is a 64-bit counter (words 12, 13) then the
 * 64-bit nonce (words 14, 15). Node has no raw Poly1305, so it is ours, in WebAssembly (poly1305.ts).
 */
import { createCipheriv, createSecretKey, timingSafeEqual } from "node:crypto";
import type { Cipher, KeyObject } from "node:crypto";
import { poly1305Tag, poly1305TagParts } from "./poly1305.js";
import {
  AEAD_TAG_LENGTH,
  checkBodyPadding,
  checkPacketLength,
  checkSealPieces,
  checkWireLength,
  macError,
  readLengthField,
  updateInto,
} from "./cipherModes/common.js";
import type { PacketOpener, PacketSealer, ProtectionState } from "./types.js";

const BLOCK_SIZE = 8; // padding unit (PROTOCOL.chacha20poly1305: "block size of 8 bytes")
/** One whole ChaCha20 block: consuming it moves the K_2 stream to counter 1 for the payload. */
const ZERO_BLOCK = Buffer.alloc(64);

class ChaChaKeys {
  private readonly main: KeyObject;
  private readonly header: KeyObject;
  /** counter (8 bytes LE, always 0 here) || nonce (uint64 BE sequence number). */
  private readonly iv = Buffer.alloc(16);

  constructor(key: Buffer) {
    this.main = createSecretKey(key.subarray(0, 32)); // K_2
    this.header = createSecretKey(key.subarray(32, 64)); // K_1
  }

  /** Stateless between packets: the nonce is the sequence number, which the transport exports. */
  export(): ProtectionState {
    const key = Buffer.concat([this.main.export(), this.header.export()]);
    return { cipher: "chacha20-poly1305@openssh.com", mac: null, key, iv: Buffer.alloc(0), macKey: null };
  }

  private nonce(seq: number): Buffer {
    // The sequence number is a uint32 (RFC 4253 §6.4), so the upper half of the 64-bit nonce is 0.
    this.iv.writeUInt32BE(seq >>> 0, 12);
    return this.iv;
  }

  /** packet_length XOR ChaCha20(K_1, seq, counter 0): the same operation both ways. */
  cryptLength(seq: number, lengthField: Buffer): Buffer {
    return createCipheriv("chacha20", this.header, this.nonce(seq)).update(lengthField);
  }

  /** A K_2 stream for `seq`, already moved past block 0, and the Poly1305 key from that block. */
  mainStream(seq: number): { stream: Cipher; polyKey: Buffer } {
    const stream = createCipheriv("chacha20", this.main, this.nonce(seq));
    const polyKey = stream.update(ZERO_BLOCK).subarray(0, 32);
    return { stream, polyKey };
  }
}

export class ChaCha20Poly1305Sealer implements PacketSealer {
  readonly macLength = AEAD_TAG_LENGTH;
  readonly blockSize = BLOCK_SIZE;
  readonly lengthExcludedFromPadding = true;
  private readonly keys: ChaChaKeys;

  constructor(key: Buffer) {
    this.keys = new ChaChaKeys(key);
  }

  exportState(): ProtectionState {
    return this.keys.export();
  }

  seal(seq: number, packet: Buffer): Buffer {
    return Buffer.concat(this.sealPieces(seq, [packet]));
  }

  /**
   * Encrypted length, ciphertext, tag over both, for a packet in pieces, each encrypted where it lies
   * (ChaCha20 is a stream cipher): the cipher's output is not copied into a joined packet.
   */
  sealPieces(seq: number, pieces: readonly Buffer[]): Buffer[] {
    const first = checkSealPieces(pieces, BLOCK_SIZE, true);
    const wire = [this.keys.cryptLength(seq, first.subarray(0, 4))];
    const { stream, polyKey } = this.keys.mainStream(seq);
    if (first.length > 4) updateInto(stream, first.subarray(4), wire);
    for (let i = 1; i < pieces.length; i++) updateInto(stream, pieces[i]!, wire);
    wire.push(poly1305TagParts(wire, polyKey));
    return wire;
  }
}

export class ChaCha20Poly1305Opener implements PacketOpener {
  readonly macLength = AEAD_TAG_LENGTH;
  readonly blockSize = BLOCK_SIZE;
  readonly lengthFieldBytes = 4;
  private readonly keys: ChaChaKeys;
  // The length decrypted by packetLength(), so that open() need not decrypt it again.
  private cachedSeq = -1;
  private cachedField = 0;
  private cachedLength = 0;

  constructor(key: Buffer) {
    this.keys = new ChaChaKeys(key);
  }

  exportState(): ProtectionState {
    return this.keys.export();
  }

  packetLength(seq: number, first: Buffer): number {
    const field = readLengthField(first);
    if (seq === this.cachedSeq && field === this.cachedField) return this.cachedLength;
    const length = this.keys.cryptLength(seq, first.subarray(0, 4)).readUInt32BE(0);
    checkPacketLength(length, BLOCK_SIZE, true);
    this.cachedSeq = seq;
    this.cachedField = field;
    this.cachedLength = length;
    return length;
  }

  /** Verifies the tag first, then decrypts (PROTOCOL.chacha20poly1305); the plaintext is written over `wire`. */
  open(seq: number, wire: Buffer): Buffer {
    const body = this.openBody(seq, wire);
    wire.writeUInt32BE(body.length, 0);
    wire.set(body, 4);
    return wire.subarray(0, 4 + body.length);
  }

  /** The same without copying the decrypted body back over `wire`. */
  openBody(seq: number, wire: Buffer): Buffer {
    const length = this.packetLength(seq, wire);
    this.cachedSeq = -1;
    checkWireLength(wire, length, AEAD_TAG_LENGTH);
    const end = 4 + length;
    const { stream, polyKey } = this.keys.mainStream(seq);
    const expected = poly1305Tag(wire.subarray(0, end), polyKey);
    if (!timingSafeEqual(expected, wire.subarray(end))) throw macError();
    const body = stream.update(wire.subarray(4, end));
    checkBodyPadding(body);
    return body;
  }
}
