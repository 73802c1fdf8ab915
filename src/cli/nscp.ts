#!/usr/bin/env node
/**
 * nscp: secure copy, as scp(1). SFTP by default (as OpenSSH >= 9.0), the legacy SCP protocol with -O;
 * run remotely as `nscp -t` (sink) or `nscp -f` (source) it is the far end of a legacy copy. The transport
 * is an ssh program (-S, default nssh) run as a child with scp's ssh flags passed through (scp.c do_cmd).
 * Exit status 1 when any file failed.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { scpReceive } from "../scp/sink.js";
import { scpSend } from "../scp/source.js";
import { ScpStream } from "../scp/scpStream.js";
import { isDirectoryMode } from "../sftp/attrs.js";
import type { SftpClient } from "../sftp/client.js";
import { expandGlob, globToRegExp, hasGlob } from "./nsftp/glob.js";
import { getopt } from "./nsftp/getopt.js";
import {
  openSftpTransport,
  parseRemote,
  spawnSsh,
  sshArgv,
  type RemoteSpec,
  type SftpTransport,
  type SshProgramOptions,
} from "./nsftp/sshProgram.js";
import { downloadPath, errorText, uploadPath, type TreeOptions } from "./nsftp/treeTransfer.js";
import { ProgressMeter } from "./transferProgress.js";

const USAGE = `usage: nscp [-346ABCOpqRrsTv] [-c cipher] [-D sftp_server_path] [-F ssh_config]
            [-i identity_file] [-J destination] [-l limit] [-o ssh_option]
            [-P port] [-S program] [-X sftp_option] source ... target
`;

interface Settings {
  recursive: boolean;
  preserve: boolean;
  quiet: boolean;
  legacy: boolean;
  through3: boolean;
  direct: boolean;
  verbose: boolean;
  requests?: number;
  blockSize?: number;
  limitKbps?: number;
  /** Flags to repeat on a remote scp for -R (direct remote-to-remote). */
  remoteFlags: string[];
}

let failed = false;
function warn(message: string): void {
  failed = true;
  process.stderr.write(`${message}\n`);
}

function meterFor(s: Settings): (name: string, size: number) => { update(n: number): void; finish(): void } {
  return (name, size) => new ProgressMeter(name, size, process.stdout, { quiet: s.quiet });
}

async function main(argv: string[]): Promise<number> {
  const parsed = getopt(argv, "346ABCOpqRrsTvdftc:D:F:i:J:l:o:P:S:X:");
  if (typeof parsed === "string") {
    process.stderr.write(`nscp: ${parsed}\n${USAGE}`);
    return 1;
  }
  const ssh: SshProgramOptions = { args: [] };
  const s: Settings = {
    recursive: false,
    preserve: false,
    quiet: false,
    legacy: false,
    through3: false,
    direct: false,
    verbose: false,
    remoteFlags: [],
  };
  let remoteMode: "t" | "f" | null = null;
  let targetMustBeDir = false;
  for (const { flag, value } of parsed.flags) {
    switch (flag) {
      case "4":
      case "6":
      case "C":
        ssh.args.push(`-${flag}`);
        s.remoteFlags.push(`-${flag}`);
        break;
      case "A":
        ssh.forwardAgent = true;
        break;
      case "B":
        ssh.args.push("-oBatchMode=yes");
        s.remoteFlags.push("-B");
        break;
      case "O":
        s.legacy = true;
        s.remoteFlags.push("-O");
        break;
      case "s":
        s.legacy = false;
        break;
      case "3":
        s.through3 = true;
        break;
      case "R":
        s.direct = true;
        break;
      case "p":
        s.preserve = true;
        s.remoteFlags.push("-p");
        break;
      case "q":
        s.quiet = true;
        ssh.args.push("-q");
        s.remoteFlags.push("-q");
        break;
      case "r":
        s.recursive = true;
        s.remoteFlags.push("-r");
        break;
      case "T":
        // Strict filename checking stays on: the names a legacy server sends are always checked.
        break;
      case "v":
        s.verbose = true;
        ssh.args.push("-v");
        break;
      case "t":
      case "f":
        remoteMode = flag;
        break;
      case "d":
        targetMustBeDir = true;
        break;
      case "c":
      case "F":
      case "i":
      case "J":
      case "o":
        ssh.args.push(`-${flag}`, value!);
        s.remoteFlags.push(`-${flag}`, value!);
        break;
      case "P":
        ssh.port = value!;
        s.remoteFlags.push("-P", value!);
        break;
      case "S":
        ssh.program = value!;
        break;
      case "X": {
        const [k, v] = value!.split("=");
        if (k === "nrequests") s.requests = Number(v);
        else if (k === "buffer") s.blockSize = Number(v);
        break;
      }
      case "l":
        s.limitKbps = Number(value);
        s.remoteFlags.push("-l", value!);
        break;
      case "D":
        break; // accepted for compatibility: no local server
    }
  }
  const operands = parsed.operands;
  if (remoteMode === "t") return runRemoteSink(operands, s, targetMustBeDir);
  if (remoteMode === "f") return runRemoteSource(operands, s);
  if (operands.length < 2) {
    process.stderr.write(USAGE);
    return 1;
  }
  const target = operands.at(-1)!;
  const sources = operands.slice(0, -1);
  const dst = parseRemote(target);
  const srcs = sources.map((a) => ({ arg: a, remote: parseRemote(a) }));
  if (dst) {
    const locals = srcs.filter((x) => !x.remote).map((x) => x.arg);
    if (locals.length > 0) await upload(locals, dst, ssh, s, sources.length > 1);
    for (const x of srcs.filter((y) => y.remote)) await remoteToRemote(x.remote!, x.arg, dst, target, ssh, s);
  } else {
    for (const x of srcs) {
      if (x.remote) await download(x.remote, target, ssh, s, sources.length > 1);
      else copyLocal(x.arg, target, s, sources.length > 1);
    }
  }
  return failed ? 1 : 0;
}

