/**
 * nsftp: interactive and batch file transfer, as sftp(1). It connects as `nssh [flags] -s -- host sftp`
 * would, in its own process (nsftp/sshInProcess.ts), or runs the ssh program -S names that way and speaks
 * SFTP over its stdio (sftp.c's connection model); the commands are in nsftp/commands.ts. Exit status: 0,
 * 1 when a batch command failed, 255 when the connection failed. Started by cli/nsftp.cts (the launcher).
 */
import fs from "node:fs";
import readline from "node:readline";
import { SftpInterpreter, type SessionSettings } from "./commands.js";
import { getopt } from "./getopt.js";
import {
  openLocalServer,
  openSftpTransport,
  optionsForRemote,
  parseRemote,
  type RemoteSpec,
  takeSshFlag,
  type SshProgramOptions,
} from "./sshProgram.js";
import { isDirectoryMode } from "../../sftp/attrs.js";

const USAGE = `usage: nsftp [-46AaCfNpqrv] [-B buffer_size] [-b batchfile] [-c cipher]
          [-D sftp_server_command] [-F ssh_config] [-i identity_file]
          [-J destination] [-l limit] [-o ssh_option] [-P port]
          [-R num_requests] [-S program] [-s subsystem | sftp_server]
          destination
`;

function usage(message?: string): never {
  if (message) process.stderr.write(`nsftp: ${message}\n`);
  process.stderr.write(USAGE);
  process.exit(1);
}

async function main(argv: string[]): Promise<number> {
  const parsed = getopt(argv, "46AaCfNpqrvb:B:c:D:F:i:J:l:o:P:R:S:s:X:");
  if (typeof parsed === "string") usage(parsed);
  const ssh: SshProgramOptions = { args: [] };
  const settings: SessionSettings = {
    recursive: false,
    preserve: false,
    resume: false,
    fsync: false,
    progress: true,
    quiet: false,
  };
  let batchFile: string | null = null;
  let subsystem = "sftp";
  let forceNoQuiet = false;
  let localServer: string | null = null;
  for (const { flag, value } of parsed.flags) {
    // The flags ssh takes (sftp acts on -q itself too); nsftp's own are below.
    takeSshFlag(ssh, flag, value);
    switch (flag) {
      case "a":
        settings.resume = true;
        break;
      case "f":
        settings.fsync = true;
        break;
      case "N":
        forceNoQuiet = true;
        break;
      case "p":
        settings.preserve = true;
        break;
      case "q":
        settings.quiet = true;
        break;
      case "r":
        settings.recursive = true;
        break;
      case "b":
        batchFile = value!;
        break;
      case "B":
        settings.blockSize = Number(value);
        if (!Number.isInteger(settings.blockSize) || settings.blockSize < 1)
          usage(`Invalid buffer size "${value}"`);
        break;
      case "R":
        settings.requests = Number(value);
        if (!Number.isInteger(settings.requests) || settings.requests < 1)
          usage(`Invalid number of requests "${value}"`);
        break;
      case "X": {
        const [k, v] = value!.split("=");
        if (k === "nrequests") settings.requests = Number(v);
        else if (k === "buffer") settings.blockSize = Number(v);
        else usage(`Invalid -X option`);
        break;
      }
      case "l":
        settings.limitKbps = Number(value);
        if (!(settings.limitKbps > 0)) usage(`Invalid limit "${value}"`);
        break;
      case "s":
        subsystem = value!;
        break;
      case "D":
        localServer = value!;
        break;
    }
  }
  if (parsed.operands.length !== (localServer === null ? 1 : 0)) usage();
  // Batch mode is quiet unless -N, as sftp(1) says.
  if (batchFile !== null && !forceNoQuiet) {
    settings.progress = false;
    settings.quiet = true;
    if (!ssh.args.includes("-q")) ssh.args.push("-oBatchMode=yes");
  }
  const dest = parsed.operands[0] ?? "localhost";
  const remote = parseRemote(dest) ?? hostOnly(dest);
  const sshForRemote = optionsForRemote(ssh, remote);

  let transport;
  try {
    transport =
      localServer !== null
        ? await openLocalServer(localServer)
        : await openSftpTransport(sshForRemote, remote.host, subsystem);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 255;
  }
  const { client } = transport;
  let status = 0;
  try {
    const home = await client.realpath(".");
    const interp = new SftpInterpreter(client, settings, process.stdout, process.stderr, home);
    if (!settings.quiet && batchFile === null) process.stderr.write(`Connected to ${remote.host}.\n`);
    if (remote.path) {
      const target = interp.abs(remote.path);
      const isDir = await client.stat(target).then(
        (a) => isDirectoryMode(a.mode),
        () => false,
      );
      if (isDir || remote.path.endsWith("/")) {
        if (!(await interp.execute(`cd "${remote.path}"`))) return 1;
      } else {
        // sftp host:file fetches the file and exits.
        return (await interp.execute(`get "${remote.path}"`)) ? 0 : 1;
      }
    }
    if (batchFile !== null) status = await runBatch(interp, batchFile);
    else status = await runInteractive(interp);
  } finally {
    // ssh ends with the session either way; do not wait on one that hangs.
    await Promise.race([client.end(), new Promise((r) => setTimeout(r, 3000))]);
    const code = await transport.close();
    if (code === 255 && status === 0 && client.version === 0) status = 255;
  }
  return status;
}

