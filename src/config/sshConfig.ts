/**
 * The ssh_config(5) engine of the client: command-line options first, then `-F file` (or ~/.ssh/config and
 * /etc/ssh/ssh_config), the first value obtained for a keyword winning; a second pass over the files when a
 * `Match final` or CanonicalizeHostname asks for one (ssh.c); then defaults, and `ssh -G` output.
 */
import { hostname as osHostname, userInfo } from "node:os";
import { join } from "node:path";
import { isIP } from "node:net";
import { ConfigError, parseConfigLine, splitConfigArgs } from "./configLine.js";
import { SshError } from "../wire/index.js";
import type { LocalIdentity } from "./sshConfigMatch.js";
import { describeFault, processLine, readConfigFile, type ReadPass } from "./sshConfigReader.js";
import { ResolvedSshConfig, type StrictHostKeyChecking } from "./sshConfigResolved.js";
import { SshOptionStore } from "./sshConfigStore.js";
import { expandTokens, isNameSafeForExpansion, validateNameForExpansion } from "./tokens.js";

export { validateNameForExpansion } from "./tokens.js";
export { SshConfigFileError } from "./sshConfigReader.js";
export { ResolvedSshConfig } from "./sshConfigResolved.js";
export type { ForwardSpec } from "./sshConfigValues.js";

export interface SshConfigRequest {
  /** Destination host as typed (after user@ / ssh:// split). */
  host: string;
  /** "Keyword=value" in command-line order (from -o and from flags). */
  commandLineOptions: string[];
  /** -F path, or "none". */
  configFile?: string;
  /** Default ~/.ssh/config. */
  userConfigFile?: string;
  /** Default /etc/ssh/ssh_config. */
  systemConfigFile?: string;
  /** Default os.userInfo(). */
  localUser?: string;
  homeDir?: string;
  /** Environment for ${VAR}, $SHELL of Match exec and $HOME of Include globs (default process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The local host name for %l, %L and %C (default os.hostname()). */
  localHostname?: string;
  /** A remote command was given on the command line (ssh.c turns UpdateHostKeys=ask off then). */
  hasRemoteCommand?: boolean;
}

export interface SshResolvedConfig {
  /** Lowercase keyword; the final value after defaults, as `ssh -G` prints it. */
  get(keyword: string): string | undefined;
  /** Multi-valued keywords, in order. */
  getAll(keyword: string): string[];
  /** The original host. */
  readonly host: string;
  readonly hostname: string;
  readonly port: number;
  readonly user: string;
  /** ~, tokens and ${VAR} expanded. */
  readonly identityFiles: string[];
  /** "off" reads as "no". */
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  readonly certificateFiles: string[];
  readonly batchMode: boolean;
  readonly identitiesOnly: boolean;
  readonly identityAgent: string | undefined;
  readonly preferredAuthentications: string[] | undefined;
  readonly pubkeyAuthentication: boolean;
  readonly passwordAuthentication: boolean;
  readonly kbdInteractiveAuthentication: boolean;
  readonly numberOfPasswordPrompts: number;
  readonly userKnownHostsFiles: string[];
  readonly globalKnownHostsFiles: string[];
  readonly hashKnownHosts: boolean;
  readonly checkHostIP: boolean;
  readonly compression: boolean;
  readonly connectTimeout: number | undefined;
  readonly connectionAttempts: number;
  readonly serverAliveInterval: number;
  readonly serverAliveCountMax: number;
  readonly tcpKeepAlive: boolean;
  readonly requestTTY: "no" | "yes" | "force" | "auto";
  readonly remoteCommand: string | undefined;
  readonly sendEnv: string[];
  readonly setEnv: string[];
  readonly logLevel: string;
  readonly proxyCommand: string | undefined;
  readonly proxyJump: string | undefined;
  readonly escapeChar: number | undefined;
  readonly rekeyLimit: { bytes: number; seconds: number };
  readonly addressFamily: "any" | "inet" | "inet6";
  readonly bindAddress: string | undefined;
  readonly hostKeyAlias: string | undefined;
  readonly localCommand: string | undefined;
  readonly permitLocalCommand: boolean;
  /** Where a keyword's value came from (file and line; "command-line" line 0), if a file or option set it. */
  origin(keyword: string): { file: string; line: number } | undefined;
  /** Warnings OpenSSH would print (e.g. `Unsupported option "rsaauthentication"`). */
  readonly warnings: readonly string[];
  algorithmSpec(keyword: SshAlgorithmKeyword): string | undefined;
}

