/**
 * One resolved view of sshd_config: every keyword's value as `sshd -T` prints it, after defaults and (for a
 * connection) Match blocks, with typed getters for what the daemon acts on. Built by sshdConfig.ts.
 */
import { SshError } from "../wire/index.js";
import { KEYWORDS } from "./sshdConfigKeywords.js";
import { parseMaxStartups, type MaxStartups } from "./sshdConfigValues.js";

export type PermitRootLogin = "yes" | "prohibit-password" | "forced-commands-only" | "no";
export type ForwardingPermission = "yes" | "no" | "local" | "remote";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  readonly rdomain?: string;
}

const yes = (v: string | undefined): boolean => v === "yes";
const noneToNull = (v: string | undefined): string | null => (v === undefined || v === "none" ? null : v);

export class SshdSettings {
  /** Keyword (lowercase) to entries as -T prints them (keywords printed on one line keep one entry a word). */
  readonly #values: ReadonlyMap<string, readonly string[]>;

  constructor(values: ReadonlyMap<string, readonly string[]>) {
    this.#values = values;
  }

  /** The value as `sshd -T` prints it (entries of a one-line list joined by spaces; first entry of a list). */
  get(keyword: string): string | undefined {
    const key = keyword.toLowerCase();
    const v = this.#values.get(key);
    if (!v || v.length === 0) return undefined;
    return KEYWORDS.get(key)?.dump === "lines" ? v[0] : v.join(" ");
  }

  /** Every entry of a keyword (Port, ListenAddress, HostKey, AcceptEnv, SetEnv, Subsystem, AllowUsers, ...). */
  getAll(keyword: string): string[] {
    return [...(this.#values.get(keyword.toLowerCase()) ?? [])];
  }

  /** Keywords with a value, for the dump. */
  has(keyword: string): boolean {
    return (this.#values.get(keyword.toLowerCase())?.length ?? 0) > 0;
  }

  #int(key: string): number {
    return Number(this.get(key));
  }
  #flag(key: string): boolean {
    return yes(this.get(key));
  }
  #list(key: string): string[] {
    return (this.get(key) ?? "").split(",").filter((s) => s !== "");
  }

