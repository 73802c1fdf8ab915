/**
 * Types for the untyped CommonJS package `bcrypt-pbkdf` (a port of OpenBSD's bcrypt_pbkdf.c), the KDF of
 * passphrase-protected OpenSSH private keys (PROTOCOL.key). Import it as the default export.
 */
declare module "bcrypt-pbkdf" {
  interface BcryptPbkdf {
    /** Output block size of one bcrypt hash (32 bytes). */
    readonly HASHSIZE: number;
    /** Blowfish blocks per hash (8). */
    readonly BLOCKS: number;
    /**
     * Derive `keylen` bytes into `key` from the first `passlen` bytes of `pass` and `saltlen` of `salt`.
     * Returns 0 on success, -1 on bad arguments (zero-length passphrase, salt or key, or rounds < 1).
     */
    pbkdf(
      pass: Uint8Array,
      passlen: number,
      salt: Uint8Array,
      saltlen: number,
      key: Uint8Array,
      keylen: number,
      rounds: number,
    ): number;
    /** One bcrypt hash round (internal building block). */
    hash(sha2pass: Uint8Array, sha2salt: Uint8Array, out: Uint8Array): void;
  }
  const bcryptPbkdf: BcryptPbkdf;
  export default bcryptPbkdf;
}