/** The algorithm-list keywords whose setting the transport resolves (algorithmSpec). */
export type SshAlgorithmKeyword =
  | "ciphers"
  | "macs"
  | "kexalgorithms"
  | "hostkeyalgorithms"
  | "pubkeyacceptedalgorithms"
  | "casignaturealgorithms";

function localIdentity(req: SshConfigRequest): LocalIdentity {
  const info = req.localUser === undefined || req.homeDir === undefined ? userInfo() : undefined;
  return {
    localUser: req.localUser ?? info!.username,
    homeDir: req.homeDir ?? info!.homedir,
    uid: process.getuid ? process.getuid() : (info?.uid ?? 0),
    localHost: req.localHostname ?? osHostname(),
    env: req.env ?? process.env,
  };
}

/** Resolve the configuration for one destination, as `ssh` would before connecting. */
export async function resolveSshConfig(req: SshConfigRequest): Promise<ResolvedSshConfig> {
  validateNameForExpansion("host", req.host);
  const local = localIdentity(req);
  const store = new SshOptionStore();
  const warnings: string[] = [];

  // Command-line options: processed first, so they win; any bad one is fatal at once (ssh exits 255).
  const cmdPass: ReadPass = {
    store,
    local,
    host: req.host,
    originalHost: req.host,
    finalPass: false,
    warnings,
  };
  for (const option of req.commandLineOptions) {
    const parsed = parseConfigLine(option, "command-line", 0);
    if (!parsed) continue;
    const outcome = await processLine(
      cmdPass,
      parsed,
      option,
      null,
      { userConfig: true, checkPerm: false, neverMatch: false },
      0,
    );
    if (outcome.problem !== undefined) {
      const detail = describeFault({
        detail: outcome.problem,
        ...(outcome.preface ? { preface: outcome.preface } : {}),
      });
      throw new ConfigError("command-line", 0, detail);
    }
  }
  const cmdUser = store.get<string>("user");
  if (cmdUser !== undefined) validateNameForExpansion("user", cmdUser);

  const readFiles = async (
    host: string,
    finalPass: boolean,
    wantFinalPass?: { value: boolean },
  ): Promise<void> => {
    const pass: ReadPass = {
      store,
      local,
      host,
      originalHost: req.host,
      finalPass,
      warnings,
      ...(wantFinalPass ? { wantFinalPass } : {}),
    };
    if (req.configFile !== undefined) {
      if (req.configFile.toLowerCase() === "none") return;
      const opened = await readConfigFile(pass, req.configFile, {
        userConfig: true,
        checkPerm: false,
        neverMatch: false,
      });
      if (!opened)
        throw new SshError(
          "CONFIG",
          `Can't open user config file ${req.configFile}: No such file or directory`,
        );
      return;
    }
    const userFile = req.userConfigFile ?? join(local.homeDir, ".ssh", "config");
    await readConfigFile(pass, userFile, { userConfig: true, checkPerm: true, neverMatch: false });
    await readConfigFile(pass, req.systemConfigFile ?? "/etc/ssh/ssh_config", {
      userConfig: false,
      checkPerm: false,
      neverMatch: false,
    });
  };

  const wantFinalPass = { value: false };
  await readFiles(req.host, false, wantFinalPass);

  // ssh.c: a Hostname takes effect now (%h is the typed host), then the name is lowercased unless an address.
  let host = req.host;
  const configured = store.get<string>("hostname");
  if (configured !== undefined) {
    host = expandTokens(configured, { h: req.host }, { what: "Hostname" });
    store.set("hostname", host);
  }
  if (isIP(host) === 0) host = host.toLowerCase();

  // Host name canonicalisation (DNS) is not done; asking for it still causes the second pass, as in ssh.c.
  if ((store.get<number>("canonicalizehostname") ?? 0) !== 0) wantFinalPass.value = true;
  if (wantFinalPass.value) {
    store.set("hostname", host);
    await readFiles(host, true);
  }

  return new ResolvedSshConfig({
    hostArg: req.host,
    hostname: host,
    store,
    local,
    warnings,
    hasRemoteCommand: req.hasRemoteCommand ?? false,
  });
}

