/**
 * The embedded mode's state folder (nsshd started without root and without -f): created on first run,
 * mode 0700, holding host keys (ed25519, ecdsa, rsa: what Debian's sshd-keygen makes), a commented
 * sshd_config that names them, and the PidFile. `$XDG_STATE_HOME/nsshd`, by default
 * `~/.local/state/nsshd`. Also: the paths sshd uses when started as root.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PrivateKey, serializePrivateKey, type KeyType } from "../keys/index.js";
import type { DaemonLog } from "./log.js";

/** OpenSSH's compiled-in paths (Debian): used when nsshd runs as root. */
export const SYSTEM_CONFIG_FILE = "/etc/ssh/sshd_config";
export const SYSTEM_HOST_KEYS = [
  "/etc/ssh/ssh_host_rsa_key",
  "/etc/ssh/ssh_host_ecdsa_key",
  "/etc/ssh/ssh_host_ed25519_key",
];
export const SYSTEM_PID_FILE = "/run/sshd.pid";

export const EMBEDDED_PORT = 2222;
export const EMBEDDED_LISTEN_ADDRESS = "127.0.0.1";

const HOST_KEYS: Array<[file: string, type: KeyType, bits: number | undefined]> = [
  ["ssh_host_ed25519_key", "ssh-ed25519", undefined],
  ["ssh_host_ecdsa_key", "ecdsa-sha2-nistp256", undefined],
  ["ssh_host_rsa_key", "ssh-rsa", 3072],
];

/** The state folder's path for this user. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const stateHome = env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state");
  return path.join(stateHome, "nsshd");
}

export interface StateDir {
  dir: string;
  configFile: string;
  hostKeys: string[];
  pidFile: string;
}

/** The commented sshd_config written on first run. */
export function embeddedConfigText(dir: string): string {
  const user = os.userInfo().username;
  return `# nsshd configuration, written on first run: sshd_config(5) syntax.
# nsshd was started without root, so it serves only the invoking user (${user}),
# as sshd does. Every keyword and whether nsshd supports it: docs/nsshd.md.

# Only this machine can connect until you change it.
Port ${EMBEDDED_PORT}
ListenAddress ${EMBEDDED_LISTEN_ADDRESS}

# Host keys made on first run (ssh-keygen -l -f <file>.pub shows a fingerprint).
HostKey ${path.join(dir, "ssh_host_ed25519_key")}
HostKey ${path.join(dir, "ssh_host_ecdsa_key")}
HostKey ${path.join(dir, "ssh_host_rsa_key")}

# Where the background daemon (started without -D) writes its process id.
PidFile ${path.join(dir, "nsshd.pid")}

# Log to stderr at this level; -d (DEBUG1), -dd, -ddd raise it.
LogLevel INFO

# Your keys: ~/.ssh/authorized_keys. Your password through PAM, where PAM lets a
# process that is not root check it (Debian's pam_unix does, for your own password).
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication yes
KbdInteractiveAuthentication yes
UsePAM yes

#Banner none
#PrintMotd yes
#ClientAliveInterval 0
#MaxStartups 10:30:100
#LoginGraceTime 2m
#MaxAuthTries 6
`;
}

/** Create (first run) or open the state folder: host keys and config exist afterwards. */
export function ensureStateDir(dir: string, log: DaemonLog): StateDir {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKeys: string[] = [];
  for (const [file, type, bits] of HOST_KEYS) {
    const p = path.join(dir, file);
    hostKeys.push(p);
    if (fs.existsSync(p)) continue;
    const key = PrivateKey.generate(type, bits);
    key.comment = `nsshd@${os.hostname()}`;
    fs.writeFileSync(p, serializePrivateKey(key, { format: "openssh" }), { mode: 0o600 });
    fs.writeFileSync(p + ".pub", key.publicKey.toLine(key.comment) + "\n", { mode: 0o644 });
    log.info(`generated host key ${p}: ${key.publicKey.fingerprintSha256()}`);
  }
  const configFile = path.join(dir, "sshd_config");
  if (!fs.existsSync(configFile)) {
    fs.writeFileSync(configFile, embeddedConfigText(dir), { mode: 0o600 });
    log.info(`wrote ${configFile}`);
  }
  return { dir, configFile, hostKeys, pidFile: path.join(dir, "nsshd.pid") };
}
