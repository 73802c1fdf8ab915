/**
 * The SSH public key types and signature algorithms we know (RFC 4253 §6.6, RFC 5656 §3, RFC 8332,
 * RFC 8709). Certificate types (…-cert-v01@openssh.com) will join this table with the certificate issue.
 */
import type { HashName } from "../crypto/types.js";

export type KeyType =
  "ssh-ed25519" | "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" | "ssh-rsa";

export const KEY_TYPES: readonly KeyType[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
];

export interface SignatureAlgorithm {
  readonly name: string;
  readonly keyType: KeyType;
  /** null for Ed25519, which hashes internally. */
  readonly hash: HashName | null;
  /** ssh-rsa (SHA-1): verified when configured, signed only when configured. */
  readonly weak: boolean;
}

export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  { name: "ssh-ed25519", keyType: "ssh-ed25519", hash: null, weak: false },
  { name: "ecdsa-sha2-nistp256", keyType: "ecdsa-sha2-nistp256", hash: "sha256", weak: false },
  { name: "ecdsa-sha2-nistp384", keyType: "ecdsa-sha2-nistp384", hash: "sha384", weak: false },
  { name: "ecdsa-sha2-nistp521", keyType: "ecdsa-sha2-nistp521", hash: "sha512", weak: false },
  { name: "rsa-sha2-512", keyType: "ssh-rsa", hash: "sha512", weak: false },
  { name: "rsa-sha2-256", keyType: "ssh-rsa", hash: "sha256", weak: false },
  { name: "ssh-rsa", keyType: "ssh-rsa", hash: "sha1", weak: true },
];

export function signatureAlgorithm(name: string): SignatureAlgorithm | undefined {
  return SIGNATURE_ALGORITHMS.find((a) => a.name === name);
}

/** The signature algorithms a key of this type can make. */
export function signatureAlgorithmsForKeyType(type: KeyType): SignatureAlgorithm[] {
  return SIGNATURE_ALGORITHMS.filter((a) => a.keyType === type);
}

export function isKeyType(name: string): name is KeyType {
  return (KEY_TYPES as readonly string[]).includes(name);
}

/** The curve behind each ECDSA key type: SSH name, JWK/Node name, field size in bytes. */
export const ECDSA_CURVES = {
  "ecdsa-sha2-nistp256": { ident: "nistp256", jwk: "P-256", node: "prime256v1", bytes: 32 },
  "ecdsa-sha2-nistp384": { ident: "nistp384", jwk: "P-384", node: "secp384r1", bytes: 48 },
  "ecdsa-sha2-nistp521": { ident: "nistp521", jwk: "P-521", node: "secp521r1", bytes: 66 },
} as const;
export type EcdsaKeyType = keyof typeof ECDSA_CURVES;
