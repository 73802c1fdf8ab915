/**
 * The client configuration after all files are read: OpenSSH's defaults filled in (readconf.c
 * fill_default_options, with Debian 12's defaults for ForwardX11Trusted and IPQoS), "none" clearing the
 * optional commands and paths, and the expansions ssh makes before it prints `-G` (ssh.c: RemoteCommand,
 * ControlPath, IdentityAgent, ForwardAgent, UserKnownHostsFile, forwarded socket paths).
 */
import type { SshAlgorithmKeyword, SshResolvedConfig } from "./sshConfig.js";
import { dumpEntries, formatDumpEntries, type DumpEntry, type DumpSource } from "./sshConfigDump.js";
import type { JumpValue } from "./sshConfigKeywords.js";
import type { LocalIdentity } from "./sshConfigMatch.js";
import type { PathEntry, SettingOrigin, SshOptionStore } from "./sshConfigStore.js";
import {
  PORT_STREAMLOCAL,
  PUBKEY_AUTH_NO,
  REQUEST_TTY_NO,
  STRICT_ASK,
  STRICT_NEW,
  STRICT_OFF,
  TUN_ANY,
  type ForwardSpec,
} from "./sshConfigValues.js";
import { DEFAULT_GSS_KEX } from "./sshConfigAlgorithms.js";
import { connectionHash, expandTilde, expandTokens, type TokenValues } from "./tokens.js";

const DEFAULT_IDENTITY_FILES = [
  "id_rsa",
  "id_ecdsa",
  "id_ecdsa_sk",
  "id_ed25519",
  "id_ed25519_sk",
  "id_xmss",
  "id_dsa",
];

/** fill_default_options values (numbers are the multi-state values of sshConfigValues.ts). */
const DEFAULTS: Readonly<Record<string, unknown>> = {
  forwardagent: 0,
  forwardx11: 0,
  forwardx11trusted: 1, // Debian's default
  forwardx11timeout: 1200,
  exitonforwardfailure: 0,
  clearallforwardings: 0,
  xauthlocation: "/usr/bin/xauth",
  gatewayports: 0,
  streamlocalbindmask: 0o177,
  streamlocalbindunlink: 0,
  pubkeyauthentication: 3,
  gssapiauthentication: 0,
  gssapikeyexchange: 0,
  gssapidelegatecredentials: 0,
  gssapitrustdns: 0,
  gssapirenewalforcesrekey: 0,
  gssapikexalgorithms: DEFAULT_GSS_KEX,
  passwordauthentication: 1,
  kbdinteractiveauthentication: 1,
  hostbasedauthentication: 0,
  batchmode: 0,
  checkhostip: 0,
  stricthostkeychecking: STRICT_ASK,
  compression: 0,
  tcpkeepalive: 1,
  addressfamily: 0,
  connectionattempts: 1,
  numberofpasswordprompts: 3,
  addkeystoagent: { value: 0, lifespan: 0 },
  escapechar: "~".charCodeAt(0),
  globalknownhostsfile: ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"],
  userknownhostsfile: ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"],
  loglevel: 3,
  syslogfacility: "USER",
  nohostauthenticationforlocalhost: 0,
  identitiesonly: 0,
  enablesshkeysign: 0,
  rekeylimit: 0,
  rekeyinterval: 0,
  verifyhostkeydns: 0,
  serveraliveinterval: 0,
  serveralivecountmax: 3,
  controlmaster: 0,
  controlpersist: { persist: 0, timeout: 0 },
  hashknownhosts: 0,
  tunnel: 0,
  tunneldevice: { local: TUN_ANY, remote: TUN_ANY },
  permitlocalcommand: 0,
  visualhostkey: 0,
  ipqos: { interactive: 0x10, bulk: 0x08 }, // Debian's default: lowdelay throughput
  requesttty: 3,
  sessiontype: 2,
  stdinnull: 0,
  forkafterauthentication: 0,
  proxyusefdpass: 0,
  canonicalizemaxdots: 1,
  canonicalizefallbacklocal: 1,
  canonicalizehostname: 0,
  canonicalizepermittedcnames: [],
  fingerprinthash: "SHA256",
  securitykeyprovider: "internal",
  requiredrsasize: 1024,
  enableescapecommandline: 0,
};

/** Cleared when set to "none" (fill_default_options CLEAR_ON_NONE). */
const CLEAR_ON_NONE = new Set([
  "localcommand",
  "remotecommand",
  "proxycommand",
  "controlpath",
  "revokedhostkeys",
  "pkcs11provider",
  "securitykeyprovider",
  "knownhostscommand",
]);

