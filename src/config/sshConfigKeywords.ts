/**
 * Every keyword OpenSSH 9.2's ssh (Debian build) knows, its aliases, and how far nssh goes with it. Host, Match
 * and Include are structural and handled by the reader (sshConfigReader.ts); the others' arguments are
 * checked by sshConfigHandlers.ts.
 */
import { KEYWORD_HANDLERS, type KeywordContext } from "./sshConfigHandlers.js";

export { ArgCursor, type KeywordContext } from "./sshConfigHandlers.js";
export type { JumpValue } from "./sshConfigJump.js";

/**
 * How far nssh goes with a keyword: "supported" (used by the client), "parsed" (checked, stored, printed by
 * -G; used by later work), "deprecated"/"ignored" (accepted silently, as OpenSSH), "unsupported" (OpenSSH
 * itself no longer supports it: a warning).
 */
export type KeywordSupport = "supported" | "parsed" | "deprecated" | "ignored" | "unsupported";

export interface KeywordDef {
  /** As the man page spells it. */
  readonly name: string;
  readonly key: string;
  readonly support: KeywordSupport;
  readonly aliases?: readonly string[];
  /** Host, Match, Include: the reader handles them. */
  readonly structural?: boolean;
  readonly handle?: (c: KeywordContext) => void;
}

const S: KeywordSupport = "supported";
const P: KeywordSupport = "parsed";

/** [name, support, aliases] for every keyword, in ssh_config(5) order. */
const TABLE: readonly (readonly [string, KeywordSupport, (readonly string[])?])[] = [
  ["Host", S],
  ["Match", S],
  ["AddKeysToAgent", P],
  ["AddressFamily", S],
  ["BatchMode", S],
  ["BindAddress", S],
  ["BindInterface", P],
  ["CanonicalDomains", P],
  ["CanonicalizeFallbackLocal", P],
  ["CanonicalizeHostname", P],
  ["CanonicalizeMaxDots", P],
  ["CanonicalizePermittedCNAMEs", P],
  ["CASignatureAlgorithms", P],
  ["CertificateFile", S],
  ["CheckHostIP", S],
  ["Ciphers", S],
  ["ChannelTimeout", P],
  ["ClearAllForwardings", P],
  ["Compression", S],
  ["ConnectionAttempts", S],
  ["ConnectTimeout", S],
  ["ControlMaster", P],
  ["ControlPath", P],
  ["ControlPersist", P],
  ["DynamicForward", P],
  ["EnableEscapeCommandline", P],
  ["EnableSSHKeysign", P],
  ["EscapeChar", S],
  ["ExitOnForwardFailure", P],
  ["FingerprintHash", P],
  ["ForkAfterAuthentication", P],
  ["ForwardAgent", P],
  ["ForwardX11", P],
  ["ForwardX11Timeout", P],
  ["ForwardX11Trusted", P],
  ["GatewayPorts", P],
  ["GlobalKnownHostsFile", S],
  ["GSSAPIAuthentication", P],
  ["GSSAPIClientIdentity", P],
  ["GSSAPIDelegateCredentials", P],
  ["GSSAPIKeyExchange", P],
  ["GSSAPIKexAlgorithms", P],
  ["GSSAPIRenewalForcesRekey", P],
  ["GSSAPIServerIdentity", P],
  ["GSSAPITrustDNS", P],
  ["HashKnownHosts", S],
  ["HostbasedAcceptedAlgorithms", P, ["hostbasedkeytypes"]],
  ["HostbasedAuthentication", P],
  ["HostKeyAlgorithms", S],
  ["HostKeyAlias", S],
  ["Hostname", S],
  ["IdentitiesOnly", S],
  ["IdentityAgent", S],
  ["IdentityFile", S, ["identityfile2"]],
  ["IgnoreUnknown", S],
  ["Include", S],
  ["IPQoS", P],
  [
    "KbdInteractiveAuthentication",
    S,
    ["challengeresponseauthentication", "skeyauthentication", "tisauthentication"],
  ],
  ["KbdInteractiveDevices", P],
  ["KexAlgorithms", S],
  ["KnownHostsCommand", P],
  ["LocalCommand", S],
  ["LocalForward", P],
  ["LogLevel", S],
  ["LogVerbose", P],
  ["MACs", S],
  ["NoHostAuthenticationForLocalhost", P],
  ["NumberOfPasswordPrompts", S],
  ["PasswordAuthentication", S],
  ["PermitLocalCommand", S],
  ["PermitRemoteOpen", P],
  ["PKCS11Provider", P, ["smartcarddevice"]],
  ["Port", S],
  ["PreferredAuthentications", S],
  ["ProxyCommand", S],
  ["ProxyJump", S],
  ["ProxyUseFdpass", P],
  ["PubkeyAcceptedAlgorithms", P, ["pubkeyacceptedkeytypes"]],
  ["PubkeyAuthentication", S, ["dsaauthentication"]],
  ["RekeyLimit", S],
  ["RemoteCommand", S],
  ["RemoteForward", P],
  ["RequestTTY", S],
  ["ObscureKeystrokeTiming", P],
  ["RequiredRSASize", P],
  ["RevokedHostKeys", P],
  ["SecurityKeyProvider", P],
  ["SendEnv", S],
  ["ServerAliveCountMax", S],
  ["ServerAliveInterval", S],
  ["SessionType", P],
  ["SetEnv", S],
  ["StdinNull", P],
  ["StreamLocalBindMask", P],
  ["StreamLocalBindUnlink", P],
  ["StrictHostKeyChecking", S],
  ["SyslogFacility", P],
  ["Tag", P],
  ["TCPKeepAlive", S, ["keepalive"]],
  ["Tunnel", P],
  ["TunnelDevice", P],
  ["UpdateHostKeys", P],
  ["User", S],
  ["UserKnownHostsFile", S],
  ["VerifyHostKeyDNS", P],
  ["VisualHostKey", P],
  ["XAuthLocation", P],
];

