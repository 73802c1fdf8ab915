/**
 * Cases 1-3: bulk throughput of the test file through a session channel (`cat`), SFTP and scp, for each
 * cipher and each client × server pair, runs alternated pair by pair (A B C A B C ...) so drift on a
 * shared machine hits every pair alike. Reports MB/s as median (min-max), the ratio to OpenSSH's client
 * against OpenSSH's sshd, and CPU seconds per GiB on each side (client: its whole process tree; server:
 * its cgroup, or its process tree).
 */
import { pairRuns, TARGETS_NOTE } from "./pairs.js";
import {
  CHANNEL_CLIENTS,
  SCP_CLIENTS,
  SFTP_CLIENTS,
  channelRun,
  scpRun,
  sftpRun,
  type Algorithms,
  type Built,
  type Target,
} from "./clients.js";
import type { BenchFixtures } from "./fixtures.js";
import { failureReason, runMeasured } from "./runMeasured.js";
import type { BenchServer } from "./servers.js";
import {
  cpuSecondsPerGiB,
  formatNumber,
  formatRatio,
  formatSummary,
  megabytesPerSecond,
  summarize,
} from "./stats.js";
import { markdownTable } from "./table.js";

export interface CipherCase {
  label: string;
  algorithms: Algorithms;
}

/** The negotiated algorithms of the throughput cases; the key exchange is the same for every pair. */
export const CIPHER_CASES: CipherCase[] = [
  {
    label: "aes128-gcm@openssh.com",
    algorithms: { cipher: "aes128-gcm@openssh.com", mac: null, kex: "curve25519-sha256" },
  },
  {
    label: "chacha20-poly1305@openssh.com",
    algorithms: { cipher: "chacha20-poly1305@openssh.com", mac: null, kex: "curve25519-sha256" },
  },
  {
    label: "aes128-ctr + hmac-sha2-256-etm@openssh.com",
    algorithms: { cipher: "aes128-ctr", mac: "hmac-sha2-256-etm@openssh.com", kex: "curve25519-sha256" },
  },
];

export interface Servers {
  ours: BenchServer;
  openssh: BenchServer;
  ssh2: BenchServer;
}

export interface ThroughputOptions {
  fx: BenchFixtures;
  servers: Servers;
  runs: number;
  quick: boolean;
  /** --targets: only the pairs the targets compare, for every cipher (pairs.ts). */
  targetsOnly: boolean;
  /** Progress lines (stderr). */
  progress: (line: string) => void;
}

/** One measured thing: a client against a server in one direction. */
interface Entry {
  client: string;
  server: BenchServer;
  direction: 0 | 1;
  build: () => Built;
}

