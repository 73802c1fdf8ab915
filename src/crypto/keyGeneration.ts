/**
 * New private keys as KeyObjects that owe nothing to a key-generation job of Node's.
 *
 * On Node 20 a KeyObject that generateKeyPairSync() returns shares a lock with the job object behind it.
 * A JWK export of that key holds the lock while it allocates the result; when that allocation starts a
 * garbage collection which finalizes the (by then unreferenced) job, the job's destructor waits for the
 * same lock on the same thread, forever. nsshd's pre-auth workers (a 1 MiB young generation, so frequent
 * collections) froze that way about once in 25,000 key exchanges (gdb: the main thread in ExportJWKEdKey
 * -> Heap::CollectGarbage -> ~KeyGenJob -> uv_mutex_lock), and a loop of generateKeyPairSync("x25519")
 * and export({ format: "jwk" }) under --max-semi-space-size=1 hangs within seconds.
 *
 * So X25519 and Ed25519 keys are 32 random bytes imported as a JWK (RFC 7748 §6.1 and RFC 8032 §5.1.5
 * make any 32 bytes a private key; OpenSSL derives the public half), which is also fast; RSA and ECDSA
 * keys (rare: host and user key generation) come from the job as PKCS#8 DER and are imported from that.
 * Either way the key has a lock of its own that no job's destructor takes.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";

export type KeyPairKind =
  | { kind: "x25519" }
  | { kind: "ed25519" }
  | { kind: "rsa"; bits: number }
  | { kind: "ec"; namedCurve: string };

/** A new private key of the kind asked for; its public half is createPublicKey(it). */
export function generatePrivateKey(spec: KeyPairKind): KeyObject {
  if (spec.kind === "x25519") return rawPrivateKey("X25519");
  if (spec.kind === "ed25519") return rawPrivateKey("Ed25519");
  const publicKeyEncoding = { type: "spki", format: "der" } as const;
  const privateKeyEncoding = { type: "pkcs8", format: "der" } as const;
  const der =
    spec.kind === "rsa"
      ? generateKeyPairSync("rsa", {
          modulusLength: spec.bits,
          publicExponent: 65537,
          publicKeyEncoding,
          privateKeyEncoding,
        }).privateKey
      : generateKeyPairSync("ec", { namedCurve: spec.namedCurve, publicKeyEncoding, privateKeyEncoding })
          .privateKey;
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
}

function rawPrivateKey(crv: "X25519" | "Ed25519"): KeyObject {
  // A private JWK must carry x, but Node reads only d for one (the public half comes from d).
  const d = randomBytes(32);
  try {
    return createPrivateKey({ key: { kty: "OKP", crv, d: d.toString("base64url"), x: "" }, format: "jwk" });
  } finally {
    d.fill(0);
  }
}
