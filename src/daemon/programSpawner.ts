/**
 * Session programs started with posix_spawn(3) (native/nssh-spawn.c) instead of Node's spawn, which forks:
 * a fork copies the page tables of the ~60 MiB session process, and the child tears them down again at its
 * exec, some 2 ms of CPU per login in a profile of the login rate. Without the addon (no C compiler at
 * install) session processes use Node's spawn as before.
 *
 * The child's exit comes as SIGCHLD: libuv waits only for the children it started, so this module waits
 * for its own, by pid, at each signal.
 */
import net from "node:net";
import os from "node:os";
import type { ProcessExit, ProgramSpawner, ProgramStart } from "../session/index.js";
import { sshSignalName } from "../session/index.js";
import { nativeAddonPath } from "./loginExec.js";

interface SpawnAddon {
  spawn(file: string, argv: string[], envp: string[], cwd: string): [number, number, number, number];
  reap(pid: number): [code: number, signal: number, coreDumped: number] | null;
}

/** Our children still running, by pid, with what to call when they end. */
const running = new Map<number, (exit: ProcessExit) => void>();
let addon: SpawnAddon | null | undefined;
/**
 * Keeps the event loop alive while a child runs, as Node's process handle does for its children (signal
 * handles do not): whoever awaits a child's end is not left with a loop that has nothing to wait for.
 */
let keepAlive: NodeJS.Timeout | undefined;

function loadAddon(): SpawnAddon | null {
  if (addon !== undefined) return addon;
  const file = nativeAddonPath("nssh-spawn.node");
  if (file === null) return (addon = null);
  const module = { exports: {} as SpawnAddon };
  process.dlopen(module, file);
  addon = module.exports;
  // Node's signal handles do not keep the process alive; the listener stays for the process's life.
  process.on("SIGCHLD", reapEnded);
  return addon;
}

function signalName(signo: number): string | null {
  const entry = Object.entries(os.constants.signals).find(([, n]) => n === signo);
  return entry ? sshSignalName(entry[0]) : null;
}

function reapEnded(): void {
  for (const [pid, ended] of running) {
    const status = addon!.reap(pid);
    if (status === null) continue;
    running.delete(pid);
    if (running.size === 0) keepAlive = void clearInterval(keepAlive);
    const [code, signo, core] = status;
    ended({
      code: signo === 0 ? code : null,
      signal: signo === 0 ? null : signalName(signo),
      coreDumped: core === 1,
    });
  }
}

/** The spawner of this process, or null when the addon was not built. */
export function programSpawner(): ProgramSpawner | null {
  return loadAddon() === null ? null : spawnProgram;
}

const spawnProgram: ProgramSpawner = (start: ProgramStart) => {
  const envp = Object.entries(start.env).map(([name, value]) => `${name}=${value}`);
  const [pid, stdinFd, stdoutFd, stderrFd] = addon!.spawn(start.file, start.argv, envp, start.cwd);
  // Listed before any SIGCHLD can be handled: signals reach JavaScript through the event loop.
  const exited = new Promise<ProcessExit>((resolve) => running.set(pid, resolve));
  keepAlive ??= setInterval(reapEnded, 3_600_000);
  return {
    pid,
    stdin: new net.Socket({ fd: stdinFd, readable: false, writable: true }),
    stdout: new net.Socket({ fd: stdoutFd, readable: true, writable: false }),
    stderr: new net.Socket({ fd: stderrFd, readable: true, writable: false }),
    // Only while it runs: once reaped, its pid may be another process's.
    kill: (signal) => {
      if (running.has(pid)) process.kill(pid, signal);
    },
    exited,
  };
};
