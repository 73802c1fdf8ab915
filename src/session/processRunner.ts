/**
 * Running a session's program on the server: a command through the user's shell (as sshd runs
 * `$SHELL -c command`) or a login shell, on pipes or on a PTY (node-pty, an optional dependency).
 * It only starts processes and reports how they ended; wiring them to a channel is the session's job.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { PassThrough, Writable, type Readable } from "node:stream";
import fs from "node:fs";
import path from "node:path";
import { SshError } from "../wire/index.js";
import { sshSignalName } from "./signals.js";

export interface ProcessSpec {
  /** The command line, or null for the user's login shell. */
  command: string | null;
  shell: string;
  env: Record<string, string>;
  cwd: string;
  /** A PTY of this size and type, or none (pipes). */
  pty?: { term: string; cols: number; rows: number };
  /** Run as this user (the daemon does this; the library runs as itself). */
  uid?: number;
  gid?: number;
  /**
   * Start the program through another one (the daemon's nssh-exec, which changes identity and passes
   * argv[0]): given what would run, return the wrapper's file and arguments.
   */
  wrap?: (launch: ProgramLaunch) => { file: string; args: string[] };
  /**
   * Start a program on pipes by other means than Node's spawn (the daemon's posix_spawn, which does not
   * fork this process): not used for a PTY, an identity change (uid, gid) or a file without a folder (Node's
   * spawn looks for that one in PATH).
   */
  spawner?: ProgramSpawner;
}

/** What a ProgramSpawner starts: `file` with `argv` (argv[0] first), in `cwd`, with exactly `env`. */
export interface ProgramStart {
  file: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
}

/** A program started on three pipes; throws (an Error with a message for the user) when it cannot start. */
export type ProgramSpawner = (
  start: ProgramStart,
) => Pick<RunningProcess, "pid" | "stdin" | "stdout" | "kill" | "exited"> & { stderr: Readable };

/** What a session runs: `file` with argv[0] `argv0` ("-bash" for a login shell) and `args`. */
export interface ProgramLaunch {
  file: string;
  argv0: string;
  args: string[];
  pty: boolean;
}

export interface ProcessExit {
  /** The exit status, or null when a signal ended the process. */
  code: number | null;
  /** The SSH name of the signal (RFC 4254 §6.10: "TERM"), or null. */
  signal: string | null;
  coreDumped: boolean;
}

export interface RunningProcess {
  readonly pid: number;
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Null on a PTY: the terminal merges stderr into stdout. */
  readonly stderr: Readable | null;
  /** The slave side's path on a PTY (for SSH_TTY). */
  readonly ttyName: string | null;
  resize(cols: number, rows: number): void;
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<ProcessExit>;
}

/** Name of the program as a login shell sees it: "-bash" (sshd passes argv[0] this way). */
function loginArgv0(shell: string): string {
  return "-" + path.basename(shell);
}

export async function startProcess(spec: ProcessSpec): Promise<RunningProcess> {
  return spec.pty ? startOnPty(spec, spec.pty) : startOnPipes(spec);
}

function cannotRun(spec: ProcessSpec, err: Error): SshError {
  return new SshError("UNSUPPORTED", `cannot run ${spec.shell}: ${err.message}`, { cause: err });
}

function startOnPipes(spec: ProcessSpec): Promise<RunningProcess> {
  const args = spec.command === null ? [] : ["-c", spec.command];
  const argv0 = spec.command === null ? loginArgv0(spec.shell) : path.basename(spec.shell);
  const wrapped = spec.wrap?.({ file: spec.shell, argv0, args, pty: false });
  const file = wrapped?.file ?? spec.shell;
  const programArgv0 = wrapped ? path.basename(wrapped.file) : argv0;
  const programArgs = wrapped?.args ?? args;
  if (spec.spawner && spec.uid === undefined && spec.gid === undefined && path.isAbsolute(file)) {
    try {
      const started = spec.spawner({
        file,
        argv: [programArgv0, ...programArgs],
        env: spec.env,
        cwd: spec.cwd,
      });
      // As below: a peer that stops reading the program's input must not crash us when it exits first.
      started.stdin.on("error", () => {});
      return Promise.resolve({ ...started, ttyName: null, resize: () => {} });
    } catch (err) {
      return Promise.reject(cannotRun(spec, err as Error));
    }
  }
  const child: ChildProcess = spawn(file, programArgs, {
    argv0: programArgv0,
    env: spec.env,
    cwd: spec.cwd,
    stdio: ["pipe", "pipe", "pipe"],
    ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
    ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
  });
  return new Promise((resolve, reject) => {
    child.once("error", (err) => reject(cannotRun(spec, err)));
    child.once("spawn", () => {
      const exited = new Promise<ProcessExit>((res) =>
        child.once("exit", (code, signal) =>
          res({ code, signal: signal ? sshSignalName(signal) : null, coreDumped: false }),
        ),
      );
      // A peer that stops reading the command's input must not crash us when the command exits first.
      child.stdin!.on("error", () => {});
      resolve({
        pid: child.pid!,
        stdin: child.stdin!,
        stdout: child.stdout!,
        stderr: child.stderr!,
        ttyName: null,
        resize: () => {},
        kill: (sig) => {
          child.kill(sig);
        },
        exited,
      });
    });
  });
}

