/**
 * `npm run bench` (node dist/bench/index.js [--quick] [--targets] [--only=name,name] [--keep]): prints the
 * machine, starts the servers under test (nssh's, OpenSSH's sshd, ssh2's; see servers.ts), runs each
 * section and writes the report to bench/results/latest.md. Add a case by adding a section to SECTIONS.
 * Section names for --only: ciphers, channel, sftp, scp, latency, rate, memory, ceilings.
 */
import fs from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, totalmem } from "node:os";
import { parseBenchArguments, type BenchArguments } from "./benchArgs.js";
import { runCeilings } from "./ceilings.js";
import { runCipherBench } from "./cipherThroughput.js";
import { builtCommand, NSCP_CLI, NSFTP_CLI, NSSH_CLI } from "./clients.js";
import { benchCgroupParent, removeCgroup } from "./cpuMeter.js";
import { prepareFixtures, type BenchFixtures } from "./fixtures.js";
import { runLoginLatency, runLoginRate } from "./login.js";
import { runMemory } from "./memory.js";
import { opensshVersion, startOpenSsh, startOurs, startSsh2 } from "./servers.js";
import { runChannelThroughput, runScpThroughput, runSftpThroughput, type Servers } from "./throughput.js";

interface Context {
  quick: boolean;
  /** --targets: the throughput sections run only the pairs the targets compare, for every cipher. */
  targetsOnly: boolean;
  fx: BenchFixtures;
  servers: Servers;
  progress: (line: string) => void;
}

interface Section {
  name: string;
  title: string;
  run(ctx: Context): Promise<string>;
}

const runs = (quick: boolean): number => (quick ? 3 : 5);

const SECTIONS: Section[] = [
  {
    name: "ciphers",
    title: "7a. Packet ciphers (our packet layer vs Node's primitives)",
    run: (c) => runCipherBench(c),
  },
  {
    name: "channel",
    title: "1. Raw channel throughput",
    run: (c) => runChannelThroughput({ ...c, runs: runs(c.quick) }),
  },
  {
    name: "sftp",
    title: "2. SFTP get and put",
    run: (c) => runSftpThroughput({ ...c, runs: runs(c.quick) }),
  },
  { name: "scp", title: "3. scp down and up", run: (c) => runScpThroughput({ ...c, runs: runs(c.quick) }) },
  { name: "latency", title: "4. Login latency", run: (c) => runLoginLatency(c) },
  { name: "rate", title: "5. Login rate", run: (c) => runLoginRate(c) },
  { name: "memory", title: "6. Memory per idle authenticated connection", run: (c) => runMemory(c) },
  { name: "ceilings", title: "7b. Ceilings: OpenSSL and loopback TCP", run: (c) => runCeilings(c.fx, c) },
];

/**
 * Environment variables removed for the programs under test, with why. NODE_EXTRA_CA_CERTS names a file of
 * TLS certificates that Node 20 parses at every process start, before any of the program's code (here about
 * 80 ms of CPU for Debian's bundle, against ~20 ms for the rest of `node -e 0`); no SSH program reads it,
 * and a machine that sets it for its own TLS would charge it to every Node program measured here.
 */
const REMOVED_ENVIRONMENT: Record<string, string> = {
  NODE_EXTRA_CA_CERTS: "Node 20 parses that certificate file at every process start",
};

/** Remove REMOVED_ENVIRONMENT from what the servers and clients started from here inherit; say what was. */
function cleanEnvironment(): string[] {
  const removed: string[] = [];
  for (const [name, why] of Object.entries(REMOVED_ENVIRONMENT)) {
    if (process.env[name] === undefined) continue;
    delete process.env[name];
    removed.push(`- Removed from the environment of the programs under test: ${name} (${why})`);
  }
  return removed;
}

function machine(cpuMeterKind: string, ourLabel: string, note: string, environment: string[]): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const present = (rel: string, name: string): string =>
    `${name} ${builtCommand(rel) ? "built" : "not built yet"}`;
  return [
    `- CPU: ${cpu}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB memory`,
    `- Node ${process.version} (OpenSSL ${process.versions.openssl}), ${process.platform}-${process.arch}`,
    `- ${opensshVersion()}`,
    `- nssh server side: ${ourLabel}${note ? ` (${note})` : ""}`,
    `- nssh commands: ${present(NSSH_CLI, "nssh")}, ${present(NSFTP_CLI, "nsftp")}, ${present(NSCP_CLI, "nscp")}`,
    `- Server CPU counted by: ${cpuMeterKind === "cgroup" ? "a cgroup v2 per server" : "/proc times of each server's process tree"}`,
    ...environment,
    `- Date: ${new Date().toISOString()}`,
  ].join("\n");
}

async function main(): Promise<void> {
  let parsed: BenchArguments;
  try {
    parsed = parseBenchArguments(
      process.argv.slice(2),
      SECTIONS.map((s) => s.name),
    );
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(2);
  }
  const { quick, targetsOnly, keep, only } = parsed;
  const progress = (line: string): void => console.error(`  .. ${line}`);
  const environment = cleanEnvironment();
  const fx = prepareFixtures(quick ? 128 : 1024);
  const cgroupParent = benchCgroupParent();
  const started: Array<{ stop(): Promise<void> }> = [];
  const cleanUp = async (): Promise<void> => {
    for (const s of started.splice(0).reverse()) await s.stop();
    if (cgroupParent) removeCgroup(cgroupParent);
    if (keep) console.error(`bench: the servers' logs are kept in ${fx.workDir}`);
    else fs.rmSync(fx.workDir, { recursive: true, force: true });
  };
  // Interrupted (Ctrl-C, a timeout): the servers are ours to end.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      console.error(`bench: ${signal}, stopping the servers`);
      void cleanUp().finally(() => process.exit(130));
    });
  try {
    const ours = await startOurs(fx, cgroupParent);
    started.push(ours.server);
    const openssh = await startOpenSsh(fx, cgroupParent);
    started.push(openssh);
    const ssh2 = await startSsh2(fx, cgroupParent);
    started.push(ssh2);
    const servers: Servers = { ours: ours.server, openssh, ssh2 };
    const parts = [
      `# nssh benchmarks${quick ? " (quick)" : ""}${targetsOnly ? " (target pairs)" : ""}`,
      "",
      machine(openssh.cpu.kind, ours.server.label, ours.note, environment),
    ];
    console.log(parts.join("\n"));
    const ctx: Context = { quick, targetsOnly, fx, servers, progress };
    for (const section of SECTIONS) {
      if (only && !only.has(section.name)) continue;
      const t0 = performance.now();
      let body: string;
      try {
        body = await section.run(ctx);
      } catch (err) {
        body = `failed: ${(err as Error).stack ?? String(err)}`;
      }
      progress(`${section.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      const text = `\n## ${section.title}\n\n${body}`;
      console.log(text);
      parts.push(text);
    }
    // dist/bench/index.js -> <repo>/bench/results/
    const dir = new URL("../../bench/results/", import.meta.url);
    await mkdir(dir, { recursive: true });
    await writeFile(new URL("latest.md", dir), parts.join("\n") + "\n");
    console.log(`\nwritten to ${new URL("latest.md", dir).pathname}`);
  } finally {
    await cleanUp();
  }
}

await main();