/** A destination without a path: [user@]host. */
function hostOnly(dest: string): RemoteSpec {
  const at = dest.lastIndexOf("@");
  const host = (at >= 0 ? dest.slice(at + 1) : dest).replace(/^\[(.*)\]$/, "$1");
  return at >= 0 ? { user: dest.slice(0, at), host, path: "" } : { host, path: "" };
}

/** sftp -b: each line echoed as "sftp> line" (unless @); a failure ends the run with 1 (unless -). */
async function runBatch(interp: SftpInterpreter, file: string): Promise<number> {
  let text: string;
  try {
    text = file === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(file, "utf8");
  } catch (err) {
    process.stderr.write(`${file}: ${(err as Error).message}\n`);
    return 1;
  }
  for (const raw of text.split("\n")) {
    let line = raw.replace(/\r$/, "").trim();
    const shown = line.replace(/^([-@]*)@/, "$1").replace(/^@/, "");
    let ignoreError = false;
    let echo = true;
    for (;;) {
      if (line.startsWith("-")) ignoreError = true;
      else if (line.startsWith("@")) echo = false;
      else break;
      line = line.slice(1);
    }
    if (line === "" || line.startsWith("#")) continue;
    if (echo) process.stdout.write(`sftp> ${shown}\n`);
    const ok = await interp.execute(line);
    if (!ok && !ignoreError) return 1;
    if (interp.quit) break;
  }
  return 0;
}

async function runInteractive(interp: SftpInterpreter): Promise<number> {
  const tty = process.stdin.isTTY === true;
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: tty,
    historySize: 1000,
    completer: tty
      ? (line: string, cb: (err: null, result: [string[], string]) => void) => {
          interp.complete(line).then(
            (r) => cb(null, r),
            () => cb(null, [[], line]),
          );
        }
      : undefined,
  });
  // Lines typed while a command runs wait in a queue (readline emits them at once).
  const queue: Array<string | null> = [];
  let waiting: ((line: string | null) => void) | null = null;
  const deliver = (line: string | null): void => {
    if (waiting) {
      const w = waiting;
      waiting = null;
      w(line);
    } else queue.push(line);
  };
  rl.on("line", (l) => deliver(l));
  rl.once("close", () => deliver(null));
  rl.setPrompt("sftp> ");
  let status = 0;
  try {
    for (;;) {
      if (tty && queue.length === 0) rl.prompt();
      const line = queue.length > 0 ? queue.shift()! : await new Promise<string | null>((r) => (waiting = r));
      if (line === null) break;
      if (!tty && line.trim() !== "") process.stdout.write(`sftp> ${line}\n`);
      status = (await interp.execute(line)) ? 0 : 1;
      if (interp.quit) break;
    }
  } finally {
    rl.close();
  }
  return status;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`nsftp: ${(err as Error)?.message ?? err}\n`);
    process.exit(1);
  },
);
