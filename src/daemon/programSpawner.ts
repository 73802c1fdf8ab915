/**
 * Session programs started with posix_spawn(3) (native/nssh-spawn.c) instead of Node's spawn, which forks:
 * a fork copies the page tables of the ~60 MiB session process, and the child tears them down again at its
 * exec, some 2 ms of CPU per login in a profile of the login rate. Without the addon (no C compiler at
 * install) session processes use Node's spawn as before.
 *
 * The child's exit comes as SIGCHLD: libuv waits only for the children it started, so this module waits
 * for its own, by pid, at each signal.
 */
import fs from "node:fs";
import net from "node:net";
import type { ProcessExit, ProgramSpawner, ProgramStart } from "../session/index.js";
import { sshSignalName } from "../session/index.js";
import { loadNativeAddon, nativeAddonPath } from "./loginExec.js";

interface SpawnAddon {
  spawn(file: string, argv: string[], envp: string[], cwd: string): [number, number, number, number];
  reap(pid: number): [code: number, signal: number, coreDumped: number] | null;
}

interface Child {
  ended(exit: ProcessExit): void;
  /** Closed when the child ends, as Node's ChildProcess closes its stdin then. */
  stdin: net.Socket | null;
}

/** Our children still running, by pid. */
const running = new Map<number, Child>();
let addon: SpawnAddon | null | undefined;
/**
 * Keeps the event loop alive while a child runs, as Node's process handle does for its children: signal
 * handles do not. The children are reaped at SIGCHLD (reapEnded), not by this timer.
 */
let keepAlive: NodeJS.Timeout | undefined;

function loadAddon(): SpawnAddon | null {
  if (addon !== undefined) return addon;
  const loaded = loadNativeAddon<SpawnAddon>("nssh-spawn.node", ["spawn", "reap"]);
  if (typeof loaded === "string") {
    // Not built (no C compiler at install) is the quiet case; one that is there but unusable is reported.
    if (nativeAddonPath("nssh-spawn.node") !== null)
      process.emitWarning(`${loaded}: programs start with Node's spawn`);
    return (addon = null);
  }
  addon = loaded;
  // Node's signal handles do not keep the process alive; the listener stays for the process's life.
  process.on("SIGCHLD", reapEnded);
  return addon;
}

function reapEnded(): void {
  for (const [pid, child] of running) {
    let exit: ProcessExit;
    try {
      const status = addon!.reap(pid);
      if (status === null) continue;
      const [code, signo, core] = status;
      exit = {
        code: signo === 0 ? code : null,
        signal: signo === 0 ? null : sshSignalName(signo),
        coreDumped: core === 1,
      };
    } catch (err) {
      // Not our child any more (someone else waited for it): its status is lost.
      process.emitWarning(`child ${pid}: ${(err as Error).message}`);
      exit = { code: null, signal: null, coreDumped: false };
    }
    running.delete(pid);
    if (running.size === 0) keepAlive = void clearInterval(keepAlive);
    child.stdin?.destroy();
    child.ended(exit);
  }
}

/** The spawner of this process, or null when the addon was not built or does not load. */
export function programSpawner(): ProgramSpawner | null {
  return loadAddon() === null ? null : spawnProgram;
}

const spawnProgram: ProgramSpawner = (start: ProgramStart) => {
  const envp = Object.entries(start.env).map(([name, value]) => `${name}=${value}`);
  const [pid, ...fds] = addon!.spawn(start.file, start.argv, envp, start.cwd);
  // Listed before any SIGCHLD can be handled: signals reach JavaScript through the event loop.
  const child: Child = { ended: () => {}, stdin: null };
  running.set(pid, child);
  keepAlive ??= setInterval(() => {}, 2 ** 30);
  const sockets: net.Socket[] = [];
  try {
    for (const [i, fd] of fds.entries())
      sockets.push(new net.Socket({ fd, readable: i > 0, writable: i === 0 }));
  } catch (err) {
    // Nothing could talk to it: it is ended (and reaped at the next look), its descriptors closed.
    process.kill(pid, "SIGKILL");
    for (const socket of sockets) socket.destroy();
    for (const fd of fds.slice(sockets.length)) fs.closeSync(fd);
    throw err;
  }
  const [stdin, stdout, stderr] = sockets as [net.Socket, net.Socket, net.Socket];
  child.stdin = stdin;
  const exited = new Promise<ProcessExit>((ended) => (child.ended = ended));
  return {
    pid,
    stdin,
    stdout,
    stderr,
    // Only while it runs: once reaped, its pid may be another process's.
    kill: (signal) => {
      if (!running.has(pid)) return;
      try {
        process.kill(pid, signal);
      } catch (err) {
        // As Node's ChildProcess.kill, which reports this as an "error" event: a program that changed its
        // own identity (a setuid one) may not be ours to signal any more.
        process.emitWarning(`signal ${signal} to ${pid}: ${(err as Error).message}`);
      }
    },
    exited,
  };
};
