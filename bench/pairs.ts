/**
 * Which client × server pairs a throughput pass runs: every pair for every cipher by default; with
 * --quick the first cipher's whole matrix and each system's own pair for the others; with --targets only
 * the pairs the targets compare.
 */
import type { SystemName } from "./servers.js";

export type Section = "channel" | "sftp" | "scp";

/** A system's own client against its own server (nssh's library and commands against nsshd). */
export function ownPair(client: string, server: SystemName): boolean {
  return (
    (server === "nssh" && (client.startsWith("nssh") || client === "nsftp" || client === "nscp")) ||
    (server === "openssh" && client.startsWith("OpenSSH")) ||
    (server === "ssh2" && client === "ssh2 client")
  );
}

/**
 * The pairs the targets compare: each system's own pair (nssh ↔ nsshd against OpenSSH ↔ sshd, for each
 * cipher) and, for SFTP with the first cipher, our library and ssh2's client against every server
 * (library get/put against fastGet/fastPut on the same server; that target names no cipher).
 */
export function targetPair(
  section: Section,
  cipherIndex: number,
  client: string,
  server: SystemName,
): boolean {
  if (ownPair(client, server)) return true;
  return section === "sftp" && cipherIndex === 0 && (client === "nssh library" || client === "ssh2 client");
}

/**
 * Whether a pass runs this pair for the cipher at `cipherIndex` (0: aes128-gcm). A quick pass: the
 * channel's whole matrix for that cipher and each system's own pair for the others; SFTP and scp with
 * that cipher only, and SFTP against ssh2's server with ssh2's client only.
 */
export function pairRuns(
  pass: { quick: boolean; targetsOnly: boolean },
  section: Section,
  cipherIndex: number,
  client: string,
  server: SystemName,
): boolean {
  if (pass.targetsOnly) return targetPair(section, cipherIndex, client, server);
  if (!pass.quick) return true;
  if (section === "channel") return cipherIndex === 0 || ownPair(client, server);
  if (cipherIndex > 0) return false;
  return section === "scp" || server !== "ssh2" || client === "ssh2 client";
}

/** The note a --targets report ends each throughput section with. */
export const TARGETS_NOTE = "\n(--targets: only the pairs the targets compare.)";