export interface ResolvedInit {
  readonly hostArg: string;
  /** The final remote host name (after Hostname, lowercased unless an address). */
  readonly hostname: string;
  readonly store: SshOptionStore;
  readonly local: LocalIdentity;
  readonly warnings: readonly string[];
  /** A command was given on the command line (affects UpdateHostKeys=ask, as in ssh.c). */
  readonly hasRemoteCommand: boolean;
}

export type StrictHostKeyChecking = "yes" | "no" | "ask" | "accept-new";

export class ResolvedSshConfig implements DumpSource, SshResolvedConfig {
  readonly host: string;
  readonly hostArg: string;
  readonly hostname: string;
  readonly user: string;
  readonly port: number;
  readonly store: SshOptionStore;
  readonly local: LocalIdentity;
  readonly warnings: readonly string[];
  /** The tokens every client expansion accepts (%C %L %i %k %l %n %p %d %h %r %u). */
  readonly tokens: TokenValues;
  readonly expanded: DumpSource["expanded"];
  private readonly overrides = new Map<string, unknown>();
  private entriesCache: DumpEntry[] | undefined;
  /** Single keywords asked before (or without) the whole dump: get() and getAll() need no more. */
  private readonly keywordEntries = new Map<string, DumpEntry[]>();

  constructor(init: ResolvedInit) {
    this.store = init.store;
    this.local = init.local;
    this.warnings = init.warnings;
    this.host = init.hostArg;
    this.hostArg = init.hostArg;
    this.hostname = init.hostname;
    this.user = this.store.get<string>("user") ?? init.local.localUser;
    this.port = this.store.get<number>("port") ?? 22;
    this.applyDefaults(init.hasRemoteCommand);

    const portText = String(this.port);
    this.tokens = {
      C: connectionHash(init.local.localHost, this.hostname, portText, this.user),
      L: init.local.localHost.split(".")[0]!,
      i: String(init.local.uid),
      k: this.store.get<string>("hostkeyalias") ?? this.hostArg,
      l: init.local.localHost,
      n: this.hostArg,
      p: portText,
      d: init.local.homeDir,
      h: this.hostname,
      r: this.user,
      u: init.local.localUser,
    };
    const pathExpand = (what: string, value: string): string =>
      expandTokens(expandTilde(value, init.local.homeDir), this.tokens, {
        dollar: true,
        env: init.local.env,
        what,
      });
    const remoteCommand = this.opt<string | undefined>("remotecommand");
    const controlPath = this.opt<string | undefined>("controlpath");
    const identityAgent = this.store.get<string>("identityagent");
    const forwardAgentPath = this.store.get<string>("forwardagentpath");
    const expandForward = (f: ForwardSpec): ForwardSpec => ({
      ...f,
      ...(f.listenPath !== undefined
        ? { listenPath: expandTokens(f.listenPath, this.tokens, { what: "forward path" }) }
        : {}),
      ...(f.connectPath !== undefined
        ? { connectPath: expandTokens(f.connectPath, this.tokens, { what: "forward path" }) }
        : {}),
    });
    const cleared = this.opt<number>("clearallforwardings") === 1;
    this.expanded = {
      ...(remoteCommand !== undefined
        ? { remoteCommand: expandTokens(remoteCommand, this.tokens, { what: "RemoteCommand" }) }
        : {}),
      ...(controlPath !== undefined ? { controlPath: pathExpand("ControlPath", controlPath) } : {}),
      ...(identityAgent !== undefined ? { identityAgent: pathExpand("IdentityAgent", identityAgent) } : {}),
      ...(forwardAgentPath !== undefined
        ? { forwardAgentPath: pathExpand("ForwardAgent", forwardAgentPath) }
        : {}),
      userKnownHostsFiles: this.opt<string[]>("userknownhostsfile").map((f) =>
        pathExpand("UserKnownHostsFile", f),
      ),
      localForwards: cleared ? [] : this.store.localForwards.map(expandForward),
      remoteForwards: cleared ? [] : this.store.remoteForwards.map(expandForward),
    };
  }

