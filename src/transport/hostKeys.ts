/** The host key side of key exchange: what a server signs with, what a client is asked to accept. */
import type { PublicKey } from "../keys/index.js";

/**
 * A host key the server can sign with. PrivateKey satisfies it; the daemon's privilege-separated
 * workers implement it by asking the monitor, which is why signing may be asynchronous.
 */
export interface HostKeySigner {
  readonly publicKey: PublicKey;
  sign(data: Buffer, algorithm: string): Buffer | Promise<Buffer>;
}

export interface HostKeyInfo {
  /** The negotiated host key (signature) algorithm, e.g. rsa-sha2-512. */
  algorithm: string;
  /** Whether this is a re-key (the key then must equal the one accepted at first). */
  rekey: boolean;
}

/**
 * Decides whether to trust the server's host key: known_hosts, a pinned fingerprint, a prompt. There is
 * no default: a client must say how it trusts hosts.
 */
export type HostKeyVerifier = (key: PublicKey, info: HostKeyInfo) => boolean | Promise<boolean>;
