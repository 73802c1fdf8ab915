/**
 * The real OpenSSH `ssh` client for tests, with a throwaway configuration: no config file, its own
 * known_hosts in a temp folder (trust on first use, written there), batch mode, -vvv, stdin closed, no
 * agent, and a hard timeout that kills it. Resolves with its exit status, its stderr (the -vvv log) and
 * the known_hosts file it wrote.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { envWithoutAgent, runProgram } from "./processes.js";

export const SSH = "ssh";

export interface OpenSshClientOptions {
  /** -o overrides, e.g. { Ciphers: "aes128-ctr" }, added after the defaults (ssh takes the first value). */
  options?: Record<string, string>;
  /** The remote user name (default "nssh-test"). */
  user?: string;
  /** The remote command (default "true"). */
  command?: string;
  /** Kill ssh after this long (default 20 s); the result then has timedOut set. */
  timeoutMs?: number;
}

export interface OpenSshClientResult {
  /** Exit status, null when ssh was killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Everything ssh wrote to stderr: with -vvv, its debug log. */
  stderr: string;
  stdout: string;
  /** The known_hosts file ssh wrote ("" when it wrote none). */
  knownHosts: string;
}

export async function runOpenSshClient(
  port: number,
  opts: OpenSshClientOptions = {},
): Promise<OpenSshClientResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-ssh-"));
  const knownHostsFile = path.join(dir, "known_hosts");
  // ssh uses the first value it sees for an option, so overrides must come before our defaults.
  const overrides = Object.entries(opts.options ?? {}).flatMap(([k, v]) => ["-o", `${k}=${v}`]);
  const args = [
    "-F",
    "/dev/null",
    ...overrides,
    "-o",
    `UserKnownHostsFile=${knownHostsFile}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=5",
    "-vvv",
    "-p",
    String(port),
    `${opts.user ?? "nssh-test"}@127.0.0.1`,
    opts.command ?? "true",
  ];
  try {
    const r = await runProgram(SSH, args, { env: envWithoutAgent(), timeoutMs: opts.timeoutMs ?? 20_000 });
    let knownHosts = "";
    try {
      knownHosts = fs.readFileSync(knownHostsFile, "utf8");
    } catch {
      // ssh wrote none: it never got as far as accepting the host key.
    }
    return { ...r, knownHosts };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
