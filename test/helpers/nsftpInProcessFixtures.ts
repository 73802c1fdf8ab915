/**
 * Fixtures for the tests of nsftp's and nscp's in-process connection: the ssh flags that reach a test
 * sshd without BatchMode (so prompts can be asked), a recorder of every Node process a run starts (a
 * module given to each through NODE_OPTIONS=--import), a prompt-logging askpass program, and a runner
 * that makes the same run twice, in-process and through `-S nssh.cjs` (today's child nssh), to compare.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ProgramRun } from "./processes.js";
import { envWithoutAgent } from "./processes.js";
import { CLI_DIR, runCli } from "./transferFixtures.js";

/** dist/src/cli/nssh.cjs: as -S, nsftp and nscp run it as a child with this node. */
export const NSSH_JS = path.join(CLI_DIR, "nssh.cjs");

/** The ssh flags nsftp and nscp share (-F, -i, -o, -P) to reach 127.0.0.1:port as the key's owner. */
export function copyFlags(port: number, keyFile: string, knownHosts: string, extra: string[] = []): string[] {
  return [
    "-F",
    "/dev/null",
    "-i",
    keyFile,
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "ConnectTimeout=10",
    "-P",
    String(port),
    ...extra,
  ];
}

/** Records the script of every Node process started with NODE_OPTIONS=--import of it, one per line. */
export interface ProcessRecorder {
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** The scripts (argv[1]) of the Node processes started since the last reset, in order. */
  scripts(): string[];
  reset(): void;
}

export function processRecorder(dir: string): ProcessRecorder {
  const log = path.join(dir, "node-processes.log");
  const module = path.join(dir, "record-process.mjs");
  fs.writeFileSync(
    module,
    'import fs from "node:fs";\nfs.appendFileSync(process.env.NSSH_TEST_PROCESS_LOG, `${process.argv[1]}\\n`);\n',
  );
  return {
    env: (extra = {}) => ({
      ...envWithoutAgent(),
      NODE_OPTIONS: `--import=${pathToFileURL(module).href}`,
      NSSH_TEST_PROCESS_LOG: log,
      ...extra,
    }),
    scripts: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : []),
    reset: () => fs.rmSync(log, { force: true }),
  };
}

/** An askpass program that logs each prompt (then "---") and answers $ASKPASS_ANSWER. */
export function promptLoggingAskpass(dir: string): { program: string; log: string } {
  const log = path.join(dir, "askpass-prompts");
  const program = path.join(dir, "askpass.sh");
  fs.writeFileSync(
    program,
    `#!/bin/sh\nprintf '%s\\n---\\n' "$1" >> '${log}'\nprintf '%s\\n' "$ASKPASS_ANSWER"\n`,
    { mode: 0o755 },
  );
  return { program, log };
}

export interface BothRuns {
  inProcess: ProgramRun;
  /** The same command line with `-S nssh.cjs`: nssh as a child, as before the in-process connection. */
  throughNssh: ProgramRun;
  /** What `collect` returned after each run: in-process, then through nssh. */
  collected: [string, string];
}

/**
 * Run `command args` in-process, then with `-S nssh.cjs`, each in a session of its own (no terminal);
 * `before` runs ahead of each (to reset files the first run changed), `collect` after each (to read
 * what it left, such as the prompts an askpass program logged).
 */
export async function runBothWays(
  command: "nsftp" | "nscp",
  args: string[],
  options: {
    env: NodeJS.ProcessEnv;
    input?: string;
    cwd?: string;
    before?: () => void;
    collect?: () => string;
  },
): Promise<BothRuns> {
  const run = (argv: string[]): Promise<ProgramRun> => {
    options.before?.();
    return runCli(command, argv, {
      env: options.env,
      detached: true,
      timeoutMs: 20_000,
      ...(options.input !== undefined ? { input: options.input } : {}),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
  };
  const inProcess = await run(args);
  const first = options.collect?.() ?? "";
  const throughNssh = await run(["-S", NSSH_JS, ...args]);
  const second = options.collect?.() ?? "";
  return { inProcess, throughNssh, collected: [first, second] };
}
