/**
 * nsshd as a real process for tests: a temp folder with a host key, a user key (authorized for root, the
 * test's user), an sshd_config on 127.0.0.1 and a free port, and OpenSSH's ssh to log in with that key.
 * Every process started here is ended by stop() (SIGKILL after a grace period), which also removes the
 * folder.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";
import { envWithoutAgent, runProgram, type ProgramRun } from "./processes.js";

/** dist/src/cli/nsshd.js, from dist/test/helpers/. */
export const NSSHD = fileURLToPath(new URL("../../src/cli/nsshd.js", import.meta.url));

export interface NsshdFixture {
  dir: string;
  port: number;
  configFile: string;
  pidFile: string;
  userKey: string;
  /** Rewrite the config: the base lines plus these. */
  writeConfig(extra: string[]): void;
  /** Processes started through this fixture; stop() kills what is left. */
  readonly processes: ChildProcess[];
  remove(): Promise<void>;
}

function keygen(file: string): void {
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

/** A folder with keys and a config (not started). */
export async function makeNsshdFixture(extra: string[] = []): Promise<NsshdFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-nsshd-"));
  fs.chmodSync(dir, 0o755);
  const hostKey = path.join(dir, "host_ed25519");
  const userKey = path.join(dir, "user_ed25519");
  keygen(hostKey);
  keygen(userKey);
  const authorizedKeys = path.join(dir, "authorized_keys");
  fs.writeFileSync(authorizedKeys, fs.readFileSync(userKey + ".pub"), { mode: 0o644 });
  const port = await freePort();
  const configFile = path.join(dir, "sshd_config");
  const pidFile = path.join(dir, "nsshd.pid");
  const processes: ChildProcess[] = [];
  const writeConfig = (more: string[]): void => {
    const lines = [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${pidFile}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      "UsePAM no",
      ...more,
    ];
    fs.writeFileSync(configFile, lines.join("\n") + "\n");
  };
  writeConfig(extra);
  return {
    dir,
    port,
    configFile,
    pidFile,
    userKey,
    writeConfig,
    processes,
    remove: async () => {
      for (const p of processes) await killProcess(p);
      // A detached daemon is not our child: end it by its PidFile.
      const pid = readPid(pidFile);
      if (pid !== null && alive(pid)) process.kill(pid, "SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function readPid(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.once("exit", () => resolve()));
  p.kill("SIGTERM");
  const timer = setTimeout(() => p.kill("SIGKILL"), 2000);
  await exited;
  clearTimeout(timer);
}

export interface RunningNsshd {
  process: ChildProcess;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Resolves once stderr matches (rejects after timeoutMs). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/**
 * Start `nsshd -D -e -f config` plus flags, and wait for "Server listening on" on its stderr (or the
 * `waitFor` pattern; null: do not wait, e.g. with -E).
 */
export async function startNsshd(
  fx: NsshdFixture,
  flags: string[] = [],
  options: { waitFor?: RegExp | null; inheritedPipe?: boolean } = {},
): Promise<RunningNsshd> {
  // inheritedPipe: nsshd also gets a descriptor 3 not marked close-on-exec, as a job runner may leave one.
  const child = spawn(process.execPath, [NSSHD, "-D", "-e", "-f", fx.configFile, ...flags], {
    stdio: ["ignore", "ignore", "pipe", ...(options.inheritedPipe ? (["pipe"] as const) : [])],
  });
  fx.processes.push(child);
  let stderr = "";
  const waiters: Array<() => void> = [];
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitForLog = (pattern: RegExp, timeoutMs = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pattern.test(stderr)) return;
        waiters.splice(waiters.indexOf(check), 1);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(check), 1);
        reject(new Error(`nsshd did not log ${pattern} within ${timeoutMs} ms; its log:\n${stderr}`));
      }, timeoutMs);
      waiters.push(check);
      check();
    });
  const running = { process: child, stderr: () => stderr, waitForLog, exited };
  if (options.waitFor === null) return running;
  await Promise.race([
    waitForLog(options.waitFor ?? /Server listening on 127\.0\.0\.1 port \d+\./),
    exited.then((code) => {
      throw new Error(`nsshd exited (${code}) before listening:\n${stderr}`);
    }),
  ]);
  return running;
}

/** Run nsshd to completion (for -t, -T, and the detaching start). */
/** Wait until a file contains a text (a log written with -E). */
export async function waitForFileText(file: string, text: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const content = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (content.includes(text)) return content;
    if (Date.now() > deadline) throw new Error(`${file} never held "${text}":\n${content}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function runNsshd(args: string[], timeoutMs = 15_000): Promise<ProgramRun> {
  return runProgram(process.execPath, [NSSHD, ...args], { timeoutMs });
}

/** OpenSSH's ssh with the fixture's key, no config, no known_hosts, batch mode. */
export function sshArgs(fx: NsshdFixture, options: string[] = []): string[] {
  return [
    "-F",
    "/dev/null",
    ...options,
    "-i",
    fx.userKey,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=10",
    "-p",
    String(fx.port),
  ];
}

/** `ssh -p PORT user@127.0.0.1 command` with the fixture's key. */
export function runSsh(
  fx: NsshdFixture,
  command: string,
  options: { user?: string; sshOptions?: string[]; timeoutMs?: number } = {},
): Promise<ProgramRun> {
  return runProgram(
    "ssh",
    [...sshArgs(fx, options.sshOptions), `${options.user ?? "root"}@127.0.0.1`, command],
    { env: envWithoutAgent(), timeoutMs: options.timeoutMs ?? 20_000 },
  );
}
