/**
 * nscp: secure copy, as scp(1). SFTP by default (as OpenSSH >= 9.0), the legacy SCP protocol with -O;
 * run remotely as `nscp -t` (sink) or `nscp -f` (source) it is the far end of a legacy copy. Each
 * connection is made as nssh would make it with scp's ssh flags (scp.c do_cmd), in this process, or by
 * the ssh program -S names, run as a child.
 * Exit status 1 when any file failed. Started by cli/nscp.cts (the launcher).
 */
import { parseRemote } from "../nsftp/sshProgram.js";
import { copyLocal, download, remoteToRemote, upload } from "./copy.js";
import { USAGE, parseNscpArguments } from "./options.js";
import { runRemoteSink, runRemoteSource } from "./remoteEnd.js";
import { anyFailed } from "./settings.js";

async function main(argv: string[]): Promise<number> {
  const parsed = parseNscpArguments(argv);
  if (typeof parsed === "string") {
    process.stderr.write(`nscp: ${parsed}\n${USAGE}`);
    return 1;
  }
  const { ssh, settings: s, operands } = parsed;
  // The far end of a legacy copy, run by a server: it writes no code cache into the user's home, as
  // scp's far end writes nothing but the files (cli/launcher.cts caches only after a login).
  if (parsed.remoteMode === "t") return runRemoteSink(operands, s, parsed.targetMustBeDir);
  if (parsed.remoteMode === "f") return runRemoteSource(operands, s);
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
  return anyFailed() ? 1 : 0;
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
