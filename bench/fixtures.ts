/**
 * What every case shares, made once in a cache folder under os.tmpdir() and kept between runs: the
 * ed25519 user key the clients log in with (authorized on every server) and the random test file.
 */
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { MIB } from "./stats.js";

export interface BenchFixtures {
  cacheDir: string;
  /** Private key file (OpenSSH format, no passphrase) and its public line. */
  userKey: string;
  userPublicKey: string;
  /** The random file and its size in bytes. */
  dataFile: string;
  dataBytes: number;
  /** A scratch folder for this run (server configs, uploads); removed by the caller. */
  workDir: string;
}

function keygen(file: string, type: string): void {
  if (fs.existsSync(file)) return;
  const r = spawnSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "nssh-bench", "-f", file], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`ssh-keygen -t ${type} failed: ${r.stderr}`);
}

/** A file of `bytes` random bytes (written once; a file of the right size is reused). */
function randomFile(file: string, bytes: number): void {
  if (fs.existsSync(file) && fs.statSync(file).size === bytes) return;
  const tmp = `${file}.partial`;
  const fd = fs.openSync(tmp, "w");
  const chunk = Buffer.allocUnsafe(16 * MIB);
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      randomFillSync(chunk);
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * The account every client logs in as: a system user with /bin/sh, no password ("*": not locked, which
 * sshd without PAM would refuse) and no start-up files, made once. Logged in as root, bash would read
 * ~/.bashrc for every command run over SSH (Debian builds it with SSH_SOURCE_BASHRC), which cost 130-200 ms
 * of CPU a login on the shared machine and hid what the servers themselves cost.
 */
export const BENCH_USER = "nsshbench";

function ensureBenchUser(home: string): void {
  if (spawnSync("id", ["-u", BENCH_USER]).status === 0) return;
  const r = spawnSync(
    "useradd",
    ["--system", "--no-create-home", "--home-dir", home, "--shell", "/bin/sh", "--password", "*", BENCH_USER],
    { encoding: "utf8" },
  );
  if (r.status !== 0)
    throw new Error(`useradd ${BENCH_USER} failed (run the benchmarks as root): ${r.stderr}`);
}

export function prepareFixtures(dataMiB: number): BenchFixtures {
  const cacheDir = path.join(os.tmpdir(), "nssh-bench-cache");
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
  // sshd reads the key and data as root here, but keep the folder readable as sshd_config's StrictModes
  // would want for any user.
  fs.chmodSync(cacheDir, 0o755);
  ensureBenchUser(cacheDir);
  const userKey = path.join(cacheDir, "user_ed25519");
  keygen(userKey, "ed25519");
  const dataFile = path.join(cacheDir, `random-${dataMiB}MiB.bin`);
  randomFile(dataFile, dataMiB * MIB);
  fs.chmodSync(dataFile, 0o644);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-bench-"));
  fs.chmodSync(workDir, 0o755);
  return {
    cacheDir,
    userKey,
    userPublicKey: fs.readFileSync(userKey + ".pub", "utf8").trim(),
    dataFile,
    dataBytes: dataMiB * MIB,
    workDir,
  };
}

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port (rejects after timeoutMs). */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