interface NodePtyModule {
  spawn(
    file: string,
    args: string[],
    options: {
      name: string;
      cols: number;
      rows: number;
      cwd: string;
      env: Record<string, string>;
      encoding: null;
      uid?: number;
      gid?: number;
    },
  ): NodePty;
}
interface NodePty {
  readonly pid: number;
  readonly _pty?: string;
  onData(cb: (data: string | Buffer) => void): void;
  onExit(cb: (e: { exitCode: number; signal?: number }) => void): void;
  write(data: string | Buffer): void;
  resize(cols: number, rows: number): void;
  kill(signal?: string): void;
  pause(): void;
  resume(): void;
}

let ptyModule: Promise<NodePtyModule> | undefined;
function loadNodePty(): Promise<NodePtyModule> {
  ptyModule ??= import("node-pty").then(
    (m) => ((m as { default?: NodePtyModule }).default ?? m) as NodePtyModule,
    (err: unknown) => {
      ptyModule = undefined;
      throw new SshError(
        "UNSUPPORTED",
        "PTY sessions need the optional node-pty package (npm install node-pty)",
        {
          cause: err,
        },
      );
    },
  );
  return ptyModule;
}

async function startOnPty(
  spec: ProcessSpec,
  pty: { term: string; cols: number; rows: number },
): Promise<RunningProcess> {
  const nodePty = await loadNodePty();
  // node-pty has no argv0 option: a login shell is asked for with -l, which every common shell takes;
  // a wrapper can pass argv[0] itself ("-bash", as sshd does).
  const wrapped = spec.wrap?.({
    file: spec.shell,
    argv0: spec.command === null ? loginArgv0(spec.shell) : path.basename(spec.shell),
    args: spec.command === null ? [] : ["-c", spec.command],
    pty: true,
  });
  const args = wrapped?.args ?? (spec.command === null ? ["-l"] : ["-c", spec.command]);
  const term = nodePty.spawn(wrapped?.file ?? spec.shell, args, {
    name: pty.term,
    cols: Math.max(1, pty.cols || 80),
    rows: Math.max(1, pty.rows || 24),
    cwd: spec.cwd,
    env: { ...spec.env, TERM: pty.term },
    encoding: null, // Buffers: a terminal's output need not be UTF-8
    ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
    ...(spec.gid !== undefined ? { gid: spec.gid } : {}),
  });
  // Hold the terminal's slave side open, as sshd does: when the last slave descriptor closes with the
  // child, Linux may answer the master's next read with EIO while output is still buffered, losing the
  // tail of what the program wrote.
  const slaveFd = term._pty ? fs.openSync(term._pty, fs.constants.O_RDWR | fs.constants.O_NOCTTY) : null;
  const stdout = new PassThrough();
  // Back-pressure: when the channel does not take the output, stop reading the terminal. But node-pty
  // destroys its reader 200 ms after the child is reaped, dropping whatever it has not read: so while
  // paused, watch the child, and once it is gone read on (what is left is one terminal buffer).
  let watchdog: NodeJS.Timeout | null = null;
  const childGone = (): boolean => {
    try {
      process.kill(term.pid, 0);
      return false;
    } catch {
      return true; // ESRCH: reaped
    }
  };
  const stopWatching = (): void => {
    if (watchdog) clearInterval(watchdog);
    watchdog = null;
  };
  term.onData((d) => {
    if (stdout.write(typeof d === "string" ? Buffer.from(d, "utf8") : d) || watchdog || childGone()) return;
    term.pause();
    watchdog = setInterval(() => {
      if (!childGone()) return;
      stopWatching();
      term.resume();
    }, 50);
    stdout.once("drain", () => {
      if (!watchdog) return;
      stopWatching();
      term.resume();
    });
  });
  const exited = new Promise<ProcessExit>((resolve) =>
    term.onExit(({ exitCode, signal }) => {
      stopWatching();
      if (slaveFd !== null) fs.closeSync(slaveFd);
      stdout.end();
      resolve(
        signal
          ? { code: null, signal: sshSignalName(signal), coreDumped: false }
          : { code: exitCode, signal: null, coreDumped: false },
      );
    }),
  );
  const stdin = new Writable({
    write(chunk: Buffer, _enc, cb) {
      term.write(chunk);
      cb();
    },
  });
  return {
    pid: term.pid,
    stdin,
    stdout,
    stderr: null,
    ttyName: term._pty ?? null,
    resize: (cols, rows) => term.resize(Math.max(1, cols), Math.max(1, rows)),
    kill: (sig) => term.kill(sig),
    exited,
  };
}
