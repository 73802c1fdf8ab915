/**
 * keys/: key types, SSH public key blobs and signatures, and every key file format users have
 * (OpenSSH private keys, PEM, public key lines, fingerprints).
 */
export * from "./keyTypes.js";
export * from "./publicKey.js";
export * from "./privateKey.js";
