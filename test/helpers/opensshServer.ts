/**
 * A real OpenSSH sshd for tests: its own host keys and config in a temp folder, on 127.0.0.1 and a free
 * port, in the foreground (-D) with its log captured; stop() ends it and removes the folder.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, waitForPort } from "./ports.js";

export const SSHD = "/usr/sbin/sshd";

export interface OpenSshServer {
  port: number;
  dir: string;
  /** Host public keys by type, as their .pub lines. */
  hostPublicKeys: Map<string, string>;
  /** Everything sshd logged so far. */
  log(): string;
  setAuthorizedKeys(lines: string[]): void;
  stop(): Promise<void>;
}

export function opensshAvailable(): boolean {
  return fs.existsSync(SSHD) && spawnSync("ssh", ["-V"]).status === 0;
}

/**
 * `pam`: UsePAM with password and keyboard-interactive on, for logins of real system users (sshd keeps
 * the first value of a keyword, so this cannot come through extraConfig).
 */
export async function startOpenSshServer(
  extraConfig: string[] = [],
  options: { pam?: boolean } = {},
): Promise<OpenSshServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-sshd-"));
  // sshd reads authorized_keys as the user: the folder and the file must be readable by everyone.
  fs.chmodSync(dir, 0o755);
  const authorizedKeys = path.join(dir, "authorized_keys");
  fs.writeFileSync(authorizedKeys, "", { mode: 0o644 });
  const hostPublicKeys = new Map<string, string>();
  const keyLines: string[] = [];
  for (const [name, type, bits] of [
    ["ed25519", "ed25519", ""],
    ["ecdsa", "ecdsa", "256"],
    ["ecdsa384", "ecdsa", "384"],
    ["ecdsa521", "ecdsa", "521"],
    ["rsa", "rsa", "2048"],
  ] as const) {
    const file = path.join(dir, `host_${name}`);
    const args = ["-q", "-t", type, "-N", "", "-f", file];
    if (bits) args.push("-b", bits);
    const r = spawnSync("ssh-keygen", args, { stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
    hostPublicKeys.set(name, fs.readFileSync(file + ".pub", "utf8").trim());
    keyLines.push(`HostKey ${file}`);
  }
  // sshd as root needs its privilege separation directory.
  if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    ...keyLines,
    `PidFile ${path.join(dir, "sshd.pid")}`,
    ...(options.pam
      ? ["UsePAM yes", "PasswordAuthentication yes", "KbdInteractiveAuthentication yes"]
      : ["UsePAM no"]),
    "StrictModes no",
    "LogLevel DEBUG3",
    `AuthorizedKeysFile ${authorizedKeys}`,
    ...extraConfig,
  ];
  const configFile = path.join(dir, "sshd_config");
  fs.writeFileSync(configFile, config.join("\n") + "\n");
  // The log goes to a file: with -e, sshd's session processes also write debug lines to the client's
  // stderr, and a test process that blocks could stall sshd on a full pipe.
  const logFile = path.join(dir, "sshd.log");
  const readLog = (): string => {
    try {
      return fs.readFileSync(logFile, "utf8");
    } catch {
      return ""; // not written yet
    }
  };
  let early = "";
  const child: ChildProcess = spawn(SSHD, ["-D", "-E", logFile, "-f", configFile], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr!.on("data", (d: Buffer) => (early += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await Promise.race([
      waitForPort(port),
      exited.then(() => {
        throw new Error(`sshd exited at start:\n${early}${readLog()}`);
      }),
    ]);
  } catch (err) {
    child.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    dir,
    hostPublicKeys,
    log: () => early + readLog(),
    setAuthorizedKeys: (lines) => fs.writeFileSync(authorizedKeys, lines.join("\n") + "\n", { mode: 0o644 }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
