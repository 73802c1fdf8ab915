/**
 * CTR and CBC ciphers with an HMAC, in the two layouts:
 *  - encrypt-then-MAC (OpenSSH PROTOCOL §1.5): packet_length in clear, the rest encrypted,
 *    MAC = HMAC(key, uint32 seq || packet_length || ciphertext);
 *  - encrypt-and-MAC (RFC 4253 §6.4): the whole packet encrypted, MAC = HMAC(key, uint32 seq || plaintext).
 * The cipher state runs across packets for the life of the keys (RFC 4253 §6.3, RFC 4344 §4), so one
 * Cipher/Decipher object serves a direction.
 */
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, timingSafeEqual } from "node:crypto";
import type { Cipher, Decipher, KeyObject } from "node:crypto";
import { SshError } from "../../wire/index.js";
import type { CipherSpec } from "../ciphers.js";
import type { MacSpec } from "../macs.js";
import type { PacketOpener, PacketSealer, ProtectionState } from "../types.js";
import {
  checkBodyPadding,
  checkPacketLength,
  checkPadding,
  checkSealInput,
  checkSealPieces,
  checkWireLength,
  macError,
  readLengthField,
  StreamPosition,
  updateInto,
} from "./common.js";

class Hmac {
  private readonly key: KeyObject;
  private readonly seqBytes = Buffer.alloc(4);

  constructor(
    private readonly spec: MacSpec,
    macKey: Buffer,
  ) {
    this.key = createSecretKey(macKey);
  }

  /** HMAC(key, uint32 seq || data), RFC 4253 §6.4; `data` may come in pieces. */
  compute(seq: number, ...data: Buffer[]): Buffer {
    this.seqBytes.writeUInt32BE(seq >>> 0, 0);
    const h = createHmac(this.spec.hash, this.key).update(this.seqBytes);
    for (const piece of data) h.update(piece);
    return h.digest();
  }

  /** Constant-time comparison with the MAC as received. */
  verify(seq: number, data: Buffer, received: Buffer): boolean {
    return timingSafeEqual(this.compute(seq, data), received);
  }
}

/** What each CTR/CBC direction keeps to export itself: the constant part and the moving IV. */
class ExportableStream {
  readonly position: StreamPosition;

  constructor(
    private readonly cipher: CipherSpec,
    private readonly mac: MacSpec,
    private readonly key: Buffer,
    iv: Buffer,
    private readonly macKey: Buffer,
  ) {
    this.position = new StreamPosition(
      Buffer.from(iv),
      cipher.mode === "cbc" ? "cbc" : "ctr",
      cipher.blockSize,
    );
  }

  state(): ProtectionState {
    return {
      cipher: this.cipher.name,
      mac: this.mac.name,
      key: Buffer.from(this.key),
      iv: this.position.currentIv(),
      macKey: Buffer.from(this.macKey),
    };
  }
}

function streamCipher(cipher: CipherSpec, key: Buffer, iv: Buffer): Cipher {
  const c = createCipheriv(cipher.openssl, key, iv);
  c.setAutoPadding(false); // SSH pads itself; CBC must not add or strip PKCS#7 padding
  return c;
}

function streamDecipher(cipher: CipherSpec, key: Buffer, iv: Buffer): Decipher {
  const d = createDecipheriv(cipher.openssl, key, iv);
  d.setAutoPadding(false); // with padding off OpenSSL also releases the last CBC block at once
  return d;
}

export class EtmSealer implements PacketSealer {
  readonly macLength: number;
  readonly blockSize: number;
  readonly lengthExcludedFromPadding = true;
  private readonly cipher: Cipher;
  private readonly mac: Hmac;
  private readonly exportable: ExportableStream;

  constructor(cipher: CipherSpec, mac: MacSpec, key: Buffer, iv: Buffer, macKey: Buffer) {
    this.blockSize = cipher.blockSize;
    this.macLength = mac.digestLength;
    this.cipher = streamCipher(cipher, key, iv);
    this.mac = new Hmac(mac, macKey);
    this.exportable = new ExportableStream(cipher, mac, key, iv, macKey);
  }

  exportState(): ProtectionState {
    return this.exportable.state();
  }

  seal(seq: number, packet: Buffer): Buffer {
    return Buffer.concat(this.sealPieces(seq, [packet]));
  }

  /**
   * packet_length in clear, the ciphertext, the MAC over both, for a packet in pieces, each encrypted
   * where it lies (CTR and CBC keep their state): the cipher's output is not copied.
   */
  sealPieces(seq: number, pieces: readonly Buffer[]): Buffer[] {
    const first = checkSealPieces(pieces, this.blockSize, true);
    const wire: Buffer[] = [Buffer.from(first.subarray(0, 4))];
    for (let i = 0; i < pieces.length; i++) {
      // CBC's update() holds back a partial block, so a piece's output may be shorter than the piece.
      const from = wire.length;
      updateInto(this.cipher, i === 0 ? first.subarray(4) : pieces[i]!, wire);
      for (let j = from; j < wire.length; j++) this.exportable.position.advance(wire[j]!);
    }
    wire.push(this.mac.compute(seq, ...wire));
    return wire;
  }
}

export class EtmOpener implements PacketOpener {
  readonly macLength: number;
  readonly blockSize: number;
  readonly lengthFieldBytes = 4;
  private readonly decipher: Decipher;
  private readonly mac: Hmac;
  private readonly exportable: ExportableStream;

  constructor(cipher: CipherSpec, mac: MacSpec, key: Buffer, iv: Buffer, macKey: Buffer) {
    this.blockSize = cipher.blockSize;
    this.macLength = mac.digestLength;
    this.decipher = streamDecipher(cipher, key, iv);
    this.mac = new Hmac(mac, macKey);
    this.exportable = new ExportableStream(cipher, mac, key, iv, macKey);
  }

