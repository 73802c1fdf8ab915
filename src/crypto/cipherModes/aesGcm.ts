/**
 * AES-GCM as OpenSSH does it (RFC 5647, OpenSSH PROTOCOL §1.6): packet_length in clear as the AAD, the
 * rest encrypted, a 16-byte tag, no MAC. The 12-byte nonce is a 4-byte fixed field || an 8-byte
 * invocation counter that goes up by one per packet (RFC 5647 §7.1), so each packet gets its own
 * Cipher object; the KeyObject is made once.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from "node:crypto";
import type { CipherGCMTypes, KeyObject } from "node:crypto";
import { SshError } from "../../wire/index.js";
import type { CipherSpec } from "../ciphers.js";
import type { PacketOpener, PacketSealer, ProtectionState } from "../types.js";
import {
  AEAD_TAG_LENGTH,
  checkBodyPadding,
  checkPacketLength,
  checkSealPieces,
  checkWireLength,
  macError,
  readLengthField,
  updateInto,
} from "./common.js";

/** invocation_counter += 1 over the last 8 bytes, big-endian, wrapping (RFC 5647 §7.1). */
function incrementInvocationCounter(iv: Buffer): void {
  const low = iv.readUInt32BE(8);
  if (low === 0xffffffff) {
    iv.writeUInt32BE(0, 8);
    iv.writeUInt32BE((iv.readUInt32BE(4) + 1) >>> 0, 4);
  } else {
    iv.writeUInt32BE(low + 1, 8);
  }
}

class GcmState {
  readonly algorithm: CipherGCMTypes;
  readonly key: KeyObject;
  readonly iv: Buffer;

  constructor(
    private readonly cipher: CipherSpec,
    key: Buffer,
    iv: Buffer,
  ) {
    this.algorithm = cipher.openssl as CipherGCMTypes;
    this.key = createSecretKey(key);
    this.iv = Buffer.from(iv.subarray(0, 12)); // our own copy: it is incremented per packet
  }

  /** The invocation counter as it stands is the IV to continue from. */
  export(): ProtectionState {
    return {
      cipher: this.cipher.name,
      mac: null,
      key: this.key.export(),
      iv: Buffer.from(this.iv),
      macKey: null,
    };
  }
}

export class GcmSealer implements PacketSealer {
  readonly macLength = AEAD_TAG_LENGTH;
  readonly blockSize: number;
  readonly lengthExcludedFromPadding = true;
  private readonly state: GcmState;

  constructor(cipher: CipherSpec, key: Buffer, iv: Buffer) {
    this.blockSize = cipher.blockSize;
    this.state = new GcmState(cipher, key, iv);
  }

  exportState(): ProtectionState {
    return this.state.export();
  }

  seal(seq: number, packet: Buffer): Buffer {
    return Buffer.concat(this.sealPieces(seq, [packet]));
  }

  /**
   * packet_length in clear, the ciphertext, the tag, for a packet in pieces (its header, views of the
   * channel data, its padding): each piece is encrypted where it lies (GCM is a stream mode, so a piece
   * need not fill whole blocks), and Node's cipher output is not copied again.
   */
  sealPieces(_seq: number, pieces: readonly Buffer[]): Buffer[] {
    const first = checkSealPieces(pieces, this.blockSize, true);
    const { algorithm, key, iv } = this.state;
    const c = createCipheriv(algorithm, key, iv, { authTagLength: AEAD_TAG_LENGTH });
    const length = Buffer.from(first.subarray(0, 4));
    c.setAAD(length);
    const wire = [length];
    if (first.length > 4) updateInto(c, first.subarray(4), wire);
    for (let i = 1; i < pieces.length; i++) updateInto(c, pieces[i]!, wire);
    c.final();
    incrementInvocationCounter(iv);
    wire.push(c.getAuthTag());
    return wire;
  }
}

export class GcmOpener implements PacketOpener {
  readonly macLength = AEAD_TAG_LENGTH;
  readonly blockSize: number;
  readonly lengthFieldBytes = 4;
  private readonly state: GcmState;

  constructor(cipher: CipherSpec, key: Buffer, iv: Buffer) {
    this.blockSize = cipher.blockSize;
    this.state = new GcmState(cipher, key, iv);
  }

  exportState(): ProtectionState {
    return this.state.export();
  }

  packetLength(_seq: number, first: Buffer): number {
    const length = readLengthField(first);
    checkPacketLength(length, this.blockSize, true);
    return length;
  }

  /** The plaintext is written over `wire` only once the tag has verified. */
  open(seq: number, wire: Buffer): Buffer {
    const body = this.openBody(seq, wire);
    wire.set(body, 4);
    return wire.subarray(0, 4 + body.length);
  }

  /** Node's decipher output is the packet body: returned as it is. */
  openBody(seq: number, wire: Buffer): Buffer {
    const length = this.packetLength(seq, wire);
    checkWireLength(wire, length, AEAD_TAG_LENGTH);
    const { algorithm, key, iv } = this.state;
    const end = 4 + length;
    const d = createDecipheriv(algorithm, key, iv, { authTagLength: AEAD_TAG_LENGTH });
    d.setAuthTag(wire.subarray(end));
    d.setAAD(wire.subarray(0, 4));
    const body = d.update(wire.subarray(4, end));
    try {
      d.final();
    } catch (cause) {
      // OpenSSL reports a tag mismatch only as a generic Error from final().
      throw new SshError("MAC", macError().message, { cause });
    }
    incrementInvocationCounter(iv);
    checkBodyPadding(body);
    return body;
  }
}
