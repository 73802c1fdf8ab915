/**
 * The algorithm-list keywords of sshd_config(5) (Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms and the
 * accepted signature algorithms): their defaults, the names each accepts, and sshd's error wording. Lists the
 * transport negotiates take only what src/crypto implements; the lists auth only compares names against take
 * every name OpenSSH knows, and their default is OpenSSH's (so `-T` prints the same line).
 */
import {
  CIPHERS,
  DEFAULT_CIPHERS,
  DEFAULT_HOST_KEY_ALGORITHMS,
  DEFAULT_KEX,
  DEFAULT_MACS,
  KEX_ALGORITHMS,
  MACS,
  resolveAlgorithmList,
} from "../crypto/index.js";
import { SIGNATURE_ALGORITHMS } from "../keys/keyTypes.js";
import { ValueError } from "./sshdConfigValues.js";

/** Plain signature algorithms OpenSSH 9.x accepts, in its default order: CASignatureAlgorithms' default. */
const OPENSSH_CA_DEFAULT = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
  "rsa-sha2-512",
  "rsa-sha2-256",
];
/** Pubkey/Hostbased lists' default: the certificate forms first, then the plain ones. */
const OPENSSH_KEY_ALGORITHMS_WITH_CERTS = [
  "ssh-ed25519-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ecdsa-sha2-nistp384-cert-v01@openssh.com",
  "ecdsa-sha2-nistp521-cert-v01@openssh.com",
  "sk-ssh-ed25519-cert-v01@openssh.com",
  "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "rsa-sha2-512-cert-v01@openssh.com",
  "rsa-sha2-256-cert-v01@openssh.com",
  ...OPENSSH_CA_DEFAULT,
];
/** Names OpenSSH still knows but leaves out of its defaults. */
const OPENSSH_LEGACY_KEY_ALGORITHMS = [
  "ssh-rsa",
  "ssh-dss",
  "ssh-rsa-cert-v01@openssh.com",
  "ssh-dss-cert-v01@openssh.com",
];
const KNOWN_KEY_ALGORITHMS = [...OPENSSH_KEY_ALGORITHMS_WITH_CERTS, ...OPENSSH_LEGACY_KEY_ALGORITHMS];

interface AlgorithmKeyword {
  readonly name: string;
  readonly defaults: readonly string[];
  readonly supported: readonly string[];
  /** servconf.c's message for a bad list. */
  readonly error: (arg: string) => string;
}

const HOST_KEY_NAMES = SIGNATURE_ALGORITHMS.map((a) => a.name);

/** A list auth only compares names against: any name OpenSSH knows, with servconf.c's "Bad key types". */
function keyAlgorithmsKeyword(
  key: string,
  name: string,
  defaults: readonly string[],
): [string, AlgorithmKeyword] {
  return [key, { name, defaults, supported: KNOWN_KEY_ALGORITHMS, error: (a) => `Bad key types '${a}'.` }];
}

const ALGORITHM_KEYWORDS: ReadonlyMap<string, AlgorithmKeyword> = new Map<string, AlgorithmKeyword>([
  [
    "ciphers",
    {
      name: "Ciphers",
      defaults: DEFAULT_CIPHERS,
      supported: CIPHERS.map((c) => c.name),
      error: (a) => `Bad SSH2 cipher spec '${a}'.`,
    },
  ],
  [
    "macs",
    {
      name: "MACs",
      defaults: DEFAULT_MACS,
      supported: MACS.map((m) => m.name),
      error: (a) => `Bad SSH2 mac spec '${a}'.`,
    },
  ],
  [
    "kexalgorithms",
    {
      name: "KexAlgorithms",
      defaults: DEFAULT_KEX,
      supported: KEX_ALGORITHMS.map((k) => k.name),
      error: (a) => `Bad SSH2 KexAlgorithms '${a}'.`,
    },
  ],
  [
    "hostkeyalgorithms",
    {
      name: "HostKeyAlgorithms",
      defaults: DEFAULT_HOST_KEY_ALGORITHMS,
      supported: HOST_KEY_NAMES,
      error: (a) => `Bad key types '${a}'.`,
    },
  ],
  keyAlgorithmsKeyword(
    "pubkeyacceptedalgorithms",
    "PubkeyAcceptedAlgorithms",
    OPENSSH_KEY_ALGORITHMS_WITH_CERTS,
  ),
  keyAlgorithmsKeyword(
    "hostbasedacceptedalgorithms",
    "HostbasedAcceptedAlgorithms",
    OPENSSH_KEY_ALGORITHMS_WITH_CERTS,
  ),
  keyAlgorithmsKeyword("casignaturealgorithms", "CASignatureAlgorithms", OPENSSH_CA_DEFAULT),
]);

/** Resolve one algorithm keyword's argument (plain list, +append, -remove, ^prepend) to sshd -T's list. */
export function resolveSshdAlgorithms(key: string, arg: string): string {
  const kw = ALGORITHM_KEYWORDS.get(key);
  if (!kw) throw new Error(`not an algorithm keyword: ${key}`);
  try {
    return resolveAlgorithmList(arg, kw.defaults, kw.supported, kw.name).join(",");
  } catch (e) {
    throw new ValueError(`${kw.error(arg)} (${(e as Error).message})`);
  }
}

/** The default list of an algorithm keyword, as -T prints it. */
export function defaultSshdAlgorithms(key: string): string {
  return ALGORITHM_KEYWORDS.get(key)!.defaults.join(",");
}
