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
  stop(): Promise<void>;
}

export function opensshAvailable(): boolean {
  return fs.existsSync(SSHD) && spawnSync("ssh", ["-V"]).status === 0;
}

export async function startOpenSshServer(extraConfig: string[] = []): Promise<OpenSshServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-sshd-"));
  const hostPublicKeys = new Map<string, string>();
  const keyLines: string[] = [];
  for (const [type, bits] of [
    ["ed25519", ""],
    ["ecdsa", "256"],
    ["rsa", "2048"],
  ] as const) {
    const file = path.join(dir, `host_${type}`);
    const args = ["-q", "-t", type, "-N", "", "-f", file];
    if (bits) args.push("-b", bits);
    const r = spawnSync("ssh-keygen", args, { stdio: ["ignore", "pipe", "pipe"] });
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
    hostPublicKeys.set(type, fs.readFileSync(file + ".pub", "utf8").trim());
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
    "UsePAM no",
    "StrictModes no",
    "LogLevel DEBUG3",
    `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
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
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
