/**
 * Reading Linux's /proc (proc(5)) for the benchmarks: a process's CPU times from /proc/<pid>/stat, its
 * memory from /proc/<pid>/smaps_rollup, and the process tree under a pid (summed, so a server that forks
 * a process per connection is measured whole).
 */
import fs from "node:fs";

/** USER_HZ: the unit of the times in /proc/<pid>/stat; 100 on every Linux architecture Node runs on. */
export const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Clock ticks (see CLOCK_TICKS_PER_SECOND). cutime/cstime: children that have been waited for. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

/**
 * Parse /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold spaces and
 * parentheses, so the fields after it are found from the last ")" (proc(5)).
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); utime is field 14, so rest[11].
  const field = (n: number): number => {
    const v = Number(rest[n - 3]);
    if (!Number.isFinite(v)) throw new Error(`/proc/<pid>/stat field ${n} missing`);
    return v;
  };
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? "?",
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
  };
}

/** CPU seconds of a process and of its children that it has waited for. */
export function statCpuSeconds(s: ProcStat): number {
  return (s.utime + s.stime + s.cutime + s.cstime) / CLOCK_TICKS_PER_SECOND;
}

export interface MemoryRollup {
  /** KiB */
  rss: number;
  pss: number;
  /** Unshared memory: Private_Clean + Private_Dirty (+ swapped-out private pages not counted). */
  uss: number;
}

/** Parse /proc/<pid>/smaps_rollup (values in kB). */
export function parseSmapsRollup(text: string): MemoryRollup {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z_]+):\s+(\d+) kB/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  if (!values.has("Rss")) throw new Error("smaps_rollup without an Rss line");
  return {
    rss: values.get("Rss") ?? 0,
    pss: values.get("Pss") ?? 0,
    uss: (values.get("Private_Clean") ?? 0) + (values.get("Private_Dirty") ?? 0),
  };
}

function readOrNull(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null; // the process ended between listing and reading: it has nothing left to count
  }
}

/** Every process's stat, by pid (processes that end while we read are skipped). */
export function readAllStats(): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const text = readOrNull(`/proc/${name}/stat`);
    if (text) all.set(Number(name), parseProcStat(text));
  }
  return all;
}

/** The pid and all its descendants, from a parent map (pid -> ppid). */
export function descendants(root: number, stats: Map<number, ProcStat>): number[] {
  const children = new Map<number, number[]>();
  for (const s of stats.values()) {
    const list = children.get(s.ppid) ?? [];
    list.push(s.pid);
    children.set(s.ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (!stats.has(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * CPU seconds of a process tree: each live process's own time plus what it collected from children it
 * waited for (a forking server's finished connections end up in its cutime/cstime).
 */
export function treeCpuSeconds(root: number): number {
  const stats = readAllStats();
  let total = 0;
  for (const pid of descendants(root, stats)) total += statCpuSeconds(stats.get(pid)!);
  return total;
}

/** Memory of a process tree, summed (KiB), and how many processes it has. */
export function treeMemory(root: number): MemoryRollup & { processes: number } {
  const stats = readAllStats();
  const sum = { rss: 0, pss: 0, uss: 0, processes: 0 };
  for (const pid of descendants(root, stats)) {
    const text = readOrNull(`/proc/${pid}/smaps_rollup`);
    if (!text) continue;
    const m = parseSmapsRollup(text);
    sum.rss += m.rss;
    sum.pss += m.pss;
    sum.uss += m.uss;
    sum.processes++;
  }
  return sum;
}
