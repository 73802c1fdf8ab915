/**
 * Case 7, the ceilings nothing above can beat on this machine: OpenSSL's own cipher speed on 32 KiB
 * blocks (`openssl speed -evp`, one core) and a plain loopback TCP copy of the test file (a Node sender
 * in its own process into a Node sink, no encryption). The packet layer's own cipher case is the
 * "Packet ciphers" section.
 */
import { spawnSync } from "node:child_process";
import net from "node:net";
import { distFile } from "./servers.js";
import type { BenchFixtures } from "./fixtures.js";
import { failureReason, runMeasured } from "./runMeasured.js";
import { cpuSecondsPerGiB, formatNumber, formatSummary, megabytesPerSecond, summarize } from "./stats.js";
import { markdownTable } from "./table.js";

/**
 * Parse `openssl speed -mr` output: the "+F:<n>:<name>:<bytes/s for each size>" line, in MB/s
 * (10^6 B/s) for the last (largest) size. Null when there is none.
 */
export function parseOpensslSpeed(text: string): { name: string; mbps: number } | null {
  for (const line of text.split("\n")) {
    const m = /^\+F:\d+:([^:]+):(.+)$/.exec(line.trim());
    if (!m) continue;
    const values = m[2]!.split(":").map(Number);
    const last = values.at(-1);
    if (last === undefined || !Number.isFinite(last)) continue;
    return { name: m[1]!, mbps: last / 1e6 };
  }
  return null;
}

function opensslSpeed(evp: string, seconds: number): string {
  const r = spawnSync(
    "openssl",
    ["speed", "-mr", "-seconds", String(seconds), "-bytes", "32768", "-evp", evp],
    {
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  const parsed = parseOpensslSpeed(r.stdout ?? "");
  return parsed
    ? formatNumber(parsed.mbps)
    : `fails: ${(r.stderr || r.error?.message || "").trim().slice(0, 100)}`;
}

/** The file through a loopback TCP connection: `node tcpSendMain.js PORT FILE` into a sink here. */
async function tcpCopy(fx: BenchFixtures, runs: number): Promise<string> {
  let received = 0;
  const sink = net.createServer((s) => s.on("data", (d: Buffer) => (received += d.length)));
  await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
  const port = (sink.address() as net.AddressInfo).port;
  const mbps: number[] = [];
  const cpu: number[] = [];
  let failure = "";
  try {
    for (let i = 0; i < runs; i++) {
      const r = await runMeasured({
        argv: [process.execPath, distFile("bench/tcpSendMain.js"), String(port), fx.dataFile],
      });
      if (r.code !== 0) {
        failure = `fails: ${failureReason(r)}`;
        break;
      }
      mbps.push(megabytesPerSecond(fx.dataBytes, r.seconds));
      cpu.push(cpuSecondsPerGiB(r.clientCpu, fx.dataBytes));
    }
  } finally {
    sink.close();
  }
  if (failure) return failure;
  return `${formatSummary(summarize(mbps))} MB/s (sender CPU ${formatNumber(summarize(cpu)!.median)} s/GiB; ${received} bytes received)`;
}

export async function runCeilings(fx: BenchFixtures, opts: { quick: boolean }): Promise<string> {
  const seconds = opts.quick ? 1 : 3;
  const rows = [
    ["aes-128-gcm", opensslSpeed("aes-128-gcm", seconds)],
    ["chacha20-poly1305 (IETF)", opensslSpeed("chacha20-poly1305", seconds)],
    ["aes-128-ctr", opensslSpeed("aes-128-ctr", seconds)],
    ["hmac-sha256 (sha256)", opensslSpeed("sha256", seconds)],
  ];
  return [
    "`openssl speed -evp <cipher> -bytes 32768` (one core, MB/s = 10^6 B/s):",
    "",
    markdownTable(["algorithm", "MB/s"], rows, ["left", "right"]),
    "",
    `Plain loopback TCP copy of the ${fx.dataBytes / 2 ** 20} MiB file (Node sender process, Node sink, no`,
    `encryption), ${opts.quick ? 3 : 5} runs: ${await tcpCopy(fx, opts.quick ? 3 : 5)}.`,
  ].join("\n");
}
