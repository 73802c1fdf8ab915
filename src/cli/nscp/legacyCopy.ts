/**
 * nscp -O: the legacy SCP protocol, run as `ssh host "scp -t|-f ..."` (nssh's connection in this process
 * unless -S names a program) with this end as the source (upload) or the sink (download), as scp.c
 * toremote/tolocal do; and -R, where the origin host's scp copies straight to the destination.
 */
import path from "node:path";
import { scpReceive } from "../../scp/sink.js";
import { scpSend } from "../../scp/source.js";
import { ScpStream } from "../../scp/scpStream.js";
import { globToRegExp, hasGlob } from "../nsftp/glob.js";
import {
  optionsForRemote,
  sshArgv,
  startSsh,
  type RemoteSpec,
  type SshProgramOptions,
  type SshRun,
} from "../nsftp/sshProgram.js";
import { errorText } from "../nsftp/treeTransfer.js";
import { markFailed, meterFor, remotePathOrHome, shellQuote, warn, type Settings } from "./settings.js";

/** Run `command` on the remote host through ssh (in this process unless -S names a program). */
function runRemoteCommand(spec: RemoteSpec, ssh: SshProgramOptions, command: string): Promise<SshRun> {
  const options = optionsForRemote(ssh, spec);
  return startSsh(options, sshArgv(options, spec.host, [], [command]));
}

/**
 * Run a remote scp and speak the protocol with it through `speak`; a false result, an error or a failed
 * remote scp counts as a failure. `errorMessage` words an error for stderr.
 */
async function withRemoteScp(
  spec: RemoteSpec,
  ssh: SshProgramOptions,
  command: string,
  speak: (io: ScpStream) => Promise<boolean>,
  errorMessage: (text: string) => string,
): Promise<void> {
  const run = await runRemoteCommand(spec, ssh, command);
  const io = new ScpStream(run.stdout, run.stdin);
  try {
    if (!(await speak(io))) markFailed();
  } catch (err) {
    warn(errorMessage(errorText(err)));
  } finally {
    io.end();
    if ((await run.exited) !== 0) markFailed();
    run.stop();
  }
}

/** Local files to the remote `scp -t` (sink). */
export async function legacyUpload(
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
  const command = `scp ${flags.join(" ")} -- ${shellQuote(remotePathOrHome(dst.path))}`;
  await withRemoteScp(
    dst,
    ssh,
    command,
    async (io) => {
      const first = await io.response();
      if (first !== null) warn(first);
      return scpSend(io, locals, { recursive: s.recursive, preserve: s.preserve, warn, onFile: meterFor(s) });
    },
    (text) => (text.startsWith("scp:") ? text : `scp: ${text}`),
  );
}

/** The remote `scp -f` (source) into `target`. */
export async function legacyDownload(
  src: RemoteSpec,
  target: string,
  ssh: SshProgramOptions,
  s: Settings,
  intoDir: boolean,
): Promise<void> {
  const flags = ["-f", ...(s.recursive ? ["-r"] : []), ...(s.preserve ? ["-p"] : [])];
  const remotePath = remotePathOrHome(src.path);
  // The remote shell expands globs: quote everything else (scp.c does the same for its sources).
  const quoted = hasGlob(remotePath) ? remotePath : shellQuote(remotePath);
  // CVE-2019-6111: only the last component the request named (a glob pattern) may come back at the top.
  const requested = path.posix.basename(remotePath.replace(/\/+$/, "")) || remotePath;
  const re = globToRegExp(requested);
  await withRemoteScp(
    src,
    ssh,
    `scp ${flags.join(" ")} -- ${quoted}`,
    (io) =>
      scpReceive(io, target, {
        recursive: s.recursive,
        preserve: s.preserve,
        targetIsDirectory: intoDir,
        acceptTopLevel: (name) => re.test(name) || (requested === "." && s.recursive),
        warn,
        onFile: meterFor(s),
      }),
    (text) => `scp: ${text}`,
  );
}

/** -R: run scp on the origin host, copying straight to the destination (scp(1) -R). */
export async function directRemoteToRemote(
  src: RemoteSpec,
  dstArg: string,
  ssh: SshProgramOptions,
  s: Settings,
): Promise<void> {
  const command = [
    "scp",
    ...s.remoteFlags.map(shellQuote),
    "--",
    shellQuote(src.path || "."),
    shellQuote(dstArg),
  ].join(" ");
  const run = await runRemoteCommand(src, ssh, command);
  run.stdin.end();
  run.stdout.pipe(process.stdout);
  if ((await run.exited) !== 0) markFailed();
  run.stop();
}
