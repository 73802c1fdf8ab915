/**
 * The host key decision of ssh(1) (sshconnect.c check_host_key) with its exact messages: known keys pass;
 * a first contact asks (StrictHostKeyChecking=ask), adds silently (accept-new, no) or refuses (yes); a
 * changed key prints the REMOTE HOST IDENTIFICATION HAS CHANGED warning and refuses; a revoked key
 * refuses. Every error on the way (an unreadable file, a prompt that cannot be shown, an exception)
 * refuses the key: the verifier never resolves true by accident (CVE-2025-26465).
 */
import fs from "node:fs";
import path from "node:path";
import { keyTypeLabel, type PublicKey } from "../../keys/index.js";
import {
  appendKnownHost,
  checkKeyInEntries,
  entryMatchesHost,
  findKnownHostEntries,
  readKnownHostsFiles,
  type HostKeyCheck as HostKeyCheckResult,
  type KnownHostsEntry,
} from "../../keys/knownHosts.js";
import type { HostKeyInfo, HostKeyVerifier } from "../../transport/index.js";
import type { CliLog } from "./log.js";
import { readPassphrase } from "./readPassphrase.js";

export type StrictMode = "yes" | "no" | "ask" | "accept-new";

export interface HostKeyPolicy {
  /** The name the key is filed under: HostKeyAlias as is, else the host name with [ ]:port when not 22. */
  hostName: string;
  /** The address connected to, for the prompt's "(ADDR)" part (with [ ]:port when not 22). */
  address: () => string;
  /**
   * CheckHostIP, already off where ssh turns it off (a loopback address, a ProxyCommand or ProxyJump, a
   * host name that is the address): the key is also looked up and recorded under the address.
   */
  checkHostIP?: boolean;
  strict: StrictMode;
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  hashKnownHosts: boolean;
  batchMode: boolean;
  log: CliLog;
}

export interface HostKeyCheck {
  verify: HostKeyVerifier;
  /** Set when the key had changed and StrictHostKeyChecking=no let the connection go on. */
  readonly keyChanged: boolean;
  /** Set once the check refused: the connection error is then already explained. */
  readonly refused: boolean;
}

/** Print a message as ssh's error() / logit() do. */
function say(log: CliLog, text: string): void {
  for (const line of text.split("\n")) log.error(line);
}

const CHANGED_BANNER = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.`;

const SPOOFING_BANNER = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@       WARNING: POSSIBLE DNS SPOOFING DETECTED!          @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@`;

