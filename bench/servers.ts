/**
 * The servers under test, each started by the harness on 127.0.0.1 and a free port, in a CPU meter of its
 * own (cpuMeter.ts): nsshd (or, while nsshd cannot serve the benchmarks, the library server in a child
 * process), OpenSSH's sshd with a config of its own, and the ssh2 library's server.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createCpuMeter, type CpuMeter } from "./cpuMeter.js";
import { BENCH_USER, freePort, waitForPort, type BenchFixtures } from "./fixtures.js";
import { descendants, readAllStats } from "./procfs.js";

export type SystemName = "nssh" | "openssh" | "ssh2";

export interface BenchServer {
  system: SystemName;
  /** What runs, for the report ("nsshd", "nssh library server", "sshd (OpenSSH_9.2p1)", "ssh2 1.17"). */
  label: string;
  port: number;
  pid: number;
  cpu: CpuMeter;
  stop(): Promise<void>;
}

/** dist/bench/x.js -> dist/ */
const DIST = fileURLToPath(new URL("../", import.meta.url));
export const distFile = (rel: string): string => path.join(DIST, rel);
export const SSHD = "/usr/sbin/sshd";
export const SFTP_SERVER = "/usr/lib/openssh/sftp-server";

function keygen(file: string): void {
  if (fs.existsSync(file)) return;
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

function startProcess(argv: string[], cpu: CpuMeter, logFile: string): Started {
  const wrapped = cpu.wrap(argv);
  const log = fs.openSync(logFile, "a");
  const child = spawn(wrapped[0]!, wrapped.slice(1), { stdio: ["ignore", log, log] });
  fs.closeSync(log);
  cpu.attach(child.pid!);
  return { child, output: () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "") };
}

/** SIGTERM the process, then SIGKILL whatever is left of its tree (sshd's per-connection children). */
async function stopTree(child: ChildProcess): Promise<void> {
  const pid = child.pid!;
  const tree = descendants(pid, readAllStats());
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(timer);
  }
  for (const p of tree) {
    if (p === pid) continue;
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

async function started(s: Started, port: number, what: string): Promise<void> {
  const exited = new Promise<never>((_, reject) =>
    s.child.once("exit", (code) => reject(new Error(`${what} exited (${code}) at start:\n${s.output()}`))),
  );
  exited.catch(() => {});
  await Promise.race([waitForPort(port), exited]);
}

function benchServer(
  system: SystemName,
  label: string,
  port: number,
  s: Started,
  cpu: CpuMeter,
): BenchServer {
  return {
    system,
    label,
    port,
    pid: s.child.pid!,
    cpu,
    stop: async () => {
      await stopTree(s.child);
      cpu.remove();
    },
  };
}

export function opensshVersion(): string {
  const r = spawnSync("ssh", ["-V"], { encoding: "utf8" });
  return (r.stderr || r.stdout).trim();
}

/** Debian's sshd: its own host key, the bench key authorized for the bench user, no PAM, sftp-server for SFTP. */
export async function startOpenSsh(fx: BenchFixtures, cgroupParent: string | null): Promise<BenchServer> {
  const dir = path.join(fx.workDir, "sshd");
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, "host_ed25519");
  keygen(hostKey);
  const authorized = path.join(dir, "authorized_keys");
  fs.writeFileSync(authorized, fx.userPublicKey + "\n", { mode: 0o644 });
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation directory
  const port = await freePort();
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      "PidFile none",
      "UsePAM no",
      "StrictModes no",
      "PermitRootLogin prohibit-password",
      `AuthorizedKeysFile ${authorized}`,
      // Debian's own default: sftp-server as a separate program.
      `Subsystem sftp ${SFTP_SERVER}`,
      // The defaults (10:30:100) drop unauthenticated connections beyond 10; the memory case opens
      // hundreds, a few at a time, and login rate 8 at once: both stay under it, so keep the default.
      "LogLevel INFO",
      "",
    ].join("\n"),
  );
  const cpu = createCpuMeter(cgroupParent, "openssh");
  const s = startProcess([SSHD, "-D", "-e", "-f", config], cpu, path.join(dir, "sshd.log"));
  await started(s, port, "sshd");
  return benchServer("openssh", `sshd (${opensshVersion().split(",")[0]})`, port, s, cpu);
}