  private applyDefaults(hasRemoteCommand: boolean): void {
    const s = this.store;
    // UpdateHostKeys defaults on only with the default known_hosts and no DNS verification (readconf.c).
    if (!s.has("updatehostkeys")) {
      const files = s.get<string[]>("userknownhostsfile");
      const defaultFiles = files === undefined || (files.length === 1 && files[0] === "~/.ssh/known_hosts");
      const dns = s.get<number>("verifyhostkeydns") ?? 0;
      this.overrides.set("updatehostkeys", dns <= 0 && defaultFiles ? 1 : 0);
    } else if (s.get<number>("updatehostkeys") === 2) {
      // ssh.c: UpdateHostKeys=ask cannot prompt in these cases.
      const persist = s.get<{ persist: number }>("controlpersist")?.persist ?? 0;
      const controlPath = this.opt<string | undefined>("controlpath");
      if (
        (persist && controlPath !== undefined) ||
        hasRemoteCommand ||
        this.opt<string | undefined>("remotecommand") !== undefined ||
        (s.get<number>("requesttty") ?? 3) === REQUEST_TTY_NO ||
        (s.get<number>("loglevel") ?? 3) < 3
      ) {
        this.overrides.set("updatehostkeys", 0);
      }
    }
    if ((s.get<number>("clearallforwardings") ?? 0) === 1) this.overrides.set("tunnel", 0);
    // ssh.c never passes a file descriptor back from a ProxyJump's ssh.
    const jump = s.get<unknown>("proxyjump");
    if (jump !== undefined && jump !== "none") this.overrides.set("proxyusefdpass", 0);
    const cnames = s.get<[string, string][]>("canonicalizepermittedcnames");
    if (cnames && cnames.length === 1 && cnames[0]![0].toLowerCase() === "none" && cnames[0]![1] === "") {
      this.overrides.set("canonicalizepermittedcnames", []);
    }
  }

  /** A value after defaults (internal keys as in sshConfigKeywords.ts). */
  opt<T>(key: string): T {
    if (this.overrides.has(key)) return this.overrides.get(key) as T;
    if (key === "identityfile") {
      const files: PathEntry[] =
        this.store.identityFiles.length > 0
          ? this.store.identityFiles
          : DEFAULT_IDENTITY_FILES.map((f) => ({ path: `~/.ssh/${f}`, userProvided: false }));
      return files as T;
    }
    let value = this.store.get<unknown>(key);
    if (CLEAR_ON_NONE.has(key) && typeof value === "string" && value.toLowerCase() === "none")
      return undefined as T;
    if (key === "proxyjump" && value === "none") return undefined as T;
    if (value === undefined) value = DEFAULTS[key];
    return value as T;
  }

  private entries(): DumpEntry[] {
    this.entriesCache ??= dumpEntries(this);
    return this.entriesCache;
  }

  /** One keyword's `ssh -G` lines (the whole dump when it is already made). */
  private entriesOf(k: string): readonly DumpEntry[] {
    if (this.entriesCache) return this.entriesCache.filter(([key]) => key.toLowerCase() === k);
    let entries = this.keywordEntries.get(k);
    if (!entries) {
      entries = dumpEntries(this, k);
      this.keywordEntries.set(k, entries);
    }
    return entries;
  }

  /** The value `ssh -G` prints for a keyword (lowercase), the first line of a repeated one. */
  get(keyword: string): string | undefined {
    return this.entriesOf(keyword.toLowerCase())[0]?.[1];
  }

  /** Every value `ssh -G` prints for a keyword, in order. */
  getAll(keyword: string): string[] {
    return this.entriesOf(keyword.toLowerCase()).map(([, v]) => v);
  }

  /** The `ssh -G` text. */
  dump(): string {
    return formatDumpEntries(this.entries());
  }

  /** Where a keyword's value came from, when a file or the command line set it. */
  origin(keyword: string): SettingOrigin | undefined {
    return this.store.origin(keyword.toLowerCase());
  }

  private pathList(entries: readonly PathEntry[], what: string): string[] {
    return entries.map((e) =>
      expandTokens(expandTilde(e.path, this.local.homeDir), this.tokens, {
        dollar: true,
        env: this.local.env,
        what,
      }),
    );
  }