/** Accepted and ignored as OpenSSH does (readconf.c oDeprecated / oIgnore), and those it warns about. */
const DEPRECATED = [
  "cipher",
  "fallbacktorsh",
  "globalknownhostsfile2",
  "rhostsauthentication",
  "userknownhostsfile2",
  "useroaming",
  "usersh",
  "useprivilegedport",
  "useblacklistedkeys",
];
const UNSUPPORTED = [
  "afstokenpassing",
  "kerberosauthentication",
  "kerberostgtpassing",
  "rsaauthentication",
  "rhostsrsaauthentication",
  "compressionlevel",
];

function buildKeywords(): Map<string, KeywordDef> {
  const map = new Map<string, KeywordDef>();
  for (const [name, support, aliases] of TABLE) {
    const key = name.toLowerCase();
    const structural = key === "host" || key === "match" || key === "include";
    const handle: ((c: KeywordContext) => void) | undefined = KEYWORD_HANDLERS[key];
    if (!structural && !handle) throw new Error(`no handler for ${name}`);
    const def: KeywordDef = {
      name,
      key,
      support,
      ...(aliases ? { aliases } : {}),
      ...(structural ? { structural } : {}),
      ...(handle ? { handle } : {}),
    };
    map.set(key, def);
    for (const alias of aliases ?? []) map.set(alias, def);
  }
  const consume = (c: KeywordContext): void => c.args.consumeAll();
  map.set("protocol", { name: "Protocol", key: "protocol", support: "ignored", handle: consume });
  for (const key of DEPRECATED) map.set(key, { name: key, key, support: "deprecated", handle: consume });
  for (const key of UNSUPPORTED) {
    map.set(key, {
      name: key,
      key,
      support: "unsupported",
      handle: (c) => {
        c.args.consumeAll();
        c.warn(`Unsupported option "${c.keyword}"`);
      },
    });
  }
  return map;
}

/** Keyword (or alias) in lowercase to its definition. */
export const SSH_CONFIG_KEYWORDS: ReadonlyMap<string, KeywordDef> = buildKeywords();

/** The main keywords (no aliases, no deprecated ones), for documentation and tests. */
export function listSshConfigKeywords(): KeywordDef[] {
  return TABLE.map(([name]) => SSH_CONFIG_KEYWORDS.get(name.toLowerCase())!);
}
