/**
 * Fixtures for the file-transfer tests (SftpClient, nsftp, nscp): an OpenSSH sshd with its built-in
 * sftp-server that root logs in to with a throwaway key, the `ssh` options that reach it (for `-S
 * /usr/bin/ssh`), random files with their sha256, and a runner for our commands.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConnectOptions } from "../../src/index.js";
import { isRoot } from "./authHelpers.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "./opensshServer.js";
import { envWithoutAgent, type ProgramRun } from "./processes.js";

/** dist/src/cli/, where the compiled commands are. */
export const CLI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src/cli");

/** Why the tests that need startTransferServer cannot run here, or false. */
export const transferSkip: string | false = !opensshAvailable()
  ? "OpenSSH is not installed"
  : !isRoot
    ? "needs root (sshd as root)"
    : false;

export interface TransferServer {
  sshd: OpenSshServer;
  /** A temp folder for the test's files (removed by stop()). */
  work: string;
  keyFile: string;
  /** ssh options that reach the server as root with the key, trusting its host key. */
  sshOptions: string[];
  connectOptions(): ConnectOptions;
  stop(): Promise<void>;
}

export async function startTransferServer(extraConfig: string[] = []): Promise<TransferServer> {
  const sshd = await startOpenSshServer([
    "Subsystem sftp internal-sftp",
    "PermitRootLogin prohibit-password",
    "MaxSessions 32",
    ...extraConfig,
  ]);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-transfer-"));
  const keyFile = path.join(work, "id_ed25519");
  const gen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile], { stdio: "ignore" });
  if (gen.status !== 0) throw new Error("ssh-keygen failed");
  sshd.setAuthorizedKeys([fs.readFileSync(keyFile + ".pub", "utf8").trim()]);
  const knownHosts = path.join(work, "known_hosts");
  fs.writeFileSync(
    knownHosts,
    [...sshd.hostPublicKeys.values()].map((l) => `[127.0.0.1]:${sshd.port} ${l}`).join("\n") + "\n",
  );
  const sshOptions = [
    "-F",
    "/dev/null",
    "-i",
    keyFile,
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
  ];
  const hostKeys = [...sshd.hostPublicKeys.values()].map((l) => l.split(" ").slice(0, 2).join(" "));
  return {
    sshd,
    work,
    keyFile,
    sshOptions,
    connectOptions: () => ({
      host: "127.0.0.1",
      port: sshd.port,
      username: "root",
      identity: keyFile,
      agent: false,
      verifyHostKey: (k) => hostKeys.includes(k.toLine()),
    }),
    async stop() {
      try {
        await sshd.stop();
      } finally {
        fs.rmSync(work, { recursive: true, force: true });
      }
    },
  };
}

export function sha256File(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** A file of `bytes` random bytes (written in 1 MiB pieces); returns its sha256. */
export function writeRandomFile(file: string, bytes: number): string {
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "w");
  try {
    for (let left = bytes; left > 0;) {
      const chunk = randomBytes(Math.min(left, 1024 * 1024));
      hash.update(chunk);
      fs.writeSync(fd, chunk);
      left -= chunk.length;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

/**
 * Run one of our commands (nsftp, nscp, nssh) with node, stdin from `input`; SIGKILL after `timeoutMs`.
 * `detached` gives it a session of its own: no controlling terminal, as under cron or CI (prompts cannot
 * reach a tty), and the time limit then kills its whole process group (anything it started, a ProxyCommand).
 */
export function runCli(
  command: string,
  argv: string[],
  options: {
    input?: string | Buffer;
    cwd?: string;
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    detached?: boolean;
  } = {},
): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(CLI_DIR, `${command}.cjs`), ...argv], {
      cwd: options.cwd ?? process.cwd(),
      env: options.env ?? envWithoutAgent(),
      stdio: ["pipe", "pipe", "pipe"],
      detached: options.detached ?? false,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.on("error", () => {}); // a command that exits before reading its input
    child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => {
      timedOut = true;
      if (options.detached) {
        try {
          process.kill(-child.pid!, "SIGKILL");
          return;
        } catch {
          // the group is already gone: kill the child alone below
        }
      }
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 25_000);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}

/** Start one of our commands without waiting for it (to kill it half-way). */
export function spawnCli(command: string, argv: string[], cwd?: string): ChildProcess {
  return spawn(process.execPath, [path.join(CLI_DIR, `${command}.cjs`), ...argv], {
    cwd: cwd ?? process.cwd(),
    env: envWithoutAgent(),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A transfer server with a local and a "remote" temp folder for one test file (stop() removes both). */
export interface TransferWorld {
  server: TransferServer;
  local: string;
  remote: string;
  stop(): Promise<void>;
}

export async function startTransferWorld(prefix: string): Promise<TransferWorld> {
  const server = await startTransferServer();
  const local = tempDir(`${prefix}-local-`);
  const remote = tempDir(`${prefix}-remote-`);
  return {
    server,
    local,
    remote,
    async stop() {
      fs.rmSync(local, { recursive: true, force: true });
      fs.rmSync(remote, { recursive: true, force: true });
      await server.stop();
    },
  };
}