  /** IdentityFile paths with ~, tokens and ${VAR} expanded (ssh.c load_public_identity_files). */
  get identityFiles(): string[] {
    return this.pathList(this.opt<PathEntry[]>("identityfile"), "IdentityFile");
  }
  /** Whether the identity files are the built-in defaults (missing ones are then not an error). */
  get identityFilesAreDefaults(): boolean {
    return this.store.identityFiles.length === 0;
  }
  get certificateFiles(): string[] {
    return this.pathList(this.store.certificateFiles, "CertificateFile");
  }
  get strictHostKeyChecking(): StrictHostKeyChecking {
    const v = this.opt<number>("stricthostkeychecking");
    return v === STRICT_OFF ? "no" : v === STRICT_NEW ? "accept-new" : v === STRICT_ASK ? "ask" : "yes";
  }
  private yes(key: string): boolean {
    return this.opt<number>(key) !== 0;
  }
  get batchMode(): boolean {
    return this.yes("batchmode");
  }
  get identitiesOnly(): boolean {
    return this.yes("identitiesonly");
  }
  /** IdentityAgent after expansion: a socket path, "none", or "SSH_AUTH_SOCK"/"$VAR" naming a variable. */
  get identityAgent(): string | undefined {
    return this.expanded.identityAgent;
  }
  get preferredAuthentications(): string[] | undefined {
    return this.store.get<string>("preferredauthentications")?.split(",");
  }
  get pubkeyAuthentication(): boolean {
    return this.opt<number>("pubkeyauthentication") !== PUBKEY_AUTH_NO;
  }
  get passwordAuthentication(): boolean {
    return this.yes("passwordauthentication");
  }
  get kbdInteractiveAuthentication(): boolean {
    return this.yes("kbdinteractiveauthentication");
  }
  get numberOfPasswordPrompts(): number {
    return this.opt<number>("numberofpasswordprompts");
  }
  /** UserKnownHostsFile with ~, tokens and ${VAR} expanded; "none" means no user file. */
  get userKnownHostsFiles(): string[] {
    return [...this.expanded.userKnownHostsFiles];
  }
  get globalKnownHostsFiles(): string[] {
    return [...this.opt<string[]>("globalknownhostsfile")];
  }
  get hashKnownHosts(): boolean {
    return this.yes("hashknownhosts");
  }
  get checkHostIP(): boolean {
    return this.yes("checkhostip");
  }
  /** An algorithm keyword as written (with its + - ^ modifier), for the transport to resolve; undefined: default. */
  algorithmSpec(keyword: SshAlgorithmKeyword): string | undefined {
    return this.store.get<string>(keyword);
  }
  get compression(): boolean {
    return this.yes("compression");
  }
  /** Seconds, or undefined for the system's TCP timeout. */
  get connectTimeout(): number | undefined {
    return this.store.get<number>("connecttimeout");
  }
  get connectionAttempts(): number {
    return this.opt<number>("connectionattempts");
  }
  get serverAliveInterval(): number {
    return this.opt<number>("serveraliveinterval");
  }
  get serverAliveCountMax(): number {
    return this.opt<number>("serveralivecountmax");
  }
  get tcpKeepAlive(): boolean {
    return this.yes("tcpkeepalive");
  }
  get requestTTY(): "no" | "yes" | "force" | "auto" {
    return (["no", "yes", "force", "auto"] as const)[this.opt<number>("requesttty")] ?? "auto";
  }
  /** RemoteCommand with its tokens expanded. */
  get remoteCommand(): string | undefined {
    return this.expanded.remoteCommand;
  }
  get sendEnv(): string[] {
    return [...this.store.sendEnv];
  }
  /** SetEnv as NAME=value strings. */
  get setEnv(): string[] {
    return [...this.store.setEnv];
  }
  get logLevel(): string {
    return this.get("loglevel") ?? "INFO";
  }
  /** ProxyCommand as written (tokens are expanded at use: expandProxyCommand). Undefined with ProxyJump. */
  get proxyCommand(): string | undefined {
    const jump = this.opt<JumpValue | undefined>("proxyjump");
    return jump === undefined || jump === "none" ? this.opt<string | undefined>("proxycommand") : undefined;
  }
  /** ProxyJump as `ssh -G` prints it ("[user@]host[:port]" hops, comma-separated). */
  get proxyJump(): string | undefined {
    return this.get("proxyjump");
  }
  /** The escape character code, or undefined for "none". */
  get escapeChar(): number | undefined {
    const v = this.opt<number>("escapechar");
    return v === -2 ? undefined : v;
  }
  /** RekeyLimit: bytes (0 = the cipher's default) and seconds (0 = none). */
  get rekeyLimit(): { bytes: number; seconds: number } {
    return { bytes: this.opt<number>("rekeylimit"), seconds: this.opt<number>("rekeyinterval") };
  }
  get addressFamily(): "any" | "inet" | "inet6" {
    const v = this.opt<number>("addressfamily");
    return v === 4 ? "inet" : v === 6 ? "inet6" : "any";
  }
  get bindAddress(): string | undefined {
    return this.store.get<string>("bindaddress");
  }
  get hostKeyAlias(): string | undefined {
    return this.store.get<string>("hostkeyalias");
  }
  /** LocalCommand as written (tokens are expanded at use: expandLocalCommand). */
  get localCommand(): string | undefined {
    return this.opt<string | undefined>("localcommand");
  }
  get permitLocalCommand(): boolean {
    return this.yes("permitlocalcommand");
  }
  get localForwards(): ForwardSpec[] {
    return this.expanded.localForwards.filter((f) => f.connectHost !== "socks");
  }
  get dynamicForwards(): ForwardSpec[] {
    return this.expanded.localForwards.filter((f) => f.connectHost === "socks");
  }
  get remoteForwards(): ForwardSpec[] {
    return [...this.expanded.remoteForwards];
  }
  /** True for a forward to or from a Unix socket path. */
  static isStreamLocal(port: number): boolean {
    return port === PORT_STREAMLOCAL;
  }
}