/** The ssh2 library's server (ssh2ServerMain.ts). */
export async function startSsh2(fx: BenchFixtures, cgroupParent: string | null): Promise<BenchServer> {
  const dir = path.join(fx.workDir, "ssh2");
  fs.mkdirSync(dir, { recursive: true });
  const hostKey = path.join(dir, "host_ed25519");
  keygen(hostKey);
  const port = await freePort();
  const cpu = createCpuMeter(cgroupParent, "ssh2");
  const s = startProcess(
    [process.execPath, distFile("bench/ssh2ServerMain.js"), String(port), hostKey, fx.userPublicKey],
    cpu,
    path.join(dir, "server.log"),
  );
  await started(s, port, "the ssh2 server");
  const version = JSON.parse(
    fs.readFileSync(fileURLToPath(new URL("../../node_modules/ssh2/package.json", import.meta.url)), "utf8"),
  ) as { version: string };
  return benchServer("ssh2", `ssh2 ${version.version} server`, port, s, cpu);
}

/** The library server (ourServerMain.ts) in a child process. */
async function startLibraryServer(fx: BenchFixtures, cgroupParent: string | null): Promise<BenchServer> {
  const dir = path.join(fx.workDir, "nssh-lib");
  fs.mkdirSync(dir, { recursive: true });
  const hostKey = path.join(dir, "host_ed25519");
  keygen(hostKey);
  const port = await freePort();
  const cpu = createCpuMeter(cgroupParent, "nssh");
  const s = startProcess(
    [process.execPath, distFile("bench/ourServerMain.js"), String(port), hostKey, fx.userPublicKey],
    cpu,
    path.join(dir, "server.log"),
  );
  await started(s, port, "the library server");
  return benchServer("nssh", "nssh library server (createServer)", port, s, cpu);
}

/** nsshd -D -e with a config of its own; null (with the reason) when it cannot serve a login yet. */
async function startNsshd(
  fx: BenchFixtures,
  cgroupParent: string | null,
): Promise<{ server: BenchServer | null; reason: string }> {
  const nsshd = distFile("src/cli/nsshd.js");
  if (!fs.existsSync(nsshd)) return { server: null, reason: "not built yet" };
  const dir = path.join(fx.workDir, "nsshd");
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, "host_ed25519");
  keygen(hostKey);
  const authorized = path.join(dir, "authorized_keys");
  fs.writeFileSync(authorized, fx.userPublicKey + "\n", { mode: 0o644 });
  const port = await freePort();
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    [
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      "PidFile none",
      "UsePAM no",
      "StrictModes no",
      `AuthorizedKeysFile ${authorized}`,
      "Subsystem sftp internal-sftp",
      "",
    ].join("\n"),
  );
  const cpu = createCpuMeter(cgroupParent, "nsshd");
  const s = startProcess(
    [process.execPath, nsshd, "-D", "-e", "-f", config, "-p", String(port)],
    cpu,
    path.join(dir, "nsshd.log"),
  );
  const server = benchServer("nssh", "nsshd", port, s, cpu);
  try {
    await started(s, port, "nsshd");
    // It must log in with the bench key and run a command, or it is not ready for the benchmarks.
    const r = spawnSync(
      "ssh",
      [...opensshClientOptions(fx.userKey, port), `${BENCH_USER}@127.0.0.1`, "echo ok"],
      {
        encoding: "utf8",
        timeout: 15_000,
      },
    );
    if (r.stdout.trim() !== "ok") {
      await server.stop();
      const why = (r.stderr || s.output()).trim().split("\n").slice(-2).join(" / ");
      return { server: null, reason: `cannot serve a login yet (${why.slice(0, 160)})` };
    }
    return { server, reason: "" };
  } catch (err) {
    await server.stop();
    return { server: null, reason: `does not start (${(err as Error).message.split("\n")[0]})` };
  }
}

/** Our side: nsshd when it serves a login, else the library server. */
export async function startOurs(
  fx: BenchFixtures,
  cgroupParent: string | null,
): Promise<{ server: BenchServer; note: string }> {
  const { server, reason } = await startNsshd(fx, cgroupParent);
  if (server) return { server, note: "" };
  return {
    server: await startLibraryServer(fx, cgroupParent),
    note: `nsshd ${reason}: the nssh server side is the library's createServer in a child process.`,
  };
}

/** ssh/scp/sftp options: the bench key only, no config, no known_hosts, no prompts. */
export function opensshClientOptions(key: string, port: number | null, portFlag = "-p"): string[] {
  return [
    "-F",
    "/dev/null",
    "-i",
    key,
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "BatchMode=yes",
    ...(port === null ? [] : [portFlag, String(port)]),
  ];
}
