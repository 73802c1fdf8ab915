/**
 * From a resolved ssh_config (ssh_config(5)) to what the library and the session need: algorithm lists,
 * authentication methods and prompts, keepalive, connection limits, the known_hosts policy.
 */
import os from "node:os";
import { DEFAULT_HOST_KEY_ALGORITHMS, resolveAlgorithmList } from "../../crypto/index.js";
import type { ClientAuthMethod } from "../../auth/index.js";
import { SIGNATURE_ALGORITHMS } from "../../keys/index.js";
import type { SshResolvedConfig } from "../../config/sshConfig.js";
import { expandTilde } from "./identities.js";

export interface AlgorithmOptions {
  kex?: string;
  ciphers?: string;
  macs?: string;
  hostKeyAlgorithms?: string;
  compression?: string[];
  publicKeyAlgorithms?: string[];
}

/**
 * The algorithm lists as configured (with ssh_config's +, - and ^ modifiers, resolved by the transport
 * against our defaults); unset lists keep our defaults. A name we do not implement is an error.
 */
export function algorithmOptions(cfg: SshResolvedConfig): AlgorithmOptions {
  const out: AlgorithmOptions = {};
  const kex = cfg.algorithmSpec("kexalgorithms");
  const ciphers = cfg.algorithmSpec("ciphers");
  const macs = cfg.algorithmSpec("macs");
  const hostKey = cfg.algorithmSpec("hostkeyalgorithms");
  const pubkey = cfg.algorithmSpec("pubkeyacceptedalgorithms");
  if (kex) out.kex = kex;
  if (ciphers) out.ciphers = ciphers;
  if (macs) out.macs = macs;
  if (hostKey) out.hostKeyAlgorithms = hostKey;
  if (pubkey) {
    const all = SIGNATURE_ALGORITHMS.map((a) => a.name);
    const defaults = SIGNATURE_ALGORITHMS.filter((a) => !a.weak).map((a) => a.name);
    out.publicKeyAlgorithms = resolveAlgorithmList(pubkey, defaults, all, "PubkeyAcceptedAlgorithms");
  }
  // Compression=yes offers zlib first (ssh's "zlib@openssh.com,zlib,none").
  if (cfg.compression) out.compression = ["zlib@openssh.com", "zlib", "none"];
  return out;
}

/** Put the key types already known for the host first (sshconnect2.c order_hostkeyalgs). */
export function orderHostKeyAlgorithms(
  spec: string | undefined,
  knownTypes: Set<string>,
): string[] | string | undefined {
  if (knownTypes.size === 0) return spec;
  const all = resolveAlgorithmList(
    spec,
    DEFAULT_HOST_KEY_ALGORITHMS,
    SIGNATURE_ALGORITHMS.map((a) => a.name),
    "HostKeyAlgorithms",
  );
  const typeOf = (alg: string): string | undefined =>
    SIGNATURE_ALGORITHMS.find((s) => s.name === alg)?.keyType;
  const first = all.filter((a) => knownTypes.has(typeOf(a) ?? ""));
  return [...first, ...all.filter((a) => !first.includes(a))];
}

/** PreferredAuthentications, less the methods turned off or not implemented. */
export function authMethods(cfg: SshResolvedConfig): ClientAuthMethod[] {
  const preferred = cfg.preferredAuthentications ?? ["publickey", "keyboard-interactive", "password"];
  const off = new Set<string>();
  if (!cfg.pubkeyAuthentication) off.add("publickey");
  if (!cfg.passwordAuthentication) off.add("password");
  if (!cfg.kbdInteractiveAuthentication) off.add("keyboard-interactive");
  const implemented: string[] = ["publickey", "keyboard-interactive", "password"];
  return preferred
    .map((m) => m.trim())
    .filter((m): m is ClientAuthMethod => implemented.includes(m) && !off.has(m));
}

/** A path with ~ expanded (the engine has expanded tokens where ssh_config(5) allows them). */
export function expandPath(p: string): string {
  return expandTilde(p, os.homedir());
}