/** Exactly what `ssh -G` prints for this configuration. */
export function formatSshConfigDump(cfg: SshResolvedConfig): string {
  if (!(cfg instanceof ResolvedSshConfig))
    throw new SshError("CONFIG", "not a configuration from resolveSshConfig");
  return cfg.dump();
}

/**
 * Expand the client tokens (%% %C %d %h %i %k %L %l %n %p %r %u, plus `extra` such as T for LocalCommand) in
 * a command at the time it is used. Because the result goes to a shell, a host or user name that could carry
 * shell syntax (CVE-2023-51385) is refused when it is substituted.
 */
export function expandClientTokens(
  text: string,
  cfg: SshResolvedConfig,
  extra?: Record<string, string>,
): string {
  if (!(cfg instanceof ResolvedSshConfig))
    throw new SshError("CONFIG", "not a configuration from resolveSshConfig");
  const tokens = { ...cfg.tokens, ...(extra ?? {}) };
  checkNamesUsed(text, cfg, ["n"]);
  return expandTokens(text, tokens);
}

/** The typed host and the user must be safe when %n / %h / %r reach a shell command. */
function checkNamesUsed(text: string, cfg: ResolvedSshConfig, hostTokens: readonly string[]): void {
  const used = new Set<string>();
  for (let i = 0; i < text.length - 1; i++) {
    if (text[i] === "%") {
      used.add(text[i + 1]!);
      i++;
    }
  }
  // The name typed on the command line was checked by resolveSshConfig; check again for a caller's own config.
  if (hostTokens.some((t) => used.has(t)) && !isNameSafeForExpansion("host", cfg.hostArg)) {
    validateNameForExpansion("host", cfg.hostArg);
  }
  if (used.has("r") && cfg.origin("user")?.file === "command-line")
    validateNameForExpansion("user", cfg.user);
}

/** ProxyCommand with its tokens (%% %h %n %p %r, ssh_config(5) TOKENS) expanded, or undefined. */
export function expandProxyCommand(cfg: SshResolvedConfig): string | undefined {
  if (!(cfg instanceof ResolvedSshConfig))
    throw new SshError("CONFIG", "not a configuration from resolveSshConfig");
  const cmd = cfg.proxyCommand;
  if (cmd === undefined) return undefined;
  checkNamesUsed(cmd, cfg, ["n"]);
  return expandTokens(
    cmd,
    { h: cfg.hostname, n: cfg.hostArg, p: String(cfg.port), r: cfg.user },
    { what: "ProxyCommand" },
  );
}

/**
 * KnownHostsCommand as the argv ssh runs (sshconnect.c): split like a config line, then the client tokens,
 * `${VAR}` and the per-lookup tokens f (fingerprint), H (name searched), I (ADDRESS, HOSTNAME or ORDER),
 * K (base64 key) and t (key type) expanded in each argument after the command itself.
 */
export function expandKnownHostsCommand(
  cfg: SshResolvedConfig,
  lookup: { f: string; H: string; I: string; K: string; t: string },
): string[] | undefined {
  if (!(cfg instanceof ResolvedSshConfig))
    throw new SshError("CONFIG", "not a configuration from resolveSshConfig");
  const cmd = cfg.opt<string | undefined>("knownhostscommand");
  if (cmd === undefined) return undefined;
  const [program, ...args] = splitConfigArgs(cmd, "KnownHostsCommand", 0);
  if (program === undefined) return undefined;
  const tokens = { ...cfg.tokens, ...lookup };
  return [
    program,
    ...args.map((a) =>
      expandTokens(a, tokens, { dollar: true, env: cfg.local.env, what: "KnownHostsCommand" }),
    ),
  ];
}

/** LocalCommand with all client tokens expanded; %T is the tunnel interface or "NONE". */
export function expandLocalCommand(cfg: SshResolvedConfig, tunnelInterface = "NONE"): string | undefined {
  const cmd = cfg.localCommand;
  if (cmd === undefined) return undefined;
  return expandClientTokens(cmd, cfg, { T: tunnelInterface });
}
