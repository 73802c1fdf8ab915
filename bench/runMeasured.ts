/**
 * Running one client program for a measurement: wall time, and its CPU time with everything it forked,
 * from a /bin/sh wrapper that reports its own /proc/<pid>/stat after waiting for the program (cutime and
 * cstime then hold the program's whole tree: ssh's, node's, and their children's).
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import { parseProcStat, CLOCK_TICKS_PER_SECOND } from "./procfs.js";

export interface MeasuredRun {
  code: number | null;
  seconds: number;
  /** CPU seconds of the client program and its children. */
  clientCpu: number;
  stdout: string;
  stderr: string;
}

export interface RunSpec {
  argv: string[];
  /** A file to feed on stdin (else /dev/null). */
  stdinFile?: string;
  /** Keep stdout (else it goes to /dev/null). */
  captureStdout?: boolean;
  /** Give the program a stdin pipe that stays open until `release` is called (held connections). */
  holdStdin?: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const WRAPPER = '"$@"; rc=$?; cat /proc/$$/stat >&3; exit $rc';

/** A running program (for cases that must act while it runs, such as memory's held connections). */
export interface RunningProgram {
  pid: number;
  /** Resolves when stdout has shown this text. */
  waitFor(text: string, timeoutMs: number): Promise<void>;
  /** Close its stdin (holdStdin). */
  release(): void;
  done: Promise<MeasuredRun>;
}

export function startMeasured(spec: RunSpec): RunningProgram {
  const stdinFd = spec.stdinFile ? fs.openSync(spec.stdinFile, "r") : spec.holdStdin ? "pipe" : "ignore";
  const stdoutFd = spec.captureStdout ? "pipe" : fs.openSync("/dev/null", "w");
  const t0 = performance.now();
  const child = spawn("/bin/sh", ["-c", WRAPPER, "sh", ...spec.argv], {
    stdio: [stdinFd, stdoutFd, "pipe", "pipe"],
    env: spec.env ?? process.env,
    // A process group of its own, so a timeout ends the program too, not just the wrapper (an orphaned
    // program would keep the pipes, and the run, open).
    detached: true,
  });
  if (typeof stdinFd === "number") fs.closeSync(stdinFd);
  if (typeof stdoutFd === "number") fs.closeSync(stdoutFd);
  let stdout = "";
  let stderr = "";
  let stat = "";
  const watchers: Array<() => void> = [];
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...watchers]) w();
  });
  child.stderr!.on("data", (d: Buffer) => {
    // Bounded: a failing client may print without end.
    if (stderr.length < 65536) stderr += d.toString();
  });
  (child.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => (stat += d.toString()));
  const timer = setTimeout(() => {
    stderr += `\n(killed after ${spec.timeoutMs} ms)`;
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL"); // the group is gone already: at least the wrapper
    }
  }, spec.timeoutMs ?? 600_000);
  const done = new Promise<MeasuredRun>((resolve) => {
    child.once("close", (code) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      let clientCpu = NaN;
      if (stat) {
        const s = parseProcStat(stat);
        clientCpu = (s.cutime + s.cstime) / CLOCK_TICKS_PER_SECOND;
      }
      resolve({ code, seconds, clientCpu, stdout, stderr });
    });
  });
  return {
    pid: child.pid!,
    waitFor: (text, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!stdout.includes(text)) return;
          watchers.splice(watchers.indexOf(check), 1);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(() => {
          watchers.splice(watchers.indexOf(check), 1);
          reject(new Error(`no "${text}" within ${timeoutMs} ms; stderr: ${stderr.trim().slice(-300)}`));
        }, timeoutMs);
        watchers.push(check);
        void done.then(() => {
          if (watchers.includes(check)) {
            watchers.splice(watchers.indexOf(check), 1);
            clearTimeout(t);
            reject(new Error(`exited before "${text}"; stderr: ${stderr.trim().slice(-300)}`));
          }
        });
        check();
      }),
    release: () => child.stdin?.end(),
    done,
  };
}

export function runMeasured(spec: RunSpec): Promise<MeasuredRun> {
  return startMeasured(spec).done;
}

/** The last meaningful line of a failed run's stderr, for the report. */
export function failureReason(r: MeasuredRun): string {
  const lines = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  // A Node crash ends with its version line: the error line above it says more.
  const error = lines.find((l) => /error|denied|refused|closed|timed out|killed/i.test(l));
  return (error ?? lines.at(-1) ?? `exit ${r.code}`).slice(0, 160);
}
