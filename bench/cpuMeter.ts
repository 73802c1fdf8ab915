/**
 * CPU time of a server and everything it forks. Where a cgroup v2 hierarchy is writable (the root of
 * /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid v1/v2 host) each server gets a cgroup of its own
 * and cpu.stat's usage_usec counts every process that was ever in it, reaped or not. Otherwise the
 * /proc/<pid>/stat times of the process tree are summed (see procfs.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { treeCpuSeconds } from "./procfs.js";

/** Parse cgroup v2 cpu.stat: usage_usec in seconds. */
export function parseCpuStatUsage(text: string): number {
  const m = /^usage_usec (\d+)$/m.exec(text);
  if (!m) throw new Error("cpu.stat without usage_usec");
  return Number(m[1]) / 1e6;
}

const CANDIDATES = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];

function isCgroup2Root(dir: string): boolean {
  return fs.existsSync(path.join(dir, "cgroup.procs")) && fs.existsSync(path.join(dir, "cgroup.controllers"));
}

/** Empty groups left by an earlier run that was killed (its pid is gone). */
function removeStaleGroups(root: string): void {
  for (const name of fs.readdirSync(root)) {
    const m = /^nssh-bench-(\d+)$/.exec(name);
    if (!m || fs.existsSync(`/proc/${m[1]}`)) continue;
    const dir = path.join(root, name);
    try {
      for (const child of fs.readdirSync(dir, { withFileTypes: true }))
        if (child.isDirectory()) fs.rmdirSync(path.join(dir, child.name));
      fs.rmdirSync(dir);
    } catch (err) {
      console.error(`bench: stale cgroup ${dir} not removed: ${(err as Error).message}`);
    }
  }
}

/** A writable cgroup v2 folder for the benchmark's groups, or null. */
export function benchCgroupParent(): string | null {
  for (const root of CANDIDATES) {
    if (!isCgroup2Root(root)) continue;
    removeStaleGroups(root);
    const dir = path.join(root, `nssh-bench-${process.pid}`);
    try {
      fs.mkdirSync(dir, { recursive: true });
      return dir;
    } catch {
      continue; // read-only or not ours to write: try the next, then fall back to /proc
    }
  }
  return null;
}

export interface CpuMeter {
  /** "cgroup" or "proc": how it counts. */
  readonly kind: "cgroup" | "proc";
  /** The command to spawn in place of [program, ...args] so that it starts inside the group. */
  wrap(argv: string[]): string[];
  /** Attach the started process (for the /proc fallback). */
  attach(pid: number): void;
  /** CPU seconds so far. */
  seconds(): number;
  remove(): void;
}

/** A cgroup named `name` under parent, or a /proc tree meter when parent is null. */
export function createCpuMeter(parent: string | null, name: string): CpuMeter {
  if (parent) {
    const dir = path.join(parent, name);
    try {
      fs.mkdirSync(dir, { recursive: true });
      const procs = path.join(dir, "cgroup.procs");
      return {
        kind: "cgroup",
        // The shell moves itself into the group, then becomes the server: all it forks is counted.
        wrap: (argv) => ["/bin/sh", "-c", `echo $$ > '${procs}' && exec "$@"`, "sh", ...argv],
        attach: () => {},
        seconds: () => parseCpuStatUsage(fs.readFileSync(path.join(dir, "cpu.stat"), "utf8")),
        remove: () => removeCgroup(dir),
      };
    } catch {
      // fall through to /proc
    }
  }
  let root = 0;
  return {
    kind: "proc",
    wrap: (argv) => argv,
    attach: (pid) => (root = pid),
    seconds: () => (root ? treeCpuSeconds(root) : 0),
    remove: () => {},
  };
}

/** rmdir a cgroup once its processes are gone (they may take a moment to leave). */
export function removeCgroup(dir: string): void {
  for (let i = 0; i < 50; i++) {
    try {
      fs.rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  console.error(`bench: could not remove cgroup ${dir} (processes still in it)`);
}
