/**
 * Starting nsshd's child processes: pre-auth workers (as the unprivileged account) and session processes
 * (started as the monitor's user, kept spare, and dropped to a login user when taken), each with an IPC
 * channel to the monitor that uses the structured-clone serialization (Buffers pass as bytes).
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { childLogRank, watchChildLogRank } from "../log.js";
import { IpcPeer, LOG_RANK_ENV } from "./ipc.js";
import { CHILD_NOTES } from "./messages.js";

export type ChildRole = "worker" | "session";

/** The entry point every child runs (childMain.ts). */
export const CHILD_ENTRY = new URL("./childMain.js", import.meta.url);
export const CHILD_ENTRY_FILE = fileURLToPath(CHILD_ENTRY);

export interface ChildHandle {
  readonly role: ChildRole;
  readonly process: ChildProcess;
  readonly peer: IpcPeer;
  /** Resolves once the child said it is ready; rejects if it died first. */
  readonly ready: Promise<void>;
}

/** Environment of a child: nothing of the monitor's but what Node and the child need. */
function childEnvironment(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  };
  for (const name of ["LANG", "TZ", "NODE_OPTIONS"]) {
    const v = process.env[name];
    if (v !== undefined) env[name] = v;
  }
  // Which log lines are worth an IPC message; later changes come as notes (IpcPeer.sendLogRank).
  env[LOG_RANK_ENV] = String(childLogRank());
  return env;
}

/**
 * V8 options of the children. The young generation is kept small: V8 grows it up to 16 MiB a half under
 * allocation bursts (a worker doing many key exchanges at once, a session process taking many connections)
 * and never gives those pages back, so each child kept tens of MiB it did not need; with 1 MiB halves an
 * idle authenticated connection costs the process tree a fraction of that (docs/nsshd.md, memory).
 */
export const CHILD_V8_OPTIONS: Record<ChildRole, readonly string[]> = {
  worker: ["--max-semi-space-size=1"],
  session: ["--max-semi-space-size=1"],
};

export function startChild(
  role: ChildRole,
  entry: URL,
  opts: { uid?: number; gid?: number; onRefused: (reason: string) => void; execArgv?: string[] },
): ChildHandle {
  const child = fork(entry, [role], {
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: childEnvironment(),
    execArgv: opts.execArgv ?? [...CHILD_V8_OPTIONS[role]],
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  const peer = new IpcPeer(child, { onRefused: opts.onRefused, notes: CHILD_NOTES });
  const unwatch = watchChildLogRank((rank) => peer.sendLogRank(rank));
  child.once("exit", unwatch);
  const ready = new Promise<void>((resolve, reject) => {
    peer.handle(
      "ready",
      () => undefined,
      () => resolve(),
    );
    child.once("exit", (code, signal) =>
      reject(new Error(`${role} exited (${signal ?? code}) before it was ready`)),
    );
    child.once("error", reject);
    // A send to a channel that closed reports here; without a listener it would end the monitor.
    child.on("error", () => {});
  });
  ready.catch(() => {}); // observed by whoever awaits it; an early exit is also reported by "exit"
  return { role, process: child, peer, ready };
}