interface Result {
  mbps: number[];
  clientCpu: number[];
  serverCpu: number[];
  failure: string | null;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every entry `runs` times, alternating; a failing entry is reported once and not run again. */
async function measureAll(
  entries: Entry[],
  o: ThroughputOptions,
  title: string,
): Promise<Map<Entry, Result>> {
  const results = new Map<Entry, Result>();
  for (const e of entries) {
    const b = e.build();
    results.set(e, { mbps: [], clientCpu: [], serverCpu: [], failure: "na" in b ? b.na : null });
  }
  for (let run = 0; run < o.runs; run++) {
    o.progress(`${title}: run ${run + 1}/${o.runs}`);
    for (const e of entries) {
      const r = results.get(e)!;
      if (r.failure) continue;
      const spec = e.build();
      if ("na" in spec) continue;
      const serverBefore = e.server.cpu.seconds();
      // No run should take longer than moving the data at 2 MB/s plus a minute.
      const m = await runMeasured({ timeoutMs: 60_000 + o.fx.dataBytes / 2000, ...spec });
      await settle(50); // the server's session process finishing after the client's exit
      const serverCpu = e.server.cpu.seconds() - serverBefore;
      if (m.code !== 0) {
        r.failure = `fails: ${failureReason(m)}`;
        o.progress(`  ${e.client} -> ${e.server.label}: ${r.failure}`);
        continue;
      }
      if (run === 0)
        o.progress(`  ${e.client} -> ${e.server.label} ${e.direction}: ${m.seconds.toFixed(2)} s`);
      r.mbps.push(megabytesPerSecond(o.fx.dataBytes, m.seconds));
      r.clientCpu.push(cpuSecondsPerGiB(m.clientCpu, o.fx.dataBytes));
      r.serverCpu.push(cpuSecondsPerGiB(serverCpu, o.fx.dataBytes));
    }
  }
  return results;
}

/**
 * A table of pairs with two directions each. The reference for the ratio is the pair whose client is
 * `referenceClient` against OpenSSH's sshd, in the same direction.
 */
function pairTable(
  results: Map<Entry, Result>,
  directions: [string, string],
  referenceClient: string,
  servers: Servers,
): string {
  const byPair = new Map<string, Array<[Entry, Result]>>();
  for (const [e, r] of results) {
    const key = `${e.client} → ${e.server.label}`;
    byPair.set(key, [...(byPair.get(key) ?? []), [e, r]]);
  }
  const reference = (direction: number): number | null => {
    for (const [e, r] of results)
      if (e.client === referenceClient && e.server === servers.openssh && e.direction === direction)
        return summarize(r.mbps)?.median ?? null;
    return null;
  };
  const rows: string[][] = [];
  for (const [pair, list] of byPair) {
    const cells = [pair];
    for (const d of [0, 1] as const) {
      const found = list.find(([e]) => e.direction === d);
      if (!found) {
        cells.push("", "", "");
        continue;
      }
      const r = found[1];
      if (r.failure) {
        cells.push(r.failure, "", "");
        continue;
      }
      const mbps = summarize(r.mbps);
      const c = summarize(r.clientCpu);
      const s = summarize(r.serverCpu);
      cells.push(
        formatSummary(mbps),
        formatRatio(mbps?.median, reference(d)),
        `${c ? formatNumber(c.median) : "n/a"} / ${s ? formatNumber(s.median) : "n/a"}`,
      );
    }
    rows.push(cells);
  }
  return markdownTable(
    [
      "client → server",
      `${directions[0]} MB/s`,
      "vs OpenSSH",
      "CPU s/GiB client / server",
      `${directions[1]} MB/s`,
      "vs OpenSSH",
      "CPU s/GiB client / server",
    ],
    rows,
    ["left", "right", "right", "right", "right", "right", "right"],
  );
}

function serverList(s: Servers): BenchServer[] {
  return [s.ours, s.openssh, s.ssh2];
}

function target(o: ThroughputOptions, server: BenchServer, c: CipherCase): Target {
  return { server, key: o.fx.userKey, algorithms: c.algorithms };
}

const explain = (o: ThroughputOptions, what: string): string =>
  [
    `${what} ${o.fx.dataBytes / 2 ** 20} MiB of random data, ${o.runs} runs per pair alternated pair by pair;`,
    "MB/s (10^6 B/s) as median (min-max) of the whole client run (start, key exchange, login and transfer);",
    "vs OpenSSH: against OpenSSH's client → sshd in the same direction; CPU: medians, the client's whole",
    "process tree and the server's (cgroup or process tree) per GiB moved. Key exchange curve25519-sha256.",
  ].join("\n");

export async function runChannelThroughput(o: ThroughputOptions): Promise<string> {
  const parts = [explain(o, "`cat > /dev/null` fed with (upload) and `cat file` read from (download)")];
  for (const [i, c] of CIPHER_CASES.entries()) {
    const entries: Entry[] = [];
    for (const client of CHANNEL_CLIENTS)
      for (const server of serverList(o.servers)) {
        if (!pairRuns(o, "channel", i, client, server.system)) continue;
        for (const direction of [0, 1] as const)
          entries.push({
            client,
            server,
            direction,
            build: () => channelRun(client, target(o, server, c), direction === 0, o.fx.dataFile),
          });
      }
    if (entries.length === 0) continue; // a cipher this pass skips
    const results = await measureAll(entries, o, `channel ${c.label}`);
    parts.push(`\n### ${c.label}\n`, pairTable(results, ["upload", "download"], "OpenSSH ssh", o.servers));
  }
  if (o.targetsOnly) parts.push(TARGETS_NOTE);
  return parts.join("\n");
}

export async function runSftpThroughput(o: ThroughputOptions): Promise<string> {
  const parts = [
    explain(o, "SFTP get of the file (into a local file) and put of it (to /dev/null on the server):"),
    "The ssh2 server's SFTP is ssh2's parser with minimal file handlers written for the benchmark.",
  ];
  for (const [i, c] of CIPHER_CASES.entries()) {
    const entries: Entry[] = [];
    for (const client of SFTP_CLIENTS)
      for (const server of serverList(o.servers)) {
        if (!pairRuns(o, "sftp", i, client, server.system)) continue;
        for (const direction of [0, 1] as const)
          entries.push({
            client,
            server,
            direction,
            build: () => sftpRun(client, target(o, server, c), direction === 0, o.fx.dataFile, o.fx.workDir),
          });
      }
    if (entries.length === 0) continue; // a cipher this pass skips
    const results = await measureAll(entries, o, `sftp ${c.label}`);
    parts.push(`\n### ${c.label}\n`, pairTable(results, ["get", "put"], "OpenSSH sftp", o.servers));
  }
  if (o.targetsOnly) parts.push(TARGETS_NOTE);
  else if (o.quick) parts.push("\n(--quick: aes128-gcm only; against the ssh2 server only its own client.)");
  return parts.join("\n");
}

export async function runScpThroughput(o: ThroughputOptions): Promise<string> {
  const parts = [explain(o, "scp of the file down (into a local file) and up (to /dev/null on the server):")];
  for (const [i, c] of CIPHER_CASES.entries()) {
    const entries: Entry[] = [];
    for (const client of SCP_CLIENTS)
      for (const server of [o.servers.ours, o.servers.openssh]) {
        if (!pairRuns(o, "scp", i, client, server.system)) continue;
        for (const direction of [0, 1] as const)
          entries.push({
            client,
            server,
            direction,
            build: () => scpRun(client, target(o, server, c), direction === 1, o.fx.dataFile, o.fx.workDir),
          });
      }
    if (entries.length === 0) continue; // a cipher this pass skips
    const results = await measureAll(entries, o, `scp ${c.label}`);
    parts.push(`\n### ${c.label}\n`, pairTable(results, ["down", "up"], "OpenSSH scp", o.servers));
  }
  if (o.targetsOnly) parts.push(TARGETS_NOTE);
  else if (o.quick) parts.push("\n(--quick: aes128-gcm only.)");
  return parts.join("\n");
}
