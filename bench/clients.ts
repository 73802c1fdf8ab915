/**
 * The clients under test and the command line each one runs for a case: nssh's library client and ssh2's
 * (nsshClientMain.ts, ssh2ClientMain.ts, each in a process of its own), nssh's commands (nssh, nsftp,
 * nscp; "n/a (not built yet)" until they exist) and OpenSSH's ssh, sftp and scp.
 */
import fs from "node:fs";
import path from "node:path";
import { clientFlags } from "./clientArgs.js";
import type { RunSpec } from "./runMeasured.js";
import { distFile, opensshClientOptions, type BenchServer } from "./servers.js";
import { BENCH_USER } from "./fixtures.js";

export interface Algorithms {
  cipher: string | null;
  mac: string | null;
  kex: string | null;
}

/** What a client needs to know about the server and the key. */
export interface Target {
  server: BenchServer;
  key: string;
  algorithms: Algorithms;
}

/** A RunSpec, or the reason the client cannot run this case. */
export type Built = RunSpec | { na: string };

export const NSSH_CLI = "src/cli/nssh.cjs";
export const NSFTP_CLI = "src/cli/nsftp.cjs";
export const NSCP_CLI = "src/cli/nscp.cjs";

/** The command's file in dist/, or null when it is not built yet. */
export function builtCommand(rel: string): string | null {
  const file = distFile(rel);
  return fs.existsSync(file) ? file : null;
}

const NOT_BUILT = { na: "n/a (not built yet)" };

/** -o Ciphers=... -o MACs=... -o KexAlgorithms=... for OpenSSH's tools and ours. */
function algorithmOptions(a: Algorithms): string[] {
  const o: string[] = [];
  if (a.cipher) o.push("-o", `Ciphers=${a.cipher}`);
  if (a.mac) o.push("-o", `MACs=${a.mac}`);
  if (a.kex) o.push("-o", `KexAlgorithms=${a.kex}`);
  return o;
}

function libraryMain(which: "nssh" | "ssh2", t: Target, mode: string, args: string[]): string[] {
  return [
    process.execPath,
    distFile(`bench/${which}ClientMain.js`),
    ...clientFlags({ port: t.server.port, key: t.key, ...t.algorithms }),
    mode,
    ...args,
  ];
}

export type ChannelClient = "nssh library" | "nssh" | "OpenSSH ssh" | "ssh2 client";
export const CHANNEL_CLIENTS: ChannelClient[] = ["nssh library", "nssh", "OpenSSH ssh", "ssh2 client"];

/** `cat > /dev/null` fed with the file (upload) or `cat file` read to the end (download). */
export function channelRun(client: ChannelClient, t: Target, upload: boolean, file: string): Built {
  const command = upload ? "cat > /dev/null" : `cat ${file}`;
  const feed = upload ? { stdinFile: file } : {};
  switch (client) {
    case "nssh library":
      return { argv: libraryMain("nssh", t, upload ? "upload" : "download", [file]) };
    case "ssh2 client":
      return { argv: libraryMain("ssh2", t, upload ? "upload" : "download", [file]) };
    case "OpenSSH ssh":
      return {
        argv: [
          "ssh",
          ...opensshClientOptions(t.key, t.server.port),
          ...algorithmOptions(t.algorithms),
          `${BENCH_USER}@127.0.0.1`,
          command,
        ],
        ...feed,
      };
    case "nssh": {
      const cli = builtCommand(NSSH_CLI);
      if (!cli) return NOT_BUILT;
      return {
        argv: [
          process.execPath,
          cli,
          ...opensshClientOptions(t.key, t.server.port),
          ...algorithmOptions(t.algorithms),
          `${BENCH_USER}@127.0.0.1`,
          command,
        ],
        ...feed,
      };
    }
  }
}

export type SftpClientName = "nssh library" | "nsftp" | "OpenSSH sftp" | "ssh2 client";
export const SFTP_CLIENTS: SftpClientName[] = ["nssh library", "nsftp", "OpenSSH sftp", "ssh2 client"];

/**
 * Where a get writes: a real file in the run's folder (the library client truncates its target, which
 * /dev/null refuses), the same for every client so each pays the same local write.
 */
export function getTarget(workDir: string): string {
  return path.join(workDir, "downloaded.bin");
}

