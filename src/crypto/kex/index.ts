/** Every key exchange method we implement, by name. Preference order lives in ../algorithms.ts. */
import type { KexAlgorithm } from "../types.js";
import { curve25519Kex, nistEcdhKex } from "./ecdh.js";
import { fixedGroupKex, groupExchangeKex } from "./dh.js";
import { hybridKex, MLKEM768, SNTRUP761 } from "./hybrid.js";

export const KEX_ALGORITHMS: readonly KexAlgorithm[] = [
  hybridKex("mlkem768x25519-sha256", MLKEM768, "sha256"),
  hybridKex("sntrup761x25519-sha512", SNTRUP761, "sha512"),
  hybridKex("sntrup761x25519-sha512@openssh.com", SNTRUP761, "sha512"),
  curve25519Kex("curve25519-sha256"),
  curve25519Kex("curve25519-sha256@libssh.org"),
  nistEcdhKex(256),
  nistEcdhKex(384),
  nistEcdhKex(521),
  groupExchangeKex("diffie-hellman-group-exchange-sha256", "sha256", false),
  fixedGroupKex("diffie-hellman-group16-sha512", "group16", "sha512", false),
  fixedGroupKex("diffie-hellman-group18-sha512", "group18", "sha512", false),
  fixedGroupKex("diffie-hellman-group14-sha256", "group14", "sha256", false),
  fixedGroupKex("diffie-hellman-group14-sha1", "group14", "sha1", true),
  fixedGroupKex("diffie-hellman-group1-sha1", "group1", "sha1", true),
  groupExchangeKex("diffie-hellman-group-exchange-sha1", "sha1", true),
];

export function kexByName(name: string): KexAlgorithm | undefined {
  return KEX_ALGORITHMS.find((k) => k.name === name);
}

export { GEX_MAX_BITS, GEX_MIN_BITS } from "./dh.js";
