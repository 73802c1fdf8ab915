/**
 * `nssh -Q WHAT` (ssh(1) -Q): the algorithms this implementation supports, one a line.
 * Certificate key types are listed empty until certificates are implemented.
 */
import { CIPHERS, COMPRESSIONS, KEX_ALGORITHMS, MACS } from "../../crypto/index.js";
import { KEY_TYPES, SIGNATURE_ALGORITHMS } from "../../keys/index.js";

const names = (xs: readonly { name: string }[]): string[] => xs.map((x) => x.name);

const QUERIES: Record<string, () => string[]> = {
  cipher: () => names(CIPHERS),
  "cipher-auth": () => CIPHERS.filter((c) => c.aead).map((c) => c.name),
  compression: () => names(COMPRESSIONS),
  mac: () => names(MACS),
  kex: () => names(KEX_ALGORITHMS),
  "kex-gss": () => [],
  key: () => [...KEY_TYPES],
  "key-plain": () => [...KEY_TYPES],
  "key-cert": () => [],
  "key-sig": () => names(SIGNATURE_ALGORITHMS),
  sig: () => names(SIGNATURE_ALGORITHMS),
  "protocol-version": () => ["2"],
};

/** Keyword names accepted too, as ssh 8.x+ does (`ssh -Q Ciphers`). */
const ALIASES: Record<string, string> = {
  ciphers: "cipher",
  macs: "mac",
  kexalgorithms: "kex",
  hostkeyalgorithms: "key-sig",
  hostbasedacceptedalgorithms: "key-sig",
  hostbasedkeytypes: "key-sig",
  pubkeyacceptedalgorithms: "key-sig",
  pubkeyacceptedkeytypes: "key-sig",
  casignaturealgorithms: "sig",
};

/** The lines `nssh -Q what` prints, or null for a query we do not know. */
export function queryList(what: string): string[] | null {
  if (what === "help") return [...Object.keys(QUERIES), "help"].sort();
  const key = QUERIES[what] ? what : ALIASES[what.toLowerCase()];
  return key ? QUERIES[key]!() : null;
}

export { versionLine } from "./version.js";
