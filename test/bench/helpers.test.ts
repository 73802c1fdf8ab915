/**
 * The benchmark harness's pure helpers: statistics, table formatting, /proc and cgroup parsing, the
 * openssl speed parser and the client command line. No timing is asserted here (benchmarks are not tests).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, it } from "node:test";
import { parseOpensslSpeed } from "../../bench/ceilings.js";
import { summarizeProfile } from "../../bench/profileSummary.js";
import { clientFlags, openMany, parseClientArgs } from "../../bench/clientArgs.js";
import { parseCpuStatUsage } from "../../bench/cpuMeter.js";
import {
  descendants,
  parseProcStat,
  parseSmapsRollup,
  readAllStats,
  statCpuSeconds,
  treeMemory,
} from "../../bench/procfs.js";
import {
  cpuSecondsPerGiB,
  formatNumber,
  formatRatio,
  formatSummary,
  GIB,
  megabytesPerSecond,
  summarize,
} from "../../bench/stats.js";
import { markdownTable } from "../../bench/table.js";

describe("bench statistics", () => {
  it("gives median, min and max of odd and even counts", () => {
    assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, count: 3 });
    assert.deepEqual(summarize([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4, count: 4 });
    assert.deepEqual(summarize([7]), { median: 7, min: 7, max: 7, count: 1 });
  });

  it("ignores non-finite values and returns null for nothing", () => {
    assert.equal(summarize([]), null);
    assert.equal(summarize([NaN, Infinity]), null);
    assert.deepEqual(summarize([NaN, 5, 1]), { median: 3, min: 1, max: 5, count: 2 });
  });

  it("formats numbers to about three significant digits", () => {
    assert.equal(formatNumber(1234.5), "1235");
    assert.equal(formatNumber(12.345), "12.3");
    assert.equal(formatNumber(1.2345), "1.23");
    assert.equal(formatNumber(0.12345), "0.123");
    assert.equal(formatNumber(0), "0");
    assert.equal(formatNumber(NaN), "n/a");
  });

  it("formats summaries and ratios", () => {
    assert.equal(formatSummary({ median: 412, min: 398.2, max: 420, count: 5 }), "412 (398-420)");
    assert.equal(formatSummary({ median: 5, min: 5, max: 5, count: 1 }), "5.00");
    assert.equal(formatSummary(null), "n/a");
    assert.equal(formatRatio(300, 400), "0.75x");
    assert.equal(formatRatio(300, 0), "n/a");
    assert.equal(formatRatio(null, 400), "n/a");
    assert.equal(formatRatio(300, undefined), "n/a");
  });

  it("converts bytes and seconds to MB/s and CPU seconds per GiB", () => {
    assert.equal(megabytesPerSecond(400e6, 2), 200);
    assert.ok(Number.isNaN(megabytesPerSecond(1, 0)));
    assert.equal(cpuSecondsPerGiB(3, 2 * GIB), 1.5);
  });
});

describe("bench markdown tables", () => {
  it("writes header, alignment and rows, padding short rows", () => {
    const t = markdownTable(["pair", "MB/s"], [["a → b", "12"], ["c"]], ["left", "right"]);
    assert.equal(t, ["| pair | MB/s |", "| --- | ---: |", "| a → b | 12 |", "| c |  |"].join("\n"));
  });

  it("escapes | inside cells and refuses rows wider than the header", () => {
    assert.match(markdownTable(["x"], [["a|b"]]), /\| a\\\|b \|/);
    assert.throws(() => markdownTable(["x"], [["a", "b"]]), /2 cells for 1 columns/);
  });
});

describe("bench /proc parsing", () => {
  it("parses /proc/<pid>/stat with spaces and parentheses in the command name", () => {
    const fields = Array.from({ length: 40 }, (_, i) => String(i + 3));
    fields[0] = "S"; // field 3, state
    fields[1] = "42"; // field 4, ppid
    fields[11] = "150"; // utime (14)
    fields[12] = "50"; // stime (15)
    fields[13] = "30"; // cutime (16)
    fields[14] = "20"; // cstime (17)
    const s = parseProcStat(`1234 (my (odd) prog) ${fields.join(" ")}\n`);
    assert.equal(s.pid, 1234);
    assert.equal(s.comm, "my (odd) prog");
    assert.equal(s.state, "S");
    assert.equal(s.ppid, 42);
    assert.deepEqual([s.utime, s.stime, s.cutime, s.cstime], [150, 50, 30, 20]);
    assert.equal(statCpuSeconds(s), 2.5);
    assert.throws(() => parseProcStat("garbage"), /not a \/proc/);
  });

  it("parses this process's real stat", () => {
    const s = parseProcStat(fs.readFileSync("/proc/self/stat", "utf8"));
    assert.equal(s.pid, process.pid);
    assert.equal(s.ppid, process.ppid);
  });

  it("parses smaps_rollup into RSS, PSS and USS", () => {
    const text = [
      "55d0c8a00000-7ffd3c9f5000 ---p 00000000 00:00 0                          [rollup]",
      "Rss:               15360 kB",
      "Pss:                4096 kB",
      "Shared_Clean:      14000 kB",
      "Shared_Dirty:        760 kB",
      "Private_Clean:       100 kB",
      "Private_Dirty:       500 kB",
      "Swap:                  0 kB",
    ].join("\n");
    assert.deepEqual(parseSmapsRollup(text), { rss: 15360, pss: 4096, uss: 600 });
    assert.throws(() => parseSmapsRollup("Pss: 1 kB"), /without an Rss/);
  });

  it("finds a process tree and sums its memory", () => {
    const stats = readAllStats();
    const tree = descendants(process.ppid, stats);
    assert.equal(tree[0], process.ppid);
    assert.ok(tree.includes(process.pid));
    const own = treeMemory(process.pid);
    assert.ok(own.processes >= 1);
    assert.ok(own.rss >= own.uss && own.uss > 0);
  });

  it("reads cgroup v2 cpu.stat usage", () => {
    assert.equal(parseCpuStatUsage("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n"), 2.5);
    assert.throws(() => parseCpuStatUsage("user_usec 1\n"), /usage_usec/);
  });
});

describe("bench openssl speed and client arguments", () => {
  it("parses openssl speed -mr output in MB/s", () => {
    const out =
      "+DT:AES-128-GCM:1:32768\n+R:29721:AES-128-GCM:0.260000\n+H:32768\n+F:25:AES-128-GCM:3745760492.31\n";
    assert.deepEqual(parseOpensslSpeed(out), { name: "AES-128-GCM", mbps: 3745.76049231 });
    assert.equal(parseOpensslSpeed("Invalid command\n"), null);
  });

  it("round-trips the client command line", () => {
    const flags = clientFlags({
      port: 2222,
      key: "/k",
      cipher: "aes128-ctr",
      mac: null,
      kex: "curve25519-sha256",
    });
    const a = parseClientArgs([...flags, "upload", "/f"]);
    assert.deepEqual(a, {
      port: 2222,
      key: "/k",
      cipher: "aes128-ctr",
      mac: null,
      kex: "curve25519-sha256",
      mode: "upload",
      args: ["/f"],
    });
    assert.throws(() => parseClientArgs(["--port", "1", "upload"]), /usage/);
    assert.throws(() => parseClientArgs(["--bogus", "1"]), /unknown option --bogus/);
  });

  it("opens exactly the asked number of things, a few at a time", async () => {
    let active = 0;
    let peak = 0;
    const opened = await openMany(10, 3, async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setImmediate(r));
      active--;
      return 1;
    });
    assert.equal(opened.length, 10);
    assert.ok(peak <= 3);
  });
});

describe("bench CPU profile summary", () => {
  it("sums self time by function and file, leaves idle out, and counts our callers inclusively", () => {
    const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 0 });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame("(root)", ""), children: [2, 4] },
        {
          id: 2,
          callFrame: frame("pump", "file:///work/main/dist/src/transport/transport.js"),
          children: [3],
        },
        { id: 3, callFrame: frame("update", "node:internal/crypto/cipher") },
        { id: 4, callFrame: frame("(idle)", "") },
      ],
      samples: [3, 3, 2, 4, 4],
      timeDeltas: [1000, 1000, 2000, 5000, 5000],
    };
    const s = summarizeProfile(profile);
    assert.deepEqual(
      s.functions.map((l) => [l.name, l.ms]),
      [
        ["node:internal/crypto/cipher:update", 2],
        ["src/transport/transport.ts:pump", 2],
      ],
    );
    assert.equal(s.functions[0]!.share, 0.5);
    assert.deepEqual(
      s.inclusive.map((l) => [l.name, l.ms, l.share]),
      [["src/transport/transport.ts:pump", 4, 1]],
    );
    assert.equal(s.files.length, 2);
  });
});