const REVOKED_BANNER = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@       WARNING: REVOKED HOST KEY DETECTED!               @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@`;

function where(e: KnownHostsEntry): string {
  return `${e.file}:${e.line}`;
}

/** sshconnect.c try_tilde_unexpand: a path under $HOME is shown as ~/... */
function tildeUnexpand(file: string): string {
  const home = process.env.HOME;
  if (!file.startsWith("/") || !home || !file.startsWith(home)) return file;
  if (!home.endsWith("/") && file[home.length] !== "/") return file;
  return `~/${file.slice(home.length).replace(/^\//, "")}`;
}

/** sshconnect.c MAX_DISPLAY_OTHERNAMES */
const MAX_OTHER_NAMES = 8;

/**
 * sshconnect.c other_hostkeys_message: the plain lines (user files, then global ones) holding this very
 * key under names that are not the host's, each as "FILE:LINE: NAMES" ("[hashed name]" for a hashed one).
 */
async function otherNamesMessage(
  hostName: string,
  key: PublicKey,
  userFiles: readonly string[],
  globalFiles: readonly string[],
  log: CliLog,
): Promise<string> {
  const entries = await readKnownHostsFiles([...userFiles, ...globalFiles], {
    onWarning: (m) => log.debug1(m),
  });
  const names = entries
    .filter((e) => e.marker === null && e.key.equals(key) && !entryMatchesHost(e, hostName))
    .map((e) => {
      log.debug1(`hostkeys_find_by_key_cb: found matching key in ${tildeUnexpand(e.file)}:${e.line}`);
      return `${tildeUnexpand(e.file)}:${e.line}: ${e.hashed ? "[hashed name]" : e.hostPatterns}`;
    });
  if (names.length === 0) return "This key is not known by any other names.";
  const lines = ["This host key is known by the following other names/addresses:"];
  for (const n of names.slice(0, MAX_OTHER_NAMES)) lines.push(`    ${n}`);
  if (names.length > MAX_OTHER_NAMES)
    lines.push(`    (${names.length - MAX_OTHER_NAMES} additional names omitted)`);
  return lines.join("\n");
}

export function createHostKeyCheck(policy: HostKeyPolicy): HostKeyCheck {
  const state = { keyChanged: false, refused: false };
  const log = policy.log;
  const files = [...policy.userKnownHostsFiles, ...policy.globalKnownHostsFiles];
  const hostName = policy.hostName;

  const refuse = (message?: string): false => {
    if (message) say(log, message);
    state.refused = true;
    return false;
  };

  const decide = async (key: PublicKey, info: HostKeyInfo): Promise<boolean> => {
    // The transport itself insists that a re-key presents the key accepted first.
    if (info.rekey) return true;
    const label = keyTypeLabel(key);
    const fp = key.fingerprintSha256();
    const existing = files.filter((f) => fs.existsSync(f));
    const entries = await findKnownHostEntries(existing, [hostName], {
      onWarning: (m) => log.debug1(m),
    });
    // hostfile.c check_hostkeys_by_key_or_type: any other key for the host, whatever its type, is a changed
    // key, the last such line the offending one (checked against ssh 9.2). Key types already known are
    // preferred in the negotiation (orderHostKeyAlgorithms), so this bites only when the server lacks them.
    const result = checkKeyInEntries(entries, key);
    log.debug3(`record_hostkey: checking ${hostName} in ${existing.join(" ")}`);
    // sshconnect.c check_host_key: with CheckHostIP the address is looked up too.
    const ip = policy.checkHostIP ? policy.address() : null;
    const ipResult =
      ip === null
        ? null
        : checkKeyInEntries(
            await findKnownHostEntries(existing, [ip], { onWarning: (m) => log.debug1(m) }),
            key,
          );
    const ok = await decideByName(key, label, fp, result, ip, ipResult);
    if (!ok || ip === null || ipResult === null) return ok;
    return ipChanged(label, result, ip, ipResult);
  };

  /** After the name's check: an address whose recorded key differs warns, asks or refuses (ssh's order). */
  const ipChanged = async (
    label: string,
    result: HostKeyCheckResult,
    ip: string,
    ipResult: HostKeyCheckResult,
  ): Promise<boolean> => {
    if (result.status === "changed" || ipResult.status !== "changed") return true;
    let msg =
      `Warning: the ${label} host key for '${hostName}' differs from the key for the IP address '${ip}'\n` +
      `Offending key for IP in ${where(ipResult.entry)}`;
    if (result.status === "known") msg += `\nMatching host key in ${where(result.entry)}`;
    if (policy.strict === "ask") {
      if (policy.batchMode) return refuse("Host key verification failed.");
      let prompt = `${msg}\nAre you sure you want to continue connecting (yes/no)? `;
      for (;;) {
        const answer = await readPassphrase(prompt, log, { echo: true, confirm: true });
        const a = answer?.trim().toLowerCase();
        if (a === "yes") return true;
        if (a === "no" || a === undefined) return refuse("Host key verification failed.");
        prompt = "Please type 'yes' or 'no': ";
      }
    }
    log.info(msg);
    if (policy.strict !== "no") return refuse("Exiting, you have requested strict checking.");
    return true;
  };

  const decideByName = async (
    key: PublicKey,
    label: string,
    fp: string,
    result: HostKeyCheckResult,
    ip: string | null,
    ipResult: HostKeyCheckResult | null,
  ): Promise<boolean> => {
    switch (result.status) {
      case "known":
        log.debug1(`Host '${hostName}' is known and matches the ${label} host key.`);
        log.debug1(`Found key in ${where(result.entry)}`);
        if (ip !== null && ipResult?.status === "unknown") await recordAddress(key, label, ip);
        return true;
      case "revoked":
        return refuse(
          `${REVOKED_BANNER}\nThe ${label} host key for ${hostName} is marked as revoked.\n` +
            `This could mean that a stolen key is being used to\nimpersonate this host.\n` +
            `Host key verification failed.`,
        );
      case "changed": {
        const e = result.entry;
        if (ip !== null && ipResult !== null) warnSpoofing(label, e, ip, ipResult);
        const firstUserFile = policy.userKnownHostsFiles[0] ?? "~/.ssh/known_hosts";
        const offendingLabel = keyTypeLabel(e.key);
        say(
          log,
          `${CHANGED_BANNER}\nThe fingerprint for the ${label} key sent by the remote host is\n${fp}.\n` +
            `Please contact your system administrator.\n` +
            `Add correct host key in ${firstUserFile} to get rid of this message.\n` +
            `Offending ${offendingLabel} key in ${where(e)}\n` +
            `  remove with:\n  ssh-keygen -f '${e.file}' -R '${hostName}'`,
        );
        if (policy.strict !== "no") {
          return refuse(
            `Host key for ${hostName} has changed and you have requested strict checking.\n` +
              `Host key verification failed.`,
          );
        }
        // StrictHostKeyChecking=no: ssh goes on, but no secret is typed to a host that may be an impostor.
        state.keyChanged = true;
        say(log, "Password authentication is disabled to avoid man-in-the-middle attacks.");
        say(log, "Keyboard-interactive authentication is disabled to avoid man-in-the-middle attacks.");
        return true;
      }
      case "unknown":
        return firstContact(key, label, fp, ip !== null && ipResult?.status === "unknown" ? ip : null);
      default:
        return refuse("Host key verification failed.");
    }
  };

  const firstContact = async (
    key: PublicKey,
    label: string,
    fp: string,
    /** The address to record with the name (CheckHostIP, the address not known yet). */
    ip: string | null,
  ): Promise<boolean> => {
    if (policy.strict === "yes") {
      return refuse(
        `No ${label} host key is known for ${hostName} and you have requested strict checking.\n` +
          `Host key verification failed.`,
      );
    }
    if (policy.strict === "ask") {
      if (policy.batchMode) return refuse("Host key verification failed.");
      const address = policy.address();
      // No "keys of different type are already known" part: any other key for the host is a changed key
      // (checkKeyInEntries), so a first contact has none.
      let msg = `The authenticity of host '${hostName} (${address})' can't be established.\n`;
      const otherNames = await otherNamesMessage(
        hostName,
        key,
        policy.userKnownHostsFiles,
        policy.globalKnownHostsFiles,
        log,
      );
      msg += `${label} key fingerprint is ${fp}.\n${otherNames}\n`;
      let prompt = `${msg}Are you sure you want to continue connecting (yes/no/[fingerprint])? `;
      for (;;) {
        const answer = await readPassphrase(prompt, log, { echo: true, confirm: true });
        if (answer === null) return refuse("Host key verification failed.");
        const a = answer.trim();
        if (a.toLowerCase() === "yes") break;
        if (a.toLowerCase() === "no") return refuse("Host key verification failed.");
        if (a === fp) break;
        if (/^SHA256:/.test(a)) return refuse("Host key verification failed.");
        prompt = "Please type 'yes', 'no' or the fingerprint: ";
      }
    }
    const file = policy.userKnownHostsFiles[0];
    if (!file) return true;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      // "host,ip" on one plain line, or one hashed line each (write_host_entry).
      await appendKnownHost(file, ip === null ? [hostName] : [hostName, ip], key, policy.hashKnownHosts);
      const names = ip === null ? hostName : `${hostName},${ip}`;
      log.at("INFO", `Warning: Permanently added '${names}' (${label}) to the list of known hosts.`);
    } catch (err) {
      log.error(`Failed to add the host to the list of known hosts (${file}).`);
      log.debug1(`${(err as Error).message}`);
    }
    return true;
  };

  /** A known host at an address not recorded yet: the address is added (CheckHostIP). */
  const recordAddress = async (key: PublicKey, label: string, ip: string): Promise<void> => {
    const file = policy.userKnownHostsFiles[0];
    if (!file) {
      log.info(`${label} host key for IP address '${ip}' not in list of known hosts.`);
      return;
    }
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      await appendKnownHost(file, [ip], key, policy.hashKnownHosts);
      log.info(
        `Warning: Permanently added the ${label} host key for IP address '${ip}' to the list of known hosts.`,
      );
    } catch (err) {
      log.info(
        `Failed to add the ${label} host key for IP address '${ip}' to the list of known hosts (${file}).`,
      );
      log.debug1(`${(err as Error).message}`);
    }
  };

  /** A changed key whose address says otherwise: the DNS SPOOFING warning comes before the changed-key one. */
  const warnSpoofing = (
    label: string,
    hostEntry: KnownHostsEntry,
    ip: string,
    ipResult: HostKeyCheckResult,
  ): void => {
    const differ = ipResult.status !== "changed" || !ipResult.entry.key.equals(hostEntry.key);
    if (!differ) return;
    const what =
      ipResult.status === "unknown"
        ? "is unknown"
        : ipResult.status === "known"
          ? "is unchanged"
          : "has a different value";
    let msg =
      `${SPOOFING_BANNER}\nThe ${label} host key for ${hostName} has changed,\n` +
      `and the key for the corresponding IP address ${ip}\n` +
      `${what}. This could either mean that\n` +
      `DNS SPOOFING is happening or the IP address for the host\n` +
      `and its host key have changed at the same time.`;
    if (ipResult.status !== "unknown") msg += `\nOffending key for IP in ${where(ipResult.entry)}`;
    say(log, msg);
  };

  const verify: HostKeyVerifier = async (key, info) => {
    try {
      const ok = await decide(key, info);
      if (!ok) state.refused = true;
      return ok === true;
    } catch (err) {
      // Any failure while checking is a refusal, never an accidental acceptance.
      log.debug1(`host key check failed: ${(err as Error).message}`);
      return refuse("Host key verification failed.");
    }
  };

  return {
    verify,
    get keyChanged() {
      return state.keyChanged;
    },
    get refused() {
      return state.refused;
    },
  };
}