  get ports(): number[] {
    return this.getAll("port").map(Number);
  }
  get addressFamily(): "any" | "inet" | "inet6" {
    return this.get("addressfamily") as "any" | "inet" | "inet6";
  }
  get listenAddresses(): ListenAddress[] {
    return this.getAll("listenaddress").map((entry) => {
      const [hostPort, , rdomain] = entry.split(" ");
      const m = /^\[(.*)\]:(\d+)$/.exec(hostPort!) ?? /^(.*):(\d+)$/.exec(hostPort!);
      return { host: m![1]!, port: Number(m![2]), ...(rdomain ? { rdomain } : {}) };
    });
  }
  get hostKeys(): string[] {
    return this.getAll("hostkey");
  }
  get hostCertificates(): string[] {
    return this.getAll("hostcertificate");
  }
  get hostKeyAgent(): string | null {
    return noneToNull(this.get("hostkeyagent"));
  }
  get hostKeyAlgorithms(): string[] {
    return this.#list("hostkeyalgorithms");
  }
  get kexAlgorithms(): string[] {
    return this.#list("kexalgorithms");
  }
  get ciphers(): string[] {
    return this.#list("ciphers");
  }
  get macs(): string[] {
    return this.#list("macs");
  }
  get pubkeyAcceptedAlgorithms(): string[] {
    return this.#list("pubkeyacceptedalgorithms");
  }
  get caSignatureAlgorithms(): string[] {
    return this.#list("casignaturealgorithms");
  }
  /** RekeyLimit: bytes (0 = the cipher's default) and seconds (0 = none). */
  get rekeyLimit(): { bytes: number; seconds: number } {
    const [bytes, seconds] = (this.get("rekeylimit") ?? "0 0").split(" ").map(Number);
    return { bytes: bytes!, seconds: seconds! };
  }
  /** Seconds; 0 means no limit. */
  get loginGraceTime(): number {
    return this.#int("logingracetime");
  }
  get maxAuthTries(): number {
    return this.#int("maxauthtries");
  }
  get maxSessions(): number {
    return this.#int("maxsessions");
  }
  get maxStartups(): MaxStartups {
    return parseMaxStartups(this.get("maxstartups")!);
  }
  get perSourceMaxStartups(): number | null {
    const v = this.get("persourcemaxstartups");
    return v === "none" || v === undefined ? null : Number(v);
  }
  get perSourceNetBlockSize(): { ipv4: number; ipv6: number } {
    const [ipv4, ipv6] = this.get("persourcenetblocksize")!.split(":").map(Number);
    return { ipv4: ipv4!, ipv6: ipv6! };
  }
  /** PerSourcePenalties: null when "no"; otherwise kind to value (durations in seconds, counts, policies). */
  get perSourcePenalties(): Map<string, string> | null {
    const entries = this.getAll("persourcepenalties");
    if (entries.includes("no")) return null;
    const out = new Map<string, string>();
    for (const e of entries) {
      const i = e.indexOf(":");
      if (i > 0) out.set(e.slice(0, i).toLowerCase(), e.slice(i + 1));
    }
    return out;
  }
  get permitRootLogin(): PermitRootLogin {
    const v = this.get("permitrootlogin");
    return v === "without-password" ? "prohibit-password" : (v as PermitRootLogin);
  }
  get pubkeyAuthentication(): boolean {
    return this.#flag("pubkeyauthentication");
  }
  get passwordAuthentication(): boolean {
    return this.#flag("passwordauthentication");
  }
  get kbdInteractiveAuthentication(): boolean {
    return this.#flag("kbdinteractiveauthentication");
  }
  get hostbasedAuthentication(): boolean {
    return this.#flag("hostbasedauthentication");
  }
  get permitEmptyPasswords(): boolean {
    return this.#flag("permitemptypasswords");
  }
  /** AuthenticationMethods: null for "any", else the lists, each a sequence of methods that must all succeed. */
  get authenticationMethods(): string[][] | null {
    const v = this.getAll("authenticationmethods");
    if (v.length === 0 || v[0] === "any") return null;
    return v.map((list) => list.split(","));
  }
  /** AuthorizedKeysFile templates (tokens unexpanded; see expandAuthorizedKeysPath); [] for "none". */
  get authorizedKeysFiles(): string[] {
    return this.getAll("authorizedkeysfile").filter((p) => p !== "none");
  }
  get authorizedKeysCommand(): string | null {
    return noneToNull(this.get("authorizedkeyscommand"));
  }
  get authorizedKeysCommandUser(): string | null {
    return noneToNull(this.get("authorizedkeyscommanduser"));
  }
  get authorizedPrincipalsFile(): string | null {
    return noneToNull(this.get("authorizedprincipalsfile"));
  }
  get trustedUserCaKeys(): string | null {
    return noneToNull(this.get("trustedusercakeys"));
  }
  get revokedKeys(): string | null {
    return noneToNull(this.get("revokedkeys"));
  }
  get usePam(): boolean {
    return this.#flag("usepam");
  }
  get allowUsers(): string[] {
    return this.getAll("allowusers");
  }
  get denyUsers(): string[] {
    return this.getAll("denyusers");
  }
  get allowGroups(): string[] {
    return this.getAll("allowgroups");
  }
  get denyGroups(): string[] {
    return this.getAll("denygroups");
  }
  get strictModes(): boolean {
    return this.#flag("strictmodes");
  }
  get banner(): string | null {
    return noneToNull(this.get("banner"));
  }
  get printMotd(): boolean {
    return this.#flag("printmotd");
  }
  get printLastLog(): boolean {
    return this.#flag("printlastlog");
  }
  get forceCommand(): string | null {
    return noneToNull(this.get("forcecommand"));
  }
  get permitTty(): boolean {
    return this.#flag("permittty");
  }
  get permitUserRc(): boolean {
    return this.#flag("permituserrc");
  }
  /** PermitUserEnvironment: true, false, or a pattern list of the variable names allowed. */
  get permitUserEnvironment(): boolean | string {
    const v = this.get("permituserenvironment")!;
    return v === "yes" ? true : v === "no" ? false : v;
  }
  get acceptEnv(): string[] {
    return this.getAll("acceptenv");
  }
  /** SetEnv as name to value, in order. */
  get setEnv(): Map<string, string> {
    const out = new Map<string, string>();
    for (const e of this.getAll("setenv")) {
      const i = e.indexOf("=");
      if (!out.has(e.slice(0, i))) out.set(e.slice(0, i), e.slice(i + 1));
    }
    return out;
  }
  /** Subsystem name to its command line. */
  get subsystems(): Map<string, string> {
    const out = new Map<string, string>();
    for (const e of this.getAll("subsystem")) {
      const i = e.indexOf(" ");
      out.set(e.slice(0, i), e.slice(i + 1));
    }
    return out;
  }
  get clientAliveInterval(): number {
    return this.#int("clientaliveinterval");
  }
  get clientAliveCountMax(): number {
    return this.#int("clientalivecountmax");
  }
  get tcpKeepAlive(): boolean {
    return this.#flag("tcpkeepalive");
  }
  get logLevel(): string {
    return this.get("loglevel")!;
  }
  get syslogFacility(): string {
    return this.get("syslogfacility")!;
  }
  get pidFile(): string | null {
    return noneToNull(this.get("pidfile"));
  }
  get chrootDirectory(): string | null {
    return noneToNull(this.get("chrootdirectory"));
  }
  get compression(): boolean {
    return this.#flag("compression");
  }
  get useDns(): boolean {
    return this.#flag("usedns");
  }
  /** PermitOpen entries: ["any"], ["none"] or host:port entries (`*` wildcards allowed). */
  get permitOpen(): string[] {
    return this.getAll("permitopen");
  }
  get permitListen(): string[] {
    return this.getAll("permitlisten");
  }
  get allowTcpForwarding(): ForwardingPermission {
    return this.get("allowtcpforwarding") as ForwardingPermission;
  }
  get allowStreamLocalForwarding(): ForwardingPermission {
    return this.get("allowstreamlocalforwarding") as ForwardingPermission;
  }
  get allowAgentForwarding(): boolean {
    return this.#flag("allowagentforwarding");
  }
  get disableForwarding(): boolean {
    return this.#flag("disableforwarding");
  }
  get x11Forwarding(): boolean {
    return this.#flag("x11forwarding");
  }
  get x11DisplayOffset(): number {
    return this.#int("x11displayoffset");
  }
  get x11UseLocalhost(): boolean {
    return this.#flag("x11uselocalhost");
  }
  get gatewayPorts(): "yes" | "no" | "clientspecified" {
    return this.get("gatewayports") as "yes" | "no" | "clientspecified";
  }
  get permitTunnel(): "yes" | "point-to-point" | "ethernet" | "no" {
    return this.get("permittunnel") as "yes" | "point-to-point" | "ethernet" | "no";
  }
  get streamLocalBindUnlink(): boolean {
    return this.#flag("streamlocalbindunlink");
  }
  get streamLocalBindMask(): number {
    return parseInt(this.get("streamlocalbindmask")!, 8);
  }
  /** Seconds, or null for none. */
  get unusedConnectionTimeout(): number | null {
    const v = this.get("unusedconnectiontimeout");
    return v === "none" || v === undefined ? null : Number(v);
  }
  get channelTimeouts(): string[] {
    return this.getAll("channeltimeout");
  }
  get versionAddendum(): string | null {
    return noneToNull(this.get("versionaddendum"));
  }
  get exposeAuthInfo(): boolean {
    return this.#flag("exposeauthinfo");
  }
  get requiredRsaSize(): number {
    return this.#int("requiredrsasize");
  }
  get ignoreRhosts(): string {
    return this.get("ignorerhosts")!;
  }
  get fingerprintHash(): "sha256" | "md5" {
    return this.get("fingerprinthash") === "MD5" ? "md5" : "sha256";
  }
  get ipQos(): { interactive: string; bulk: string } {
    const [interactive, bulk] = this.get("ipqos")!.split(" ");
    return { interactive: interactive!, bulk: bulk! };
  }
  get logVerbose(): string[] {
    return this.getAll("logverbose");
  }
  get pubkeyAuthOptions(): string[] {
    return this.getAll("pubkeyauthoptions").filter((o) => o !== "none");
  }
}

/**
 * Expand sshd_config(5) TOKENS in an AuthorizedKeysFile (or AuthorizedPrincipalsFile) template: %% %h %U %u;
 * a relative result is taken from the user's home directory. An unknown token is a CONFIG error.
 */
export function expandAuthorizedKeysPath(
  template: string,
  user: { name: string; home: string; uid: number },
): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== "%") {
      out += c;
      continue;
    }
    const t = template[++i];
    if (t === "%") out += "%";
    else if (t === "h") out += user.home;
    else if (t === "u") out += user.name;
    else if (t === "U") out += String(user.uid);
    else throw new SshError("CONFIG", `unknown token %${t ?? ""} in "${template}" (known: %% %h %u %U)`);
  }
  if (!out.startsWith("/")) out = `${user.home.replace(/\/$/, "")}/${out}`;
  return out;
}
