/**
 * Cases 4 and 5: login latency (connect, authenticate with the ed25519 key, run `true`, close; serial) per
 * client × server, and login rate (8 clients at once for a fixed time) per server with the same client
 * and key exchange.
 */
import { availableParallelism } from "node:os";
import { LOGIN_CLIENTS, loginRun, type LoginClient, type Target } from "./clients.js";
import type { BenchFixtures } from "./fixtures.js";
import { failureReason, runMeasured } from "./runMeasured.js";
import type { BenchServer } from "./servers.js";
import { formatNumber, formatRatio, formatSummary, summarize } from "./stats.js";
import { markdownTable } from "./table.js";
import type { Servers } from "./throughput.js";

export interface LoginOptions {
  fx: BenchFixtures;
  servers: Servers;
  quick: boolean;
  progress: (line: string) => void;
}

const KEXES: Array<{ label: string; kex: string | null }> = [
  { label: "curve25519-sha256", kex: "curve25519-sha256" },
  { label: "each side's default key exchange", kex: null },
];

function serverList(s: Servers): BenchServer[] {
  return [s.ours, s.openssh, s.ssh2];
}

function target(fx: BenchFixtures, server: BenchServer, kex: string | null): Target {
  return { server, key: fx.userKey, algorithms: { cipher: null, mac: null, kex } };
}

interface Latency {
  client: LoginClient;
  server: BenchServer;
  ms: number[];
  failure: string | null;
}

export async function runLoginLatency(o: LoginOptions): Promise<string> {
  const count = o.quick ? 10 : 50;
  const parts = [
    `Connect, authenticate (ed25519 key), run \`true\`, close: ${count} serial logins per pair, milliseconds as`,
    "median (min-max). Commands (ssh, nssh) are timed as whole program runs, alternated pair by pair; the",
    "library clients run their logins in one process each (a warm-up login first, not counted).",
  ];
  for (const k of KEXES) {
    const entries: Latency[] = [];
    for (const client of LOGIN_CLIENTS)
      for (const server of serverList(o.servers)) {
        const b = loginRun(client, target(o.fx, server, k.kex), "login", [String(count + 1)]);
        entries.push({ client, server, ms: [], failure: "na" in b ? b.na : null });
      }
    // Library clients: one process per pair, its own timings.
    for (const e of entries) {
      if (e.failure) continue;
      const b = loginRun(e.client, target(o.fx, e.server, k.kex), "login", [String(count + 1)]);
      if ("na" in b || !b.inProcess) continue;
      o.progress(`login latency ${k.label}: ${e.client} -> ${e.server.label}`);
      const r = await runMeasured({ ...b, timeoutMs: 120_000 });
      if (r.code !== 0) {
        e.failure = `fails: ${failureReason(r)}`;
        continue;
      }
      e.ms = (JSON.parse(r.stdout) as number[]).slice(1);
    }
    // Commands: alternated run by run.
    for (let i = 0; i < count + 1; i++) {
      if (i % 5 === 0) o.progress(`login latency ${k.label}: commands, round ${i + 1}/${count + 1}`);
      for (const e of entries) {
        if (e.failure) continue;
        const b = loginRun(e.client, target(o.fx, e.server, k.kex), "login", []);
        if ("na" in b || b.inProcess) continue;
        const r = await runMeasured({ ...b, timeoutMs: 30_000 });
        if (r.code !== 0) {
          e.failure = `fails: ${failureReason(r)}`;
          continue;
        }
        if (i > 0) e.ms.push(r.seconds * 1000);
      }
    }
    const reference = (server: BenchServer): number | null =>
      summarize(entries.find((e) => e.client === "OpenSSH ssh" && e.server === server)?.ms ?? [])?.median ??
      null;
    const rows = entries.map((e) => {
      const s = summarize(e.ms);
      return [
        `${e.client} → ${e.server.label}`,
        e.failure ?? formatSummary(s),
        e.failure ? "" : formatRatio(s?.median, reference(e.server)),
      ];
    });
    parts.push(
      `\n### ${k.label}\n`,
      markdownTable(["client → server", "ms", "vs OpenSSH ssh, same server"], rows, [
        "left",
        "right",
        "right",
      ]),
    );
  }
  return parts.join("\n");
}

/** 8 `ssh host true` loops at once from the harness; logins completed per second. */
async function commandRate(
  argv: string[],
  seconds: number,
  concurrency: number,
): Promise<{ logins: number; rate: number; failure: string | null }> {
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  let logins = 0;
  let failure: string | null = null;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end && !failure) {
        const r = await runMeasured({ argv, timeoutMs: 30_000 });
        if (r.code === 0) logins++;
        else failure = `fails: ${failureReason(r)}`;
      }
    }),
  );
  return { logins, rate: logins / ((performance.now() - start) / 1000), failure };
}

/**
 * Logins per second of one client against `server` for `seconds` (8 at once) and the server's CPU
 * milliseconds per login, why it failed, or why it cannot run (`na`: a client not built).
 */
