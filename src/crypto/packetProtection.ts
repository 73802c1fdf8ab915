/**
 * Builds the PacketSealer/PacketOpener for one direction from the negotiated cipher and MAC (RFC 4253
 * §6, §7.2). The layout follows the cipher and MAC:
 *  - chacha20-poly1305@openssh.com: PROTOCOL.chacha20poly1305 (chacha20Poly1305.ts);
 *  - AES-GCM: RFC 5647 / PROTOCOL §1.6 (cipherModes/aesGcm.ts); the MAC is ignored for both AEADs;
 *  - CTR/CBC with an -etm@openssh.com MAC: encrypt-then-MAC, PROTOCOL §1.5;
 *  - CTR/CBC with another MAC: encrypt-and-MAC, RFC 4253 §6.4 (cipherModes/hmacModes.ts).
 * Openers decrypt in place: the buffer given to open() holds the plaintext packet afterwards.
 */
import { SshError } from "../wire/index.js";
import { ChaCha20Poly1305Opener, ChaCha20Poly1305Sealer } from "./chacha20Poly1305.js";
import { cipherSpec } from "./ciphers.js";
import type { CipherSpec } from "./ciphers.js";
import { GcmOpener, GcmSealer } from "./cipherModes/aesGcm.js";
import {
  checkPacketLength,
  checkPadding,
  checkSealInput,
  checkWireLength,
  keyMaterial,
  readLengthField,
} from "./cipherModes/common.js";
import { EamOpener, EamSealer, EtmOpener, EtmSealer } from "./cipherModes/hmacModes.js";
import { macSpec } from "./macs.js";
import type { MacSpec } from "./macs.js";
import type { CipherAlgorithm, MacAlgorithm, PacketOpener, PacketSealer, ProtectionState } from "./types.js";

export { MAX_PACKET_LENGTH } from "./cipherModes/common.js";

/** Before the first NEWKEYS (RFC 4253 §6): no cipher, no MAC, padding to 8. */
const PLAINTEXT_BLOCK_SIZE = 8;

export const PLAINTEXT_SEALER: PacketSealer = Object.freeze({
  macLength: 0,
  blockSize: PLAINTEXT_BLOCK_SIZE,
  lengthExcludedFromPadding: false,
  returnsInput: true,
  seal(_seq: number, packet: Buffer): Buffer {
    checkSealInput(packet, PLAINTEXT_BLOCK_SIZE, false);
    return packet;
  },
});

export function createPlaintextOpener(): PacketOpener {
  const packetLength = (_seq: number, first: Buffer): number => {
    const length = readLengthField(first);
    checkPacketLength(length, PLAINTEXT_BLOCK_SIZE, false);
    return length;
  };
  return {
    macLength: 0,
    blockSize: PLAINTEXT_BLOCK_SIZE,
    lengthFieldBytes: 4,
    packetLength,
    open(seq: number, wire: Buffer): Buffer {
      checkWireLength(wire, packetLength(seq, wire), 0);
      checkPadding(wire);
      return wire;
    },
  };
}

interface Resolved {
  cipher: CipherSpec;
  key: Buffer;
  iv: Buffer;
  mac: MacSpec | null;
  macKey: Buffer | null;
}

function resolve(
  cipherAlg: CipherAlgorithm,
  macAlg: MacAlgorithm | null,
  key: Buffer,
  iv: Buffer,
  macKey: Buffer | null,
): Resolved {
  const cipher = cipherSpec(cipherAlg.name);
  if (cipher === undefined) throw new SshError("UNSUPPORTED", `unknown cipher ${cipherAlg.name}`);
  const k = keyMaterial("key", cipher.name, key, cipher.keyLength);
  const v = keyMaterial("IV", cipher.name, iv, cipher.ivLength);
  if (cipher.aead) return { cipher, key: k, iv: v, mac: null, macKey: null };
  // RFC 4253 §6.4: only an AEAD cipher may go without a MAC (the "none" MAC is not offered).
  if (macAlg === null) throw new SshError("UNSUPPORTED", `cipher ${cipher.name} needs a MAC`);
  const mac = macSpec(macAlg.name);
  if (mac === undefined) throw new SshError("UNSUPPORTED", `unknown MAC ${macAlg.name}`);
  return { cipher, key: k, iv: v, mac, macKey: keyMaterial("key", mac.name, macKey, mac.keyLength) };
}

export function createPacketSealer(
  cipher: CipherAlgorithm,
  mac: MacAlgorithm | null,
  key: Buffer,
  iv: Buffer,
  macKey: Buffer | null,
): PacketSealer {
  const r = resolve(cipher, mac, key, iv, macKey);
  if (r.cipher.mode === "chacha20-poly1305") return new ChaCha20Poly1305Sealer(r.key);
  if (r.cipher.mode === "gcm") return new GcmSealer(r.cipher, r.key, r.iv);
  const m = r.mac!;
  return m.etm
    ? new EtmSealer(r.cipher, m, r.key, r.iv, r.macKey!)
    : new EamSealer(r.cipher, m, r.key, r.iv, r.macKey!);
}

export function createPacketOpener(
  cipher: CipherAlgorithm,
  mac: MacAlgorithm | null,
  key: Buffer,
  iv: Buffer,
  macKey: Buffer | null,
): PacketOpener {
  const r = resolve(cipher, mac, key, iv, macKey);
  if (r.cipher.mode === "chacha20-poly1305") return new ChaCha20Poly1305Opener(r.key);
  if (r.cipher.mode === "gcm") return new GcmOpener(r.cipher, r.key, r.iv);
  const m = r.mac!;
  return m.etm
    ? new EtmOpener(r.cipher, m, r.key, r.iv, r.macKey!)
    : new EamOpener(r.cipher, m, r.key, r.iv, r.macKey!);
}

function algorithmsOf(state: ProtectionState): [CipherAlgorithm, MacAlgorithm | null] {
  const cipher = cipherSpec(state.cipher);
  if (cipher === undefined) throw new SshError("UNSUPPORTED", `unknown cipher ${state.cipher}`);
  if (state.mac === null) return [cipher, null];
  const mac = macSpec(state.mac);
  if (mac === undefined) throw new SshError("UNSUPPORTED", `unknown MAC ${state.mac}`);
  return [cipher, mac];
}

/** Continue a direction exported by exportState() (in another process). */
export function restorePacketSealer(state: ProtectionState): PacketSealer {
  const [cipher, mac] = algorithmsOf(state);
  return createPacketSealer(cipher, mac, state.key, state.iv, state.macKey);
}

export function restorePacketOpener(state: ProtectionState): PacketOpener {
  const [cipher, mac] = algorithmsOf(state);
  return createPacketOpener(cipher, mac, state.key, state.iv, state.macKey);
}
