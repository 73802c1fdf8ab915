/**
 * The transport of nsftp and nscp: as OpenSSH's sftp and scp do (sftp.c, scp.c do_cmd), they run an ssh
 * program (-S, default our nssh) as a child, passing their ssh flags through, and speak over its stdio:
 * `ssh [options] -s -- host sftp` for SFTP, `ssh [options] -- host "scp -t ..."` for the legacy protocol.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SftpClient } from "../../sftp/client.js";

/** Our nssh, next to this command in dist/src/cli/. */
function defaultSshProgram(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../nssh.js");
}

export interface SshProgramOptions {
  /** The program (-S); default our nssh. */
  program?: string;
  /** Flags passed through as given (-F file, -i key, -o opt, -J jump, -c cipher, -4, -6, -C, -A, -v, -q...). */
  args: string[];
  port?: string;
  user?: string;
  /** Forward the agent (-A); otherwise ForwardAgent no, as sftp/scp do. */
  forwardAgent?: boolean;
}

/**
 * The flags sftp(1) and scp(1) both hand to ssh (sftp.c and scp.c main): -4, -6, -C, -v, -q as they are, -c,
 * -F, -i, -J, -o with their argument, -A for agent forwarding, -P for the port and -S for the program.
 * Records `flag` in `ssh` and returns true when it is one of them; the caller handles its own flags.
 */
export function takeSshFlag(ssh: SshProgramOptions, flag: string, value: string | undefined): boolean {
  switch (flag) {
    case "4":
    case "6":
    case "C":
    case "v":
    case "q":
      ssh.args.push(`-${flag}`);
      return true;
    case "c":
    case "F":
    case "i":
    case "J":
    case "o":
      ssh.args.push(`-${flag}`, value!);
      return true;
    case "A":
      ssh.forwardAgent = true;
      return true;
    case "P":
      ssh.port = value!;
      return true;
    case "S":
      ssh.program = value!;
      return true;
    default:
      return false;
  }
}

/** The options for one remote operand: its user, and its port unless -P gave one (scp.c, sftp.c). */
export function optionsForRemote(ssh: SshProgramOptions, spec: RemoteSpec): SshProgramOptions {
  const options = { ...ssh, args: [...ssh.args] };
  if (spec.user) options.user = spec.user;
  if (spec.port && !ssh.port) options.port = spec.port;
  return options;
}

/** The argument vector for one ssh run, as scp.c do_cmd() builds it. */
export function sshArgv(
  options: SshProgramOptions,
  host: string,
  extra: string[],
  command: string[],
): string[] {
  const argv = [
    ...options.args,
    "-x",
    "-oPermitLocalCommand=no",
    "-oClearAllForwardings=yes",
    "-oRemoteCommand=none",
    "-oRequestTTY=no",
    `-oForwardAgent=${options.forwardAgent ? "yes" : "no"}`,
  ];
  if (options.port) argv.push("-p", options.port);
  if (options.user) argv.push("-l", options.user);
  argv.push(...extra, "--", host, ...command);
  return argv;
}

/** Run the ssh program. A path ending in .js is run with this node (our nssh). */
export function spawnSsh(
  program: string | undefined,
  argv: string[],
  stderr: "inherit" | "pipe" = "inherit",
): ChildProcess {
  const prog = program ?? defaultSshProgram();
  const [cmd, args] = prog.endsWith(".js") ? [process.execPath, [prog, ...argv]] : [prog, argv];
  return spawn(cmd, args, { stdio: ["pipe", "pipe", stderr] });
}

export interface SftpTransport {
  client: SftpClient;
  child: ChildProcess;
  /** Resolves with the ssh program's exit status (255 for its connection errors). */
  exited: Promise<number>;
}

/**
 * Start `ssh -s host sftp` (or the server program named by `subsystem` when it has a slash, as sftp -s
 * does) and the SFTP session over its stdio. Rejects when the session cannot start.
 */
export async function openSftpTransport(
  options: SshProgramOptions,
  host: string,
  subsystem = "sftp",
): Promise<SftpTransport> {
  const isPath = subsystem.includes("/");
  const argv = sshArgv(options, host, isPath ? [] : ["-s"], [subsystem]);
  const child = spawnSsh(options.program, argv);
  return startSession(child, `ssh program ${options.program ?? "nssh"}`);
}

/**
 * sftp -D: run a local SFTP server command (e.g. "/usr/lib/openssh/sftp-server -el debug3") through the
 * shell and speak to it directly, with no ssh at all.
 */
export async function openLocalServer(command: string): Promise<SftpTransport> {
  const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "inherit"] });
  return startSession(child, `sftp server ${command}`);
}

async function startSession(child: ChildProcess, what: string): Promise<SftpTransport> {
  const exited = new Promise<number>((resolve) => {
    child.once("error", () => resolve(255));
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 255 : 0)));
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (err) => reject(new Error(`${what}: ${err.message}`)));
  });
  child.stdin!.on("error", () => {}); // a dead peer shows as the SFTP session's end
  const client = new SftpClient(child.stdout!, child.stdin!);
  try {
    await Promise.race([
      client.init(),
      exited.then((code) => {
        throw new Error(`Connection closed (${what} exited with status ${code})`);
      }),
    ]);
  } catch (err) {
    child.kill();
    throw err;
  }
  return { client, child, exited };
}

export interface RemoteSpec {
  user?: string;
  host: string;
  port?: string;
  path: string;
}

/**
 * A remote operand: [user@]host:path, [user@][v6addr]:path, or scp://[user@]host[:port][/path] (and
 * sftp://). Null for a local path: no colon, or a slash before the first colon (scp.c colon()).
 */
export function parseRemote(arg: string): RemoteSpec | null {
  const uri = /^(?:scp|sftp):\/\/(?:([^@/]*)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?(\/.*)?$/.exec(arg);
  if (uri) {
    const host = uri[2]!.replace(/^\[(.*)\]$/, "$1");
    const spec: RemoteSpec = { host, path: uri[4] ? uri[4].slice(1) : "" };
    if (uri[1]) spec.user = decodeURIComponent(uri[1]);
    if (uri[3]) spec.port = uri[3];
    return spec;
  }
  if (arg.startsWith(":")) return null;
  let i = 0;
  if (arg.includes("@[") || arg.startsWith("[")) {
    const close = arg.indexOf("]");
    if (close < 0) return null;
    i = close;
  }
  for (; i < arg.length; i++) {
    const c = arg[i];
    if (c === "/") return null;
    if (c === ":") break;
  }
  if (i >= arg.length) return null;
  const left = arg.slice(0, i);
  const at = left.lastIndexOf("@");
  const host = (at >= 0 ? left.slice(at + 1) : left).replace(/^\[(.*)\]$/, "$1");
  if (!host) return null;
  const spec: RemoteSpec = { host, path: arg.slice(i + 1) };
  if (at >= 0) spec.user = left.slice(0, at);
  return spec;
}