function withUser(spec: RemoteSpec, ssh: SshProgramOptions): SshProgramOptions {
  const o = { ...ssh, args: [...ssh.args] };
  if (spec.user) o.user = spec.user;
  if (spec.port && !ssh.port) o.port = spec.port;
  return o;
}

function treeOptions(s: Settings): TreeOptions {
  const o: TreeOptions = {
    recursive: s.recursive,
    preserve: s.preserve,
    resume: false,
    fsync: false,
    progress: !s.quiet,
    out: process.stdout,
    warn: (m) => warn(`scp: ${m}`),
  };
  if (s.requests) o.requests = s.requests;
  if (s.blockSize) o.blockSize = s.blockSize;
  if (s.limitKbps) o.limitKbps = s.limitKbps;
  return o;
}

async function openSftp(spec: RemoteSpec, ssh: SshProgramOptions): Promise<SftpTransport | null> {
  try {
    return await openSftpTransport(withUser(spec, ssh), spec.host);
  } catch (err) {
    warn(`scp: Connection closed: ${(err as Error).message}`);
    return null;
  }
}

async function closeSftp(t: SftpTransport): Promise<void> {
  // ssh ends with the session; do not wait on one that hangs.
  await Promise.race([t.client.end(), new Promise((r) => setTimeout(r, 3000))]);
  t.child.stdin?.end();
  await Promise.race([t.exited, new Promise((r) => setTimeout(r, 2000))]);
  if (t.child.exitCode === null) t.child.kill();
}

async function remoteIsDir(client: SftpClient, p: string): Promise<boolean> {
  return client.stat(p).then(
    (a) => isDirectoryMode(a.mode),
    () => false,
  );
}

// ---- local to remote ----

async function upload(
  locals: string[],
  dst: RemoteSpec,
  ssh: SshProgramOptions,
  s: Settings,
  many: boolean,
): Promise<void> {
  if (s.legacy) return legacyUpload(locals, dst, ssh, s, many);
  const t = await openSftp(dst, ssh);
  if (!t) return;
  try {
    const target = dst.path === "" ? "." : dst.path;
    const intoDir = await remoteIsDir(t.client, target);
    if (many && !intoDir) {
      warn(`scp: ${target}: Not a directory`);
      return;
    }
    for (const l of locals) {
      if (!fs.existsSync(l)) {
        warn(`scp: stat local "${l}": No such file or directory`);
        continue;
      }
      const remote = intoDir ? `${target.replace(/\/$/, "")}/${path.basename(l)}` : target;
      if (fs.statSync(l).isDirectory() && !s.recursive) {
        warn(`scp: local "${l}" is not a regular file`);
        warn(`scp: failed to upload file ${l} to ${remote}`);
        continue;
      }
      try {
        if (!(await uploadPath(t.client, l, remote, treeOptions(s)))) failed = true;
      } catch (err) {
        warn(`scp: ${remote}: ${errorText(err)}`);
      }
    }
  } finally {
    await closeSftp(t);
  }
}

