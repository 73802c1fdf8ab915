/**
 * The transport of nsftp and nscp: as OpenSSH's sftp and scp do (sftp.c, scp.c do_cmd), they build an ssh
 * command line from their ssh flags: `ssh [options] -s -- host sftp` for SFTP, `ssh [options] -- host
 * "scp -t ..."` for the legacy protocol. With an ssh program named (-S) they run it as a child and speak
 * over its stdio; without one, nssh's own code runs that command line in this process (sshInProcess.ts),
 * which saves a second Node process and a pipe that every byte would cross.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { SftpClient } from "../../sftp/client.js";

export interface SshProgramOptions {
  /** The program (-S), run as a child; without one, nssh's connection is made in this process. */
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

/**
 * The argument vector for one ssh run, as scp.c and sftp.c build it: the options they force come before
 * the user's -o options, so that ssh's first-value-wins rule keeps them (a RequestTTY=yes of the user's
 * cannot put a terminal under the protocol); ForwardAgent=no comes after, so that the user may override it.
 */
export function sshArgv(
  options: SshProgramOptions,
  host: string,
  extra: string[],
  command: string[],
): string[] {
  const argv = [
    "-x",
    "-oPermitLocalCommand=no",
    "-oClearAllForwardings=yes",
    "-oRemoteCommand=none",
    "-oRequestTTY=no",
    ...options.args,
    `-oForwardAgent=${options.forwardAgent ? "yes" : "no"}`,
  ];
  if (options.port) argv.push("-p", options.port);
  if (options.user) argv.push("-l", options.user);
  argv.push(...extra, "--", host, ...command);
  return argv;
}

/** One ssh run: the remote program's stdin and stdout, and ssh's exit status. */
export interface SshRun {
  /** False when ssh could not connect (it has said why): nothing comes out, and it exits 255. */
  connected: boolean;
  stdin: Writable;
  stdout: Readable;
  /** ssh's exit status: the remote program's, 255 when the connection failed or was lost. */
  exited: Promise<number>;
  /** End what is still running: the child is killed; in-process, the channel and connection close. */
  stop(): void;
}

/** A child ssh as an SshRun; `exited` settles on the child's "exit" or, with its stdio flushed, "close". */
function childRun(child: ChildProcess, settleOn: "exit" | "close"): SshRun {
  const exited = new Promise<number>((resolve) => {
    if (settleOn === "exit") {
      child.once("error", () => resolve(255));
      child.once("exit", (code, signal) => resolve(code ?? (signal ? 255 : 0)));
    } else child.once("close", (code) => resolve(code ?? 255));
  });
  return {
    connected: true,
    stdin: child.stdin!,
    stdout: child.stdout!,
    exited,
    stop() {
      if (child.exitCode === null) child.kill();
    },
  };
}

/**
 * Run `ssh argv...` for a remote command: the program -S names as a child, else nssh in this process.
 * Never rejects: a failure to connect has been reported on stderr and gives exit status 255.
 */
export async function startSsh(options: SshProgramOptions, argv: string[]): Promise<SshRun> {
  if (options.program === undefined) {
    const { runSshInProcess } = await import("./sshInProcess.js");
    return runSshInProcess(argv);
  }
  return childRun(spawnSsh(options.program, argv), "close");
}

/** Run the ssh program (-S). A path ending in .js, .cjs or .mjs is run with this node (our nssh, for one). */
export function spawnSsh(program: string, argv: string[]): ChildProcess {
  const [cmd, args] = /\.[cm]?js$/.test(program) ? [process.execPath, [program, ...argv]] : [program, argv];
  return spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
}

export interface SftpTransport {
  client: SftpClient;
  /** Resolves with the ssh program's exit status (255 for its connection errors). */
  exited: Promise<number>;
  /**
   * Once the SFTP session has ended: end ssh's input, give it two seconds to exit, then stop it. Resolves
   * with its exit status (0 when it did not exit in time).
   */
  close(): Promise<number>;
}

/**
 * Start `ssh -s host sftp` (or the server program named by `subsystem` when it has a slash, as sftp -s
 * does) and the SFTP session over its stdio; in this process when no ssh program is named. Rejects when
 * the session cannot start.
 */
export async function openSftpTransport(
  options: SshProgramOptions,
  host: string,
  subsystem = "sftp",
): Promise<SftpTransport> {
  const isPath = subsystem.includes("/");
  const argv = sshArgv(options, host, isPath ? [] : ["-s"], [subsystem]);
  if (options.program === undefined) {
    const run = await startSsh(options, argv);
    // nssh has said why; the session it would have carried ends as a child's stdout would.
    if (!run.connected) throw new Error("Connection closed");
    return startSessionOver(run, "ssh program nssh");
  }
  const child = spawnSsh(options.program, argv);
  return startSession(child, `ssh program ${options.program}`);
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
  const run = childRun(child, "exit");
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (err) => reject(new Error(`${what}: ${err.message}`)));
  });
  child.stdin!.on("error", () => {}); // a dead peer shows as the SFTP session's end
  return startSessionOver(run, what);
}

/** The SFTP session (INIT and VERSION) over a run's stdio; the run is stopped when it fails. */
async function startSessionOver(run: SshRun, what: string): Promise<SftpTransport> {
  const client = new SftpClient(run.stdout, run.stdin);
  try {
    await Promise.race([
      client.init(),
      run.exited.then((code) => {
        throw new Error(`Connection closed (${what} exited with status ${code})`);
      }),
    ]);
  } catch (err) {
    run.stop();
    throw err;
  }
  return {
    client,
    exited: run.exited,
    async close() {
      run.stdin.end();
      const code = await Promise.race([run.exited, new Promise<number>((r) => setTimeout(() => r(0), 2000))]);
      run.stop();
      return code;
    },
  };
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
