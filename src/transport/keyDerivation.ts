/** The exchange hash and the key derivation of RFC 4253 §7.2 (and §8 / RFC 4419 §3 for what H covers). */
import { createHash } from "node:crypto";
import type { HashName } from "../crypto/types.js";

/** HASH(K || H || letter || session_id), extended with HASH(K || H || K1 || ...) until `length` bytes. */
export function deriveKey(
  hash: HashName,
  encodedSecret: Buffer,
  exchangeHash: Buffer,
  letter: "A" | "B" | "C" | "D" | "E" | "F",
  sessionId: Buffer,
  length: number,
): Buffer {
  if (length === 0) return Buffer.alloc(0);
  const parts: Buffer[] = [
    createHash(hash)
      .update(encodedSecret)
      .update(exchangeHash)
      .update(letter, "latin1")
      .update(sessionId)
      .digest(),
  ];
  let have = parts[0]!.length;
  while (have < length) {
    const h = createHash(hash).update(encodedSecret).update(exchangeHash);
    for (const p of parts) h.update(p);
    const next = h.digest();
    parts.push(next);
    have += next.length;
  }
  return Buffer.concat(parts).subarray(0, length);
}

export interface DirectionKeys {
  iv: Buffer;
  key: Buffer;
  macKey: Buffer;
}

export function deriveDirectionKeys(
  hash: HashName,
  encodedSecret: Buffer,
  exchangeHash: Buffer,
  sessionId: Buffer,
  clientToServer: boolean,
  sizes: { iv: number; key: number; mac: number },
): DirectionKeys {
  const [ivL, keyL, macL] = clientToServer ? (["A", "C", "E"] as const) : (["B", "D", "F"] as const);
  return {
    iv: deriveKey(hash, encodedSecret, exchangeHash, ivL, sessionId, sizes.iv),
    key: deriveKey(hash, encodedSecret, exchangeHash, keyL, sessionId, sizes.key),
    macKey: deriveKey(hash, encodedSecret, exchangeHash, macL, sessionId, sizes.mac),
  };
}
