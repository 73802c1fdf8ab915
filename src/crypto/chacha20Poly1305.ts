/**
 * chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305). The 64-byte key is K_2 (first 32
 * bytes, payload) || K_1 (last 32 bytes, length). The nonce is the 64-bit big-endian sequence number.
 * K_1 at block counter 0 encrypts packet_length; ChaCha20(K_2, nonce, counter 0) gives the Poly1305 key
 * in its first 32 bytes; K_2 from block counter 1 encrypts the rest; the tag is Poly1305 over the
 * encrypted length || encrypted rest.
 *
 * ChaCha20 is ours in WebAssembly for the length field, the Poly1305 key and short payloads, OpenSSL's
 * (Node's "chacha20") for long ones (chacha20.ts); both take the 16-byte IV as the four state words 12..15
 * in little-endian order, with DJB's original layout a 64-bit counter (words 12, 13) then the 64-bit nonce
 * (words 14, 15). Node has no raw Poly1305, so it is ours, in WebAssembly (poly1305.ts).
 */
import { timingSafeEqual } from "node:crypto";
import { ChaCha20Key } from "./chacha20.js";
import { poly1305Tag, poly1305TagParts } from "./poly1305.js";
import {
  AEAD_TAG_LENGTH,
  checkBodyPadding,
  checkPacketLength,
  checkSealPieces,
  checkWireLength,
  macError,
  readLengthField,
} from "./cipherModes/common.js";
import type { PacketOpener, PacketSealer, ProtectionState } from "./types.js";

const BLOCK_SIZE = 8; // padding unit (PROTOCOL.chacha20poly1305: "block size of 8 bytes")

class ChaChaKeys {
  private readonly main: ChaCha20Key; // K_2
  private readonly header: ChaCha20Key; // K_1
  /** counter (8 bytes LE: 0, or 1 for the payload) || nonce (uint64 BE sequence number). */
  private readonly iv = Buffer.alloc(16);

  constructor(key: Buffer) {
    this.main = new ChaCha20Key(key.subarray(0, 32));
    this.header = new ChaCha20Key(key.subarray(32, 64));
  }

  /** Stateless between packets: the nonce is the sequence number, which the transport exports. */
  export(): ProtectionState {
    const key = Buffer.concat([this.main.bytes(), this.header.bytes()]);
    return { cipher: "chacha20-poly1305@openssh.com", mac: null, key, iv: Buffer.alloc(0), macKey: null };
  }

  /** Counter 0 (the IV's first 8 bytes stay zero) and the sequence number as the nonce. */
  private nonce(seq: number): Buffer {
    // The sequence number is a uint32 (RFC 4253 §6.4), so the upper half of the 64-bit nonce is 0.
    this.iv.writeUInt32BE(seq >>> 0, 12);
    return this.iv;
  }

  /** packet_length XOR ChaCha20(K_1, seq, counter 0): the same operation both ways. */
  cryptLength(seq: number, lengthField: Buffer): Buffer {
    return this.header.xor(this.nonce(seq), lengthField);
  }

  /**
   * The Poly1305 key of packet `seq` (the start of ChaCha20(K_2, seq, counter 0)); the payload, `pieces[0]`
   * from `skip` on and the other pieces, XOR ChaCha20(K_2, seq, from counter 1), pushed to `out`.
   */
  polyKeyAndPayload(seq: number, pieces: readonly Buffer[], skip: number, out: Buffer[]): Buffer {
    return this.main.polyKeyAndXor(this.nonce(seq), pieces, skip, out);
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
    const polyKey = this.keys.polyKeyAndPayload(seq, pieces, 4, wire);
    wire.push(poly1305TagParts(wire, polyKey));
    polyKey.fill(0);
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
    // The payload is deciphered in the same call as the Poly1305 key, and handed on only once the tag
    // over the ciphertext has verified.
    const deciphered: Buffer[] = [];
    const polyKey = this.keys.polyKeyAndPayload(seq, [wire.subarray(0, end)], 4, deciphered);
    const expected = poly1305Tag(wire.subarray(0, end), polyKey);
    polyKey.fill(0);
    if (!timingSafeEqual(expected, wire.subarray(end))) throw macError();
    const body = deciphered[0]!;
    checkBodyPadding(body);
    return body;
  }
}
