/**
 * crypto/: every negotiable algorithm behind one interface per kind (types.ts), the registries by name,
 * and the default preference lists. Node's crypto does the arithmetic; @noble fills what it lacks.
 */
export * from "./types.js";
export * from "./algorithms.js";
export { KEX_ALGORITHMS, kexByName, GEX_MIN_BITS, GEX_MAX_BITS } from "./kex/index.js";
export { CIPHERS, cipherByName } from "./ciphers.js";
export { generatePrivateKey, type KeyPairKind } from "./keyGeneration.js";
export { MACS, macByName } from "./macs.js";
export { COMPRESSIONS, compressionByName } from "./compression.js";
export {
  createPacketSealer,
  createPacketOpener,
  PLAINTEXT_SEALER,
  createPlaintextOpener,
  MAX_PACKET_LENGTH,
  restorePacketSealer,
  restorePacketOpener,
} from "./packetProtection.js";
