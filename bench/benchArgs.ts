/** The bench's command line: `node dist/bench/index.js [--quick] [--targets] [--only=name,...] [--keep]`. */

export const BENCH_USAGE =
  "usage: node dist/bench/index.js [--quick] [--targets] [--only=section,...] [--keep]";

export interface BenchArguments {
  /** 128 MiB, 3 runs, 10 logins, 50 connections, fewer pairs. */
  quick: boolean;
  /** The throughput sections run only the pairs the targets compare (pairs.ts). */
  targetsOnly: boolean;
  /** The work folder (the servers' configurations and logs) stays, to see why a case failed. */
  keep: boolean;
  /** The sections to run; null: all. */
  only: Set<string> | null;
}

/** An option or section name it does not know is an error that names it. */
export function parseBenchArguments(args: readonly string[], sections: readonly string[]): BenchArguments {
  const parsed: BenchArguments = { quick: false, targetsOnly: false, keep: false, only: null };
  for (const a of args) {
    if (a === "--quick") parsed.quick = true;
    else if (a === "--targets") parsed.targetsOnly = true;
    else if (a === "--keep") parsed.keep = true;
    else if (a.startsWith("--only=")) {
      const names = a.slice("--only=".length).split(",");
      const unknown = names.filter((n) => !sections.includes(n));
      if (unknown.length > 0) {
        throw new Error(`unknown section ${unknown.join(", ")} (sections: ${sections.join(", ")})`);
      }
      parsed.only = new Set(names);
    } else throw new Error(`unknown option ${a}\n${BENCH_USAGE}`);
  }
  return parsed;
}
