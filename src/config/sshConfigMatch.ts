/**
 * ssh_config(5) Host and Match conditions, evaluated as readconf.c does: Host patterns are matched
 * case-sensitively against the host being looked up, and a matching `!pattern` ends the line with no match;
 * Match takes criteria host, originalhost, user, localuser, exec, all, final and canonical (and tagged and
 * localnetwork from OpenSSH 9.4), each negatable with `!`, all of which must hold. `Match exec` runs the command with the user's shell ($SHELL, else
 * /bin/sh) `-c`, stdin and stdout on /dev/null, and matches on exit status 0.
 */
import { spawn } from "node:child_process";
import { networkInterfaces } from "node:os";
import { addressMatchesCidrList, matchHostPattern, matchPatternList } from "../keys/hostPatterns.js";
import { SshError } from "../wire/index.js";
import type { ArgCursor } from "./sshConfigKeywords.js";
import type { SshOptionStore } from "./sshConfigStore.js";
import { LineProblem } from "./sshConfigValues.js";
import { connectionHash, expandTokens } from "./tokens.js";

/** Facts about the local side that Match and tokens use. */
export interface LocalIdentity {
  readonly localUser: string;
  readonly homeDir: string;
  readonly uid: number;
  /** gethostname(): the local host name with its domain (%l); %L is the part before the first dot. */
  readonly localHost: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface MatchContext {
  readonly store: SshOptionStore;
  readonly local: LocalIdentity;
  /** The host name read_config_file was given (the typed host in the first pass, the final name later). */
  readonly host: string;
  readonly originalHost: string;
  readonly finalPass: boolean;
  /** Set when a `Match final` is seen, asking for the second pass. */
  readonly wantFinalPass?: { value: boolean };
}

/** A `Host` line: true when some pattern matches and no negated pattern does. */
export function hostLineMatches(host: string, patterns: readonly string[]): boolean {
  let active = false;
  for (const arg of patterns) {
    const negated = arg.startsWith("!");
    const pattern = negated ? arg.slice(1) : arg;
    if (matchHostPattern(host, pattern, true)) {
      if (negated) return false;
      active = true;
    }
  }
  return active;
}

/** The default port until the configuration settles. */
const DEFAULT_PORT = 22;

/**
 * Evaluate a `Match` line's criteria (readconf.c match_cfg_line), consuming them from `args`. Criteria after a
 * failed one are still checked for syntax, but an `exec` after a failure is not run.
 */
export async function evaluateMatch(args: ArgCursor, ctx: MatchContext): Promise<boolean> {
  const { store, local } = ctx;
  const port = store.get<number>("port") ?? DEFAULT_PORT;
  const ruser = store.get<string>("user") ?? local.localUser;
  let host: string;
  const hostname = store.get<string>("hostname");
  if (ctx.finalPass) host = hostname ?? ctx.host;
  else if (hostname !== undefined) host = expandTokens(hostname, { h: ctx.host }, { what: "Hostname" });
  else host = ctx.host;

  let result = true;
  let attributes = 0;
  let attrib: string | undefined;
  while ((attrib = args.next()) !== undefined && attrib !== "") {
    if (attrib.startsWith("#")) {
      args.consumeAll();
      break;
    }
    const negate = attrib.startsWith("!");
    const name = (negate ? attrib.slice(1) : attrib).toLowerCase();
    if (name === "all") {
      const next = args.peek();
      if (attributes > 1 || (next !== undefined && next !== "" && !next.startsWith("#"))) {
        throw matchProblem(`'${attrib}' cannot be combined with other Match attributes`, true);
      }
      if (next !== undefined) args.consumeAll();
      if (result) result = !negate;
      return result;
    }
    attributes++;
    if (name === "canonical" || name === "final") {
      if (name === "final" && ctx.wantFinalPass) ctx.wantFinalPass.value = true;
      if (ctx.finalPass === negate) result = false;
      continue;
    }
    const arg = args.next();
    if (arg === undefined || arg === "" || arg.startsWith("#")) {
      throw matchProblem(`Missing Match criteria for ${name}`, false);
    }
    let hit: boolean;
    switch (name) {
      case "host":
        // match_hostname: the pattern list is compared case-insensitively.
        hit = matchPatternList(host, arg) === "match";
        break;
      case "originalhost":
        hit = matchPatternList(ctx.originalHost, arg) === "match";
        break;
      case "user":
        hit = matchPatternList(ruser, arg, true) === "match";
        break;
      case "localuser":
        hit = matchPatternList(local.localUser, arg, true) === "match";
        break;
      // OpenSSH 9.4+: the Tag set so far, and the addresses of the local interfaces.
      case "tagged":
        hit = matchPatternList(store.get<string>("tag") ?? "", arg, true) === "match";
        break;
      case "localnetwork":
        hit = localAddresses().some((addr) => {
          try {
            return addressMatchesCidrList(addr, arg);
          } catch (err) {
            if (err instanceof SshError) throw matchProblem(err.message, false);
            throw err;
          }
        });
        break;
      case "exec": {
        const keyAlias = store.get<string>("hostkeyalias") ?? host;
        const shortHost = local.localHost.split(".")[0]!;
        const portText = String(port);
        const cmd = expandTokens(
          arg,
          {
            C: connectionHash(local.localHost, host, portText, ruser),
            L: shortHost,
            d: local.homeDir,
            h: host,
            k: keyAlias,
            l: local.localHost,
            n: ctx.originalHost,
            p: portText,
            r: ruser,
            u: local.localUser,
            i: String(local.uid),
          },
          { what: "Match exec" },
        );
        if (!result) continue; // a prior criterion failed: skip running it
        hit = (await runInShell(cmd, local.env)) === 0;
        break;
      }
      default:
        throw matchProblem(`Unsupported Match attribute ${name}`, false);
    }
    if (hit === negate) result = false;
  }
  if (attributes === 0) throw matchProblem("One or more attributes required for Match", false);
  return result;
}

/** The addresses of this host's network interfaces. */
function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((i) => i.address);
}

/** OpenSSH prints the reason, then "file line N: Bad Match condition". */
function matchProblem(reason: string, prefixed: boolean): LineProblem {
  return new LineProblem("Bad Match condition", { text: reason, prefixed });
}

/** readconf.c execute_in_shell: the exit status, or a LineProblem when the command died abnormally. */
function runInShell(cmd: string, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const shell = env.SHELL && env.SHELL !== "" ? env.SHELL : "/bin/sh";
  return new Promise((resolve, reject) => {
    const child = spawn(shell, ["-c", cmd], {
      stdio: ["ignore", "ignore", "inherit"],
      env: env as NodeJS.ProcessEnv,
    });
    child.once("error", (err) => {
      reject(new LineProblem(`match exec '${cmd.slice(0, 100)}' error: ${err.message}`));
    });
    child.once("close", (code, signal) => {
      if (code === null)
        reject(new LineProblem(`match exec '${cmd.slice(0, 100)}' error (${signal ?? "abnormal exit"})`));
      else resolve(code);
    });
  });
}
