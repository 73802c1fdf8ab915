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
import { timingSafeEqual, type Cipher } from "node:crypto";
import { CHACHA20_WASM_MAX_BYTES, ChaCha20Key } from "./chacha20.js";
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
/** The first 32 bytes of K_2's block 0, XORed with these, are the Poly1305 key. */
const POLY_KEY_ZEROS = Buffer.alloc(32);

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

  private nonce(seq: number, counter: 0 | 1): Buffer {
    this.iv[0] = counter;
    // The sequence number is a uint32 (RFC 4253 §6.4), so the upper half of the 64-bit nonce is 0.
    this.iv.writeUInt32BE(seq >>> 0, 12);
    return this.iv;
  }

  /** packet_length XOR ChaCha20(K_1, seq, counter 0): the same operation both ways. */
  cryptLength(seq: number, lengthField: Buffer): Buffer {
    return this.header.xor(this.nonce(seq, 0), lengthField);
  }

  /** The Poly1305 key of packet `seq`: the first 32 bytes of ChaCha20(K_2, seq, counter 0). */
  polyKey(seq: number): Buffer {
    return this.main.xor(this.nonce(seq, 0), POLY_KEY_ZEROS);
  }

  /** The payload XOR ChaCha20(K_2, seq, from counter 1), as a new buffer. */
  cryptPayload(seq: number, payload: Buffer): Buffer {
    return this.main.xor(this.nonce(seq, 1), payload);
  }

  /** OpenSSL's K_2 stream for `seq` from counter 1, for a payload in pieces or too long for the module. */
  payloadStream(seq: number): Cipher {
    return this.main.stream(this.nonce(seq, 1));
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
    const polyKey = this.keys.polyKey(seq);
    let payloadLength = first.length - 4;
    for (let i = 1; i < pieces.length; i++) payloadLength += pieces[i]!.length;
    if (payloadLength <= CHACHA20_WASM_MAX_BYTES) {
      // Short: one call of the module, on the pieces joined (a few blocks at most).
      const payload =
        pieces.length === 1 ? first.subarray(4) : Buffer.concat([first.subarray(4), ...pieces.slice(1)]);
      wire.push(this.keys.cryptPayload(seq, payload));
    } else {
      const stream = this.keys.payloadStream(seq);
      if (first.length > 4) updateInto(stream, first.subarray(4), wire);
      for (let i = 1; i < pieces.length; i++) updateInto(stream, pieces[i]!, wire);
    }
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
    const polyKey = this.keys.polyKey(seq);
    const expected = poly1305Tag(wire.subarray(0, end), polyKey);
    polyKey.fill(0);
    if (!timingSafeEqual(expected, wire.subarray(end))) throw macError();
    const body = this.keys.cryptPayload(seq, wire.subarray(4, end));
    checkBodyPadding(body);
    return body;
  }
}
