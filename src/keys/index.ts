/**
 * keys/: key types, SSH public key blobs and signatures, and every key file format users have
 * (OpenSSH private keys, PEM, public key lines, fingerprints).
 */
export * from "./keyTypes.js";
export * from "./publicKey.js";
export * from "./privateKey.js";
export * from "./keyFile.js";
export {
  DEFAULT_KDF_ROUNDS,
  DEFAULT_KEY_CIPHER,
  OPENSSH_KEY_CIPHERS,
  parseOpenSshPrivateKey,
  readOpenSshPrivateKeyInfo,
  serializeOpenSshPrivateKey,
  writePrivateFields,
  type OpenSshPrivateKeyInfo,
  type OpenSshWriteOptions,
} from "./openSshPrivateKey.js";
export {
  parseDerPrivateKey,
  parsePemPrivateKey,
  privateKeyFromKeyObject,
  serializePemPrivateKey,
  type PemWriteOptions,
} from "./pem.js";
export * from "./publicKeyLine.js";
export * from "./fingerprint.js";
export * from "./hostPatterns.js";
export * from "./knownHosts.js";
export * from "./authorizedKeys.js";
