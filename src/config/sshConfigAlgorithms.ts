/**
 * Algorithm names as ssh_config(5) lists them: the names OpenSSH 9.2 accepts (`ssh -Q`) with ours, so a
 * configuration valid for ssh is valid here, and kex.c kex_assemble_names for `-G`: "+list" appends to the
 * defaults, "^list" puts it first, "-patterns" removes matches, a plain list replaces them; names we do not
 * implement then drop out, as OpenSSH drops those it was not built with.
 */
import {
  CIPHERS,
  DEFAULT_CIPHERS,
  DEFAULT_HOST_KEY_ALGORITHMS,
  DEFAULT_KEX,
  DEFAULT_MACS,
  KEX_ALGORITHMS,
  MACS,
} from "../crypto/index.js";
import { SIGNATURE_ALGORITHMS } from "../keys/index.js";
import { matchHostPattern } from "../keys/hostPatterns.js";
import { GSS_KEX_ALGORITHMS } from "./configValues.js";

const names = (xs: readonly { name: string }[]): string[] => xs.map((x) => x.name);

/** Names OpenSSH 9.2 accepts (ssh -Q) together with ours, so a configuration valid for ssh is valid here. */
const KNOWN_CIPHERS = new Set([
  ...names(CIPHERS),
  "3des-cbc",
  "aes128-cbc",
  "aes192-cbc",
  "aes256-cbc",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "chacha20-poly1305@openssh.com",
]);
const KNOWN_MACS = new Set([
  ...names(MACS),
  ...["hmac-sha1", "hmac-sha1-96", "hmac-sha2-256", "hmac-sha2-512", "hmac-md5", "hmac-md5-96"].flatMap(
    (m) => [m, `${m}-etm@openssh.com`],
  ),
  "umac-64@openssh.com",
  "umac-128@openssh.com",
  "umac-64-etm@openssh.com",
  "umac-128-etm@openssh.com",
]);
const KNOWN_KEX = new Set([
  ...names(KEX_ALGORITHMS),
  "diffie-hellman-group1-sha1",
  "diffie-hellman-group14-sha1",
  "diffie-hellman-group14-sha256",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group18-sha512",
  "diffie-hellman-group-exchange-sha1",
  "diffie-hellman-group-exchange-sha256",
  "ecdh-sha2-nistp256",
  "ecdh-sha2-nistp384",
  "ecdh-sha2-nistp521",
  "curve25519-sha256",
  "curve25519-sha256@libssh.org",
  "sntrup761x25519-sha512",
  "sntrup761x25519-sha512@openssh.com",
]);
const PLAIN_KEY_ALGS = [
  "ssh-ed25519",
  "sk-ssh-ed25519@openssh.com",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ecdsa-sha2-nistp256@openssh.com",
  "ssh-dss",
  "ssh-rsa",
  "rsa-sha2-256",
  "rsa-sha2-512",
];
const KNOWN_KEY_ALGS = new Set([
  ...names(SIGNATURE_ALGORITHMS),
  ...PLAIN_KEY_ALGS,
  ...PLAIN_KEY_ALGS.map((a) => a.replace(/@openssh\.com$/, "") + "-cert-v01@openssh.com"),
  "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
]);

/** The algorithm name sets a list keyword is checked against (exported for the -G list resolution). */
export const KNOWN_ALGORITHMS: Readonly<Record<string, ReadonlySet<string>>> = {
  ciphers: KNOWN_CIPHERS,
  macs: KNOWN_MACS,
  kexalgorithms: KNOWN_KEX,
  hostkeyalgorithms: KNOWN_KEY_ALGS,
  casignaturealgorithms: KNOWN_KEY_ALGS,
  hostbasedacceptedalgorithms: KNOWN_KEY_ALGS,
  pubkeyacceptedalgorithms: KNOWN_KEY_ALGS,
  gssapikexalgorithms: new Set(GSS_KEX_ALGORITHMS),
};

/** The key algorithm lists all default to our host key algorithms and take the signatures we implement. */
const KEY_ALGORITHM_LIST = { defaults: DEFAULT_HOST_KEY_ALGORITHMS, supported: names(SIGNATURE_ALGORITHMS) };

/** The default list and what we implement, for each algorithm keyword. */
export const ALGORITHM_LISTS: Readonly<
  Record<string, { defaults: readonly string[]; supported: readonly string[] }>
> = {
  ciphers: { defaults: DEFAULT_CIPHERS, supported: names(CIPHERS) },
  macs: { defaults: DEFAULT_MACS, supported: names(MACS) },
  kexalgorithms: { defaults: DEFAULT_KEX, supported: names(KEX_ALGORITHMS) },
  hostkeyalgorithms: KEY_ALGORITHM_LIST,
  hostbasedacceptedalgorithms: KEY_ALGORITHM_LIST,
  pubkeyacceptedalgorithms: KEY_ALGORITHM_LIST,
  casignaturealgorithms: KEY_ALGORITHM_LIST,
};

/** The resolved list for a keyword's setting (undefined: the default). */
export function assembleAlgorithmList(
  spec: string | undefined,
  defaults: readonly string[],
  supported: readonly string[],
): string[] {
  let list: string[];
  if (spec === undefined) list = [...defaults];
  else {
    const op = spec[0];
    const items = (op === "+" || op === "-" || op === "^" ? spec.slice(1) : spec)
      .split(",")
      .filter((s) => s !== "");
    if (op === "+") list = [...defaults, ...items];
    else if (op === "^") list = [...items, ...defaults];
    else if (op === "-") list = defaults.filter((d) => !items.some((p) => matchHostPattern(d, p, true)));
    else list = items;
  }
  return [...new Set(list.filter((n) => supported.includes(n)))];
}

// Debian's GSSAPIKexAlgorithms default, shared with sshd_config; re-exported under the name ssh code uses.
export { DEFAULT_GSS_KEX } from "./configValues.js";