  exportState(): ProtectionState {
    return this.exportable.state();
  }

  packetLength(_seq: number, first: Buffer): number {
    const length = readLengthField(first);
    checkPacketLength(length, this.blockSize, true);
    return length;
  }

  /** Verifies before decrypting (PROTOCOL §1.5); the plaintext is written over `wire`. */
  open(seq: number, wire: Buffer): Buffer {
    const body = this.openBody(seq, wire);
    wire.set(body, 4);
    return wire.subarray(0, 4 + body.length);
  }

  /** The same without copying the decrypted body back over `wire`. */
  openBody(seq: number, wire: Buffer): Buffer {
    const length = this.packetLength(seq, wire);
    checkWireLength(wire, length, this.macLength);
    const end = 4 + length;
    if (!this.mac.verify(seq, wire.subarray(0, end), wire.subarray(end))) throw macError();
    this.exportable.position.advance(wire.subarray(4, end));
    const body = this.decipher.update(wire.subarray(4, end));
    checkBodyPadding(body);
    return body;
  }
}

export class EamSealer implements PacketSealer {
  readonly macLength: number;
  readonly blockSize: number;
  readonly lengthExcludedFromPadding = false;
  private readonly cipher: Cipher;
  private readonly mac: Hmac;
  private readonly exportable: ExportableStream;

  constructor(cipher: CipherSpec, mac: MacSpec, key: Buffer, iv: Buffer, macKey: Buffer) {
    this.blockSize = cipher.blockSize;
    this.macLength = mac.digestLength;
    this.cipher = streamCipher(cipher, key, iv);
    this.mac = new Hmac(mac, macKey);
    this.exportable = new ExportableStream(cipher, mac, key, iv, macKey);
  }

  exportState(): ProtectionState {
    return this.exportable.state();
  }

  seal(seq: number, packet: Buffer): Buffer {
    checkSealInput(packet, this.blockSize, false);
    const end = packet.length;
    const out = Buffer.allocUnsafe(end + this.macLength);
    out.set(this.mac.compute(seq, packet), end);
    const encrypted: Buffer[] = [];
    updateInto(this.cipher, packet, encrypted);
    let at = 0;
    for (const piece of encrypted) {
      out.set(piece, at);
      at += piece.length;
    }
    this.exportable.position.advance(out.subarray(0, end));
    return out;
  }
}

/**
 * The length is encrypted, so packetLength() decrypts the first block; the cipher state has then moved
 * on, so that block's plaintext is kept for open(), which continues the same keystream / CBC chain.
 */
export class EamOpener implements PacketOpener {
  readonly macLength: number;
  readonly blockSize: number;
  readonly lengthFieldBytes: number;
  private readonly decipher: Decipher;
  private readonly mac: Hmac;
  private readonly exportable: ExportableStream;
  private pending = false;
  private pendingSeq = 0;
  private pendingLength = 0;
  private readonly pendingCipher: Buffer;
  private pendingPlain: Buffer;

  constructor(cipher: CipherSpec, mac: MacSpec, key: Buffer, iv: Buffer, macKey: Buffer) {
    this.blockSize = cipher.blockSize;
    this.lengthFieldBytes = cipher.blockSize;
    this.macLength = mac.digestLength;
    this.decipher = streamDecipher(cipher, key, iv);
    this.mac = new Hmac(mac, macKey);
    this.pendingCipher = Buffer.alloc(cipher.blockSize);
    this.pendingPlain = this.pendingCipher;
    this.exportable = new ExportableStream(cipher, mac, key, iv, macKey);
  }

  exportState(): ProtectionState {
    return this.exportable.state();
  }

  packetLength(seq: number, first: Buffer): number {
    const bs = this.blockSize;
    if (first.length < bs) {
      throw new SshError("MALFORMED", `need ${bs} bytes to read the packet length, got ${first.length}`);
    }
    const block = first.subarray(0, bs);
    if (this.pending) {
      // Asked again for the packet already begun: answer from the kept block, never decrypt twice.
      if (seq === this.pendingSeq && block.equals(this.pendingCipher)) return this.pendingLength;
      throw new SshError("PROTOCOL", "internal error: a new packet was begun before the last was opened");
    }
    const plain = this.decipher.update(block);
    const length = plain.readUInt32BE(0);
    // OpenSSH answers a bad length under CBC only after reading up to 256 KiB, against the length oracle
    // of Albrecht et al.; we fail at once: CBC is offered only when configured.
    checkPacketLength(length, bs, false);
    block.copy(this.pendingCipher);
    this.pendingPlain = plain;
    this.pendingSeq = seq;
    this.pendingLength = length;
    this.pending = true;
    return length;
  }

  /** Decrypts in place (the MAC covers the plaintext, RFC 4253 §6.4), so `wire` is consumed. */
  open(seq: number, wire: Buffer): Buffer {
    const length = this.packetLength(seq, wire);
    this.pending = false;
    checkWireLength(wire, length, this.macLength);
    const bs = this.blockSize;
    const end = 4 + length;
    this.exportable.position.advanceSplit(this.pendingCipher, wire.subarray(bs, end));
    const rest = this.decipher.update(wire.subarray(bs, end));
    wire.set(this.pendingPlain, 0);
    wire.set(rest, bs);
    const plain = wire.subarray(0, end);
    if (!this.mac.verify(seq, plain, wire.subarray(end))) throw macError();
    checkPadding(plain);
    return plain;
  }
}
