/**
 * Default algorithm preferences (OpenSSH 10.x order, shared/ARCHITECTURE.md "Defaults") and the
 * ssh_config(5) list syntax: a plain list replaces the default, `+` appends, `-` removes (wildcards
 * allowed) and `^` puts names first. A name we do not implement is an error that names it.
 */
import { SshError } from "../wire/index.js";

export const DEFAULT_KEX = [
  "mlkem768x25519-sha256",
  "sntrup761x25519-sha512",
  "sntrup761x25519-sha512@openssh.com",
  "curve25519-sha256",
  "curve25519-sha256@libssh.org",
  "ecdh-sha2-nistp256",
  "ecdh-sha2-nistp384",
  "ecdh-sha2-nistp521",
  "diffie-hellman-group-exchange-sha256",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group18-sha512",
  "diffie-hellman-group14-sha256",
] as const;

export const DEFAULT_CIPHERS = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
] as const;

export const DEFAULT_MACS = [
  "hmac-sha2-256-etm@openssh.com",
  "hmac-sha2-512-etm@openssh.com",
  "hmac-sha1-etm@openssh.com",
  "hmac-sha2-256",
  "hmac-sha2-512",
  "hmac-sha1",
] as const;

export const DEFAULT_HOST_KEY_ALGORITHMS = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
] as const;

/** A client compresses only when asked (ssh -C); a server allows delayed compression (sshd's Compression yes). */
export const DEFAULT_CLIENT_COMPRESSION = ["none"] as const;
export const DEFAULT_SERVER_COMPRESSION = ["none", "zlib@openssh.com"] as const;

/** Glob matching as ssh_config patterns use it: `*` any run, `?` one character. */
export function matchesPattern(name: string, pattern: string): boolean {
  const re = new RegExp(
    "^" +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".") +
      "$",
  );
  return re.test(name);
}

/**
 * Resolve an algorithm list as ssh_config/sshd_config read it. `spec` may be undefined (the default), an
 * array (a plain list) or a string that may start with + - or ^. `kind` names the keyword for errors.
 */
export function resolveAlgorithmList(
  spec: string | readonly string[] | undefined,
  defaults: readonly string[],
  supported: readonly string[],
  kind: string,
): string[] {
  if (spec === undefined) return [...defaults];
  const text = typeof spec === "string" ? spec.trim() : null;
  const op = text && "+-^".includes(text[0]!) ? text[0]! : "";
  const names = (text !== null ? text.slice(op.length) : (spec as readonly string[]).join(","))
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (op === "-") {
    return defaults.filter((d) => !names.some((p) => matchesPattern(d, p)));
  }
  for (const n of names) {
    if (!supported.includes(n)) throw new SshError("CONFIG", `Bad ${kind} '${n}': not supported`);
  }
  if (names.length === 0) throw new SshError("CONFIG", `empty ${kind} list`);
  if (op === "+") return [...defaults, ...names.filter((n) => !defaults.includes(n))];
  if (op === "^") return [...names, ...defaults.filter((d) => !names.includes(d))];
  return [...new Set(names)];
}