/** Quote one word for the remote shell (scp.c uses the same single-quote scheme). */
function shellQuote(w: string): string {
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

async function legacyUpload(
  locals: string[],
  dst: RemoteSpec,
  ssh: SshProgramOptions,
  s: Settings,
  many: boolean,
): Promise<void> {
  const flags = [
    "-t",
    ...(s.recursive ? ["-r"] : []),
    ...(s.preserve ? ["-p"] : []),
    ...(many ? ["-d"] : []),
  ];
  const command = `scp ${flags.join(" ")} -- ${shellQuote(dst.path === "" ? "." : dst.path)}`;
  const child = spawnSsh(withUser(dst, ssh).program, sshArgv(withUser(dst, ssh), dst.host, [], [command]));
  const io = new ScpStream(child.stdout!, child.stdin!);
  const exited = new Promise<number>((r) => child.once("close", (c) => r(c ?? 255)));
  try {
    const first = await io.response();
    if (first !== null) warn(first);
    if (
      !(await scpSend(io, locals, {
        recursive: s.recursive,
        preserve: s.preserve,
        warn,
        onFile: meterFor(s),
      }))
    ) {
      failed = true;
    }
  } catch (err) {
    warn(errorText(err).startsWith("scp:") ? errorText(err) : `scp: ${errorText(err)}`);
  } finally {
    io.end();
    const code = await exited;
    if (code !== 0) failed = true;
  }
}

// ---- remote to local ----

async function download(
  src: RemoteSpec,
  target: string,
  ssh: SshProgramOptions,
  s: Settings,
  many: boolean,
): Promise<void> {
  const intoDir = fs.existsSync(target) && fs.statSync(target).isDirectory();
  if (many && !intoDir) {
    warn(`scp: ${target}: Not a directory`);
    return;
  }
  if (s.legacy) return legacyDownload(src, target, ssh, s, intoDir);
  const t = await openSftp(src, ssh);
  if (!t) return;
  try {
    const pattern = src.path === "" ? "." : src.path;
    const matches = await expandGlob(pattern, async (dir) =>
      t.client.readdir(dir).then(
        (e) => e.map((x) => x.filename),
        () => null,
      ),
    );
    if (matches.length === 0) {
      warn(`scp: ${pattern}: No such file or directory`);
      return;
    }
    if (matches.length > 1 && !intoDir) {
      warn(`scp: ${target}: Not a directory`);
      return;
    }
    for (const m of matches) {
      const local = intoDir ? path.join(target, path.posix.basename(m)) : target;
      if (!s.recursive && (await remoteIsDir(t.client, m))) {
        warn(`scp: download ${m.replace(/\/*$/, "/")}: not a regular file`);
        continue;
      }
      try {
        if (!(await downloadPath(t.client, m, local, treeOptions(s)))) failed = true;
      } catch (err) {
        warn(`scp: ${m}: ${errorText(err)}`);
      }
    }
  } finally {
    await closeSftp(t);
  }
}

async function legacyDownload(
  src: RemoteSpec,
  target: string,
  ssh: SshProgramOptions,
  s: Settings,
  intoDir: boolean,
): Promise<void> {
  const flags = ["-f", ...(s.recursive ? ["-r"] : []), ...(s.preserve ? ["-p"] : [])];
  const remotePath = src.path === "" ? "." : src.path;
  // The remote shell expands globs: quote everything else (scp.c does the same for its sources).
  const quoted = hasGlob(remotePath) ? remotePath : shellQuote(remotePath);
  const command = `scp ${flags.join(" ")} -- ${quoted}`;
  const child = spawnSsh(withUser(src, ssh).program, sshArgv(withUser(src, ssh), src.host, [], [command]));
  const io = new ScpStream(child.stdout!, child.stdin!);
  const exited = new Promise<number>((r) => child.once("close", (c) => r(c ?? 255)));
  // CVE-2019-6111: only the last component the request named (a glob pattern) may come back at the top.
  const requested = path.posix.basename(remotePath.replace(/\/+$/, "")) || remotePath;
  const re = globToRegExp(requested);
  try {
    const ok = await scpReceive(io, target, {
      recursive: s.recursive,
      preserve: s.preserve,
      targetIsDirectory: intoDir,
      acceptTopLevel: (name) => re.test(name) || (requested === "." && s.recursive),
      warn,
      onFile: meterFor(s),
    });
    if (!ok) failed = true;
  } catch (err) {
    warn(`scp: ${errorText(err)}`);
  } finally {
    io.end();
    const code = await exited;
    if (code !== 0) failed = true;
  }
}

// ---- remote to remote ----

async function remoteToRemote(
  src: RemoteSpec,
  srcArg: string,
  dst: RemoteSpec,
  dstArg: string,
  ssh: SshProgramOptions,
  s: Settings,
): Promise<void> {
  if (s.direct && !s.through3) {
    // -R: run scp on the origin host, copying straight to the destination (scp(1) -R).
    const command = [
      "scp",
      ...s.remoteFlags.map(shellQuote),
      "--",
      shellQuote(src.path || "."),
      shellQuote(dstArg),
    ].join(" ");
    const child = spawnSsh(
      withUser(src, ssh).program,
      sshArgv(withUser(src, ssh), src.host, [], [command]),
      "inherit",
    );
    child.stdin!.end();
    child.stdout!.pipe(process.stdout);
    const code = await new Promise<number>((r) => child.once("close", (c) => r(c ?? 255)));
    if (code !== 0) failed = true;
    return;
  }
  // Through this host (the default since OpenSSH 8.7, and -3): download to a private temporary folder,
  // then upload from it.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nscp-"));
  try {
    const name = path.posix.basename((src.path || ".").replace(/\/+$/, "")) || "file";
    const staged = path.join(tmp, name);
    const before = failed;
    await download(src, hasGlob(src.path) ? tmp : staged, ssh, s, false);
    if (failed && !before) return;
    const items = hasGlob(src.path) ? fs.readdirSync(tmp).map((n) => path.join(tmp, n)) : [staged];
    if (items.length === 0) warn(`scp: ${srcArg}: No such file or directory`);
    else await upload(items, dst, ssh, s, items.length > 1);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function copyLocal(src: string, target: string, s: Settings, many: boolean): void {
  try {
    const intoDir = fs.existsSync(target) && fs.statSync(target).isDirectory();
    if (many && !intoDir) return warn(`scp: ${target}: Not a directory`);
    const dest = intoDir ? path.join(target, path.basename(src)) : target;
    if (fs.statSync(src).isDirectory() && !s.recursive) return warn(`scp: ${src}: not a regular file`);
    fs.cpSync(src, dest, { recursive: s.recursive, preserveTimestamps: s.preserve });
  } catch (err) {
    warn(`scp: ${src}: ${errorText(err)}`);
  }
}

// ---- run remotely: nscp -t / nscp -f ----

async function runRemoteSink(operands: string[], s: Settings, mustBeDir: boolean): Promise<number> {
  if (operands.length !== 1) {
    process.stderr.write("scp: ambiguous target\n");
    return 1;
  }
  const io = new ScpStream(process.stdin, process.stdout);
  const errs: string[] = [];
  try {
    const ok = await scpReceive(io, operands[0]!, {
      recursive: s.recursive,
      preserve: s.preserve,
      targetIsDirectory: mustBeDir,
      warn: (m) => errs.push(m),
    });
    return ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`scp: ${errorText(err)}\n`);
    return 1;
  }
}

async function runRemoteSource(operands: string[], s: Settings): Promise<number> {
  const io = new ScpStream(process.stdin, process.stdout);
  try {
    const first = await io.response();
    if (first !== null) return 1;
    // Messages go to the sink through the protocol; nothing on our stdout but the protocol.
    const ok = await scpSend(io, operands, { recursive: s.recursive, preserve: s.preserve, warn: () => {} });
    io.end();
    return ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`scp: ${errorText(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Let stdout drain (the protocol's last bytes in -t/-f mode) before exiting.
    process.stdout.end?.(() => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`nscp: ${(err as Error)?.message ?? err}\n`);
    process.exit(1);
  },
);
