/**
 * Case 6: memory added per idle authenticated connection. The nssh library client, in a process of its
 * own, opens N connections (no channel) and holds them; the server's whole process tree is measured from
 * /proc/<pid>/smaps_rollup before and while they are held: USS (private pages) and RSS, per connection.
 */
import { clientFlags } from "./clientArgs.js";
import type { BenchFixtures } from "./fixtures.js";
import { treeMemory } from "./procfs.js";
import { failureReason, startMeasured, type RunningProgram } from "./runMeasured.js";
import { distFile, type BenchServer } from "./servers.js";
import { formatNumber, formatRatio } from "./stats.js";
import { markdownTable } from "./table.js";
import type { Servers } from "./throughput.js";

export interface MemoryOptions {
  fx: BenchFixtures;
  servers: Servers;
  quick: boolean;
  progress: (line: string) => void;
}

const WARM_UP = 40;

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Measured {
  ussKiB: number;
  rssKiB: number;
  processes: number;
  failure: string | null;
}

function hold(o: MemoryOptions, server: BenchServer, count: number): RunningProgram {
  return startMeasured({
    argv: [
      process.execPath,
      distFile("bench/nsshClientMain.js"),
      ...clientFlags({ port: server.port, key: o.fx.userKey, kex: "curve25519-sha256" }),
      "hold",
      String(count),
    ],
    captureStdout: true,
    holdStdin: true,
    timeoutMs: 600_000,
  });
}

async function measure(o: MemoryOptions, server: BenchServer, count: number): Promise<Measured> {
  // A warm-up batch first, held open through both readings: a Node server's heap and its processes grow
  // to a working size on their first connections (and the garbage of that growth is collected at some
  // later point), which would otherwise be charged to, or credited against, the measured ones. What is
  // measured is what one connection more costs a server that already has some. 40 is enough for nsshd's
  // pre-auth workers (one per core) to be replaced before the first reading as before the second (after
  // 16 connections, at the first idle second): what a worker keeps of past key exchanges is no idle
  // connection's, and the figure would otherwise swing with where the workers are in that cycle.
  const warm = hold(o, server, WARM_UP);
  await warm.waitFor("ready", 120_000).catch(() => {});
  await settle(3000);
  const before = treeMemory(server.pid);
  const holder = hold(o, server, count);
  const releaseAll = async (): Promise<Awaited<RunningProgram["done"]>> => {
    holder.release();
    warm.release();
    return (await Promise.all([holder.done, warm.done]))[0];
  };
  try {
    await holder.waitFor("ready", 300_000);
  } catch (err) {
    const r = await releaseAll();
    return {
      ussKiB: NaN,
      rssKiB: NaN,
      processes: 0,
      failure: `fails: ${failureReason(r) || (err as Error).message}`,
    };
  }
  // Idle connections: let each server finish what the burst of logins started (forked session processes;
  // nsshd replaces pre-auth workers a second after the last login). sshd's figure does not move with it.
  await settle(3000);
  const during = treeMemory(server.pid);
  await releaseAll();
  return {
    ussKiB: (during.uss - before.uss) / count,
    rssKiB: (during.rss - before.rss) / count,
    processes: during.processes - before.processes,
    failure: null,
  };
}

export async function runMemory(o: MemoryOptions): Promise<string> {
  const counts = o.quick ? [50] : [100, 1000];
  const servers = [o.servers.ours, o.servers.openssh, o.servers.ssh2];
  const rows: string[][] = [];
  for (const count of counts) {
    const results = new Map<BenchServer, Measured>();
    for (const server of servers) {
      o.progress(`memory: ${count} connections to ${server.label}`);
      results.set(server, await measure(o, server, count));
    }
    const ref = results.get(o.servers.openssh)!;
    for (const server of servers) {
      const m = results.get(server)!;
      rows.push(
        m.failure
          ? [`${count}`, server.label, m.failure, "", "", ""]
          : [
              `${count}`,
              server.label,
              formatNumber(m.ussKiB),
              formatRatio(m.ussKiB, ref.ussKiB),
              formatNumber(m.rssKiB),
              String(m.processes),
            ],
      );
    }
  }
  return [
    "Idle authenticated connections (nssh library client, curve25519-sha256, no channel open), memory the",
    "server's whole process tree gained per connection once they had all been open for 3 s (/proc/<pid>/smaps_rollup;",
    `USS = Private_Clean + Private_Dirty), on top of a warm-up batch of ${WARM_UP} held open through both readings.`,
    "One measurement each, so a Node server's figure moves with its garbage collector (it can even come out",
    "below zero with few connections); RSS counts shared pages once per process.",
    "",
    markdownTable(
      ["connections", "server", "USS KiB/conn", "vs sshd", "RSS KiB/conn", "processes added"],
      rows,
      ["right", "left", "right", "right", "right", "right"],
    ),
  ].join("\n");
}
