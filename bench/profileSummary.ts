/**
 * `node dist/bench/profileSummary.js FILE.cpuprofile [N]`: the top N functions of a V8 CPU profile
 * (from `node --cpu-prof`) by self time, with their share of all samples, and the same grouped by
 * source file, for writing down where the time goes (bench/README.md, "What limits us").
 */
import fs from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  share: number;
  ms: number;
}

function shortUrl(url: string): string {
  const i = url.indexOf("/dist/");
  if (i >= 0) return url.slice(i + "/dist/".length).replace(/\.js$/, ".ts");
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm);
  return url.replace(/^file:\/\//, "") || "(native)";
}

/** Self time per function and per file, largest first, as shares of the busy (non-idle) time. */
export function summarizeProfile(p: CpuProfile): {
  functions: ProfileLine[];
  files: ProfileLine[];
  inclusive: ProfileLine[];
} {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfMs = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    // Idle samples (waiting on I/O) are left out: shares are of the time the process was busy.
    if (byId.get(id)?.callFrame.functionName === "(idle)") return;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + dt);
    total += dt;
  });
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const nameOf = (n: ProfileNode): string =>
    `${shortUrl(n.callFrame.url)}:${n.callFrame.functionName || "(anonymous)"}`;
  for (const [id, ms] of selfMs) {
    const n = byId.get(id)!;
    const url = shortUrl(n.callFrame.url);
    const name = nameOf(n);
    fn.set(name, (fn.get(name) ?? 0) + ms);
    file.set(url, (file.get(url) ?? 0) + ms);
    // Inclusive time of our own functions (src/, bench/): each once per stack, however deep it recurses.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur)!;
      const u = shortUrl(node.callFrame.url);
      if (!u.startsWith("src/") && !u.startsWith("bench/")) continue;
      const nm = nameOf(node);
      if (seen.has(nm)) continue;
      seen.add(nm);
      inclusive.set(nm, (inclusive.get(nm) ?? 0) + ms);
    }
  }
  const lines = (m: Map<string, number>): ProfileLine[] =>
    [...m].map(([name, ms]) => ({ name, ms, share: total ? ms / total : 0 })).sort((a, b) => b.ms - a.ms);
  return { functions: lines(fn), files: lines(file), inclusive: lines(inclusive) };
}

if (process.argv[1]?.endsWith("profileSummary.js")) {
  const [file, n = "25"] = process.argv.slice(2);
  if (!file) {
    console.error("usage: profileSummary.js FILE.cpuprofile [N]");
    process.exit(2);
  }
  const s = summarizeProfile(JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile);
  const show = (title: string, list: ProfileLine[]): void => {
    console.log(title);
    for (const l of list.slice(0, Number(n)))
      console.log(`${(l.share * 100).toFixed(1).padStart(5)}%  ${l.ms.toFixed(0).padStart(7)} ms  ${l.name}`);
  };
  const busy = s.functions.reduce((sum, l) => sum + l.ms, 0);
  console.log(`busy ${busy.toFixed(0)} ms`);
  show("self time by function:", s.functions);
  show("\nself time by file:", s.files.slice(0, 12));
  show("\nour functions, inclusive (callees counted):", s.inclusive);
}
