/** nscp's command line, as scp.c main reads it: its own flags, and those it hands to ssh (and a remote scp). */
import { getopt } from "../nsftp/getopt.js";
import { takeSshFlag, type SshProgramOptions } from "../nsftp/sshProgram.js";
import type { Settings } from "./settings.js";

export const USAGE = `usage: nscp [-346ABCOpqRrsTv] [-c cipher] [-D sftp_server_path] [-F ssh_config]
            [-i identity_file] [-J destination] [-l limit] [-o ssh_option]
            [-P port] [-S program] [-X sftp_option] source ... target
`;

export interface NscpArguments {
  ssh: SshProgramOptions;
  settings: Settings;
  /** -t (sink) or -f (source): run as the far end of a legacy copy. */
  remoteMode: "t" | "f" | null;
  /** -d: the target must be a directory (the remote sink of several files). */
  targetMustBeDir: boolean;
  operands: string[];
}

/** Flags a remote scp gets too when -R copies straight from one remote host to another. */
const REPEATED_ON_REMOTE = new Set([
  "4",
  "6",
  "C",
  "B",
  "O",
  "p",
  "q",
  "r",
  "c",
  "F",
  "i",
  "J",
  "o",
  "P",
  "l",
]);

/** The parsed command line, or getopt's complaint. */
export function parseNscpArguments(argv: string[]): NscpArguments | string {
  const parsed = getopt(argv, "346ABCOpqRrsTvdftc:D:F:i:J:l:o:P:S:X:");
  if (typeof parsed === "string") return parsed;
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
    // The flags ssh takes (scp acts on -q and -v itself too); nscp's own are below.
    takeSshFlag(ssh, flag, value);
    if (REPEATED_ON_REMOTE.has(flag)) s.remoteFlags.push(`-${flag}`, ...(value === undefined ? [] : [value]));
    switch (flag) {
      case "B":
        ssh.args.push("-oBatchMode=yes");
        break;
      case "O":
        s.legacy = true;
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
        break;
      case "q":
        s.quiet = true;
        break;
      case "r":
        s.recursive = true;
        break;
      case "T":
        // Strict filename checking stays on: the names a legacy server sends are always checked.
        break;
      case "v":
        s.verbose = true;
        break;
      case "t":
      case "f":
        remoteMode = flag;
        break;
      case "d":
        targetMustBeDir = true;
        break;
      case "X": {
        const [k, v] = value!.split("=");
        if (k === "nrequests") s.requests = Number(v);
        else if (k === "buffer") s.blockSize = Number(v);
        break;
      }
      case "l":
        s.limitKbps = Number(value);
        break;
      case "D":
        break; // accepted for compatibility: no local server
    }
  }
  return { ssh, settings: s, remoteMode, targetMustBeDir, operands: parsed.operands };
}