async function rateBurst(
  server: BenchServer,
  build: (seconds: number) => ReturnType<typeof loginRun>,
  seconds: number,
  concurrency: number,
): Promise<{ rate: number; serverCpuMs: number } | { failure: string } | { na: string }> {
  const b = build(seconds);
  if ("na" in b) return b;
  const cpu0 = server.cpu.seconds();
  let logins: number;
  let rate: number;
  if (b.inProcess) {
    const r = await runMeasured({ ...b, timeoutMs: (seconds + 60) * 1000 });
    if (r.code !== 0) return { failure: `fails: ${failureReason(r)}` };
    const out = JSON.parse(r.stdout) as { logins: number; seconds: number };
    logins = out.logins;
    rate = out.logins / out.seconds;
  } else {
    const r = await commandRate(b.argv, seconds, concurrency);
    if (r.failure) return { failure: r.failure };
    logins = r.logins;
    rate = r.rate;
  }
  return { rate, serverCpuMs: ((server.cpu.seconds() - cpu0) / Math.max(1, logins)) * 1000 };
}

export async function runLoginRate(o: LoginOptions): Promise<string> {
  const seconds = o.quick ? 3 : 15;
  // Uncounted logins first, by the same client, so that each server is measured in its steady state: the
  // section before may have let it idle long enough to replace processes (nsshd's pre-auth workers are,
  // after 16 connections; a user's session process lingers 10 s) and start the next logins on a cold JIT,
  // which compiles a login's hot functions over its first few hundred logins (some 150 TurboFan
  // compilations in each nsshd process). Their rate and CPU are reported too, as the cold start's.
  const warmUpSeconds = o.quick ? 1 : 10;
  const rounds = o.quick ? 1 : 3;
  const concurrency = 8;
  const clients: LoginClient[] = ["OpenSSH ssh", "nssh library"];
  const kex = "curve25519-sha256";
  type RateEntry = {
    values: number[];
    failure: string | null;
    serverCpu: number[];
    coldValues: number[];
    coldCpu: number[];
  };
  const rates = new Map<string, RateEntry>();
  const key = (c: LoginClient, s: BenchServer): string => `${c}|${s.label}`;
  for (let round = 0; round < rounds; round++) {
    for (const client of clients)
      for (const server of serverList(o.servers)) {
        const entry = rates.get(key(client, server)) ?? {
          values: [],
          failure: null,
          serverCpu: [],
          coldValues: [],
          coldCpu: [],
        };
        rates.set(key(client, server), entry);
        if (entry.failure) continue;
        o.progress(`login rate: ${client} -> ${server.label} (round ${round + 1}/${rounds})`);
        const run = (s: number) =>
          loginRun(client, target(o.fx, server, kex), "rate", [String(s), String(concurrency)]);
        const warm = await rateBurst(server, run, warmUpSeconds, concurrency);
        if (!("rate" in warm)) {
          entry.failure = "na" in warm ? warm.na : `warm-up ${warm.failure}`;
          continue;
        }
        entry.coldValues.push(warm.rate);
        entry.coldCpu.push(warm.serverCpuMs);
        const r = await rateBurst(server, run, seconds, concurrency);
        if (!("rate" in r)) {
          entry.failure = "na" in r ? r.na : r.failure;
          continue;
        }
        entry.values.push(r.rate);
        entry.serverCpu.push(r.serverCpuMs);
      }
  }
  const rows: string[][] = [];
  for (const client of clients)
    for (const server of serverList(o.servers)) {
      const e = rates.get(key(client, server))!;
      const ref = summarize(rates.get(key(client, o.servers.openssh))!.values)?.median;
      const s = summarize(e.values);
      const cpu = summarize(e.serverCpu);
      const cold = summarize(e.coldValues);
      const coldCpu = summarize(e.coldCpu);
      rows.push([
        `${client} → ${server.label}`,
        e.failure ?? formatSummary(s),
        e.failure ? "" : formatRatio(s?.median, ref),
        e.failure || !cpu ? "" : formatNumber(cpu.median),
        e.failure || !cold || !coldCpu
          ? ""
          : `${formatNumber(cold.median)} / ${formatNumber(coldCpu.median)}`,
      ]);
    }
  return [
    `${concurrency} clients at once for ${seconds} s (after ${warmUpSeconds} s of warm-up logins by the same client), key`,
    `exchange ${kex}, each login running \`true\`;`,
    `${rounds} round(s), logins/s as median (min-max). The client shares the machine's ${availableParallelism()} cores with`,
    "the server, so the client's own cost limits the rate too (ssh: one process per login). The last column:",
    "the warm-up's logins/s and server CPU ms per login (medians), not in the main figures: nsshd's processes may",
    "start cold.",
    "",
    markdownTable(
      [
        "client → server",
        "logins/s",
        "vs sshd, same client",
        "server CPU ms per login",
        `first ${warmUpSeconds} s: logins/s / CPU ms`,
      ],
      rows,
      ["left", "right", "right", "right", "right"],
    ),
  ].join("\n");
}