/** sftp -b: a batch file with the one transfer. */
function batchFile(workDir: string, get: boolean, file: string): string {
  const batch = path.join(workDir, get ? "sftp-get.batch" : "sftp-put.batch");
  fs.writeFileSync(batch, get ? `get ${file} ${getTarget(workDir)}\n` : `put ${file} /dev/null\n`);
  return batch;
}

/** An SFTP get of the file into getTarget(), or a put of it to /dev/null on the server. */
export function sftpRun(
  client: SftpClientName,
  t: Target,
  get: boolean,
  file: string,
  workDir: string,
): Built {
  const args = get ? [file, getTarget(workDir)] : [file];
  switch (client) {
    case "nssh library":
      return { argv: libraryMain("nssh", t, get ? "sftp-get" : "sftp-put", args) };
    case "ssh2 client":
      return { argv: libraryMain("ssh2", t, get ? "sftp-get" : "sftp-put", args) };
    case "OpenSSH sftp":
      return {
        argv: [
          "sftp",
          "-b",
          batchFile(workDir, get, file),
          ...opensshClientOptions(t.key, t.server.port, "-P"),
          ...algorithmOptions(t.algorithms),
          `${BENCH_USER}@127.0.0.1`,
        ],
      };
    case "nsftp": {
      const cli = builtCommand(NSFTP_CLI);
      if (!cli) return NOT_BUILT;
      return {
        argv: [
          process.execPath,
          cli,
          "-b",
          batchFile(workDir, get, file),
          ...opensshClientOptions(t.key, t.server.port, "-P"),
          ...algorithmOptions(t.algorithms),
          `${BENCH_USER}@127.0.0.1`,
        ],
      };
    }
  }
}

export type ScpClientName = "nscp" | "OpenSSH scp";
export const SCP_CLIENTS: ScpClientName[] = ["nscp", "OpenSSH scp"];

/** scp of the file up to /dev/null, or down from the server into getTarget(). */
export function scpRun(client: ScpClientName, t: Target, up: boolean, file: string, workDir: string): Built {
  const paths = up
    ? [file, `${BENCH_USER}@127.0.0.1:/dev/null`]
    : [`${BENCH_USER}@127.0.0.1:${file}`, getTarget(workDir)];
  const options = [...opensshClientOptions(t.key, t.server.port, "-P"), ...algorithmOptions(t.algorithms)];
  if (client === "OpenSSH scp") return { argv: ["scp", "-q", ...options, ...paths] };
  const cli = builtCommand(NSCP_CLI);
  if (!cli) return NOT_BUILT;
  return { argv: [process.execPath, cli, "-q", ...options, ...paths] };
}

export type LoginClient = "nssh library" | "nssh" | "OpenSSH ssh" | "ssh2 client";
export const LOGIN_CLIENTS: LoginClient[] = ["nssh library", "nssh", "OpenSSH ssh", "ssh2 client"];

/**
 * One login running `true`. The library clients loop inside one process (mode login/rate: see
 * clientArgs.ts), so this gives the command for one program run, and `inProcess` says whether it does
 * `count` logins itself and prints their times.
 */
export function loginRun(
  client: LoginClient,
  t: Target,
  mode: "login" | "rate",
  args: string[],
): Built & { inProcess?: boolean } {
  switch (client) {
    case "nssh library":
      return { argv: libraryMain("nssh", t, mode, args), captureStdout: true, inProcess: true };
    case "ssh2 client":
      return { argv: libraryMain("ssh2", t, mode, args), captureStdout: true, inProcess: true };
    case "OpenSSH ssh":
      return {
        argv: [
          "ssh",
          ...opensshClientOptions(t.key, t.server.port),
          ...algorithmOptions(t.algorithms),
          `${BENCH_USER}@127.0.0.1`,
          "true",
        ],
      };
    case "nssh": {
      const cli = builtCommand(NSSH_CLI);
      if (!cli) return NOT_BUILT;
      return {
        argv: [
          process.execPath,
          cli,
          ...opensshClientOptions(t.key, t.server.port),
          ...algorithmOptions(t.algorithms),
          `${BENCH_USER}@127.0.0.1`,
          "true",
        ],
      };
    }
  }
}
