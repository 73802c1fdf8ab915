/**
 * Every keyword sshd 9.x knows (servconf.c keyword table, sshd_config(5)): where it may appear (global only or
 * also inside Match), how repeated lines combine, how its arguments are checked, its default and how `sshd -T`
 * prints it. Deprecated and unsupported keywords are kept so that configs written for sshd still load.
 */
import {
  LOG_LEVELS,
  ValueError,
  formatMaxStartups,
  parseAuthMethodList,
  parseChannelTimeout,
  parseInteger,
  parseIpQos,
  parseMaxStartups,
  parseOctalMask,
  parsePenaltyEntry,
  parsePermitEntry,
  parsePort,
  parseRekeyLimit,
  parseTime,
} from "./sshdConfigValues.js";
import { parseCidrList } from "../keys/hostPatterns.js";
import { SYSLOG_FACILITIES } from "./configValues.js";
import {
  FORWARDING,
  acceptEnvName,
  algorithms,
  appendList,
  choice,
  firstLineList,
  flag,
  integer,
  listenAddress,
  make,
  needArgs,
  restOfLine,
  retired,
  setEnv,
  single,
  subsystem,
  text,
  timeValue,
  type KeywordEntry,
  type KeywordSpec,
} from "./sshdConfigKeywordKinds.js";

export type { Combine, DumpStyle, KeywordEntry, KeywordSpec } from "./sshdConfigKeywordKinds.js";

const SPECS: KeywordSpec[] = [
  flag("UsePAM", "no"),
  make(
    "Port",
    ["22"],
    single((a) => String(parsePort(a))),
    { combine: "append", dump: "lines" },
  ),
  make("AddressFamily", ["any"], choice({ any: "any", inet: "inet", inet6: "inet6" })),
  make("ListenAddress", [], listenAddress, { combine: "append", dump: "lines" }),
  timeValue("LoginGraceTime", 120),
  integer("X11DisplayOffset", 10, 0, true),
  integer("MaxAuthTries", 6, 0, true),
  integer("MaxSessions", 10, 0, true),
  timeValue("ClientAliveInterval", 0, true),
  integer("ClientAliveCountMax", 3, 0, true),
  integer("RequiredRSASize", 1024, 0, true),
  make("StreamLocalBindMask", ["0177"], single(parseOctalMask), { inMatch: true }),
  make(
    "UnusedConnectionTimeout",
    ["none"],
    // -T shows 0 as "none": no timeout.
    single((a) => (a.toLowerCase() === "none" || parseTime(a) === 0 ? "none" : String(parseTime(a)))),
    { inMatch: true },
  ),
  make(
    "PermitRootLogin",
    ["without-password"],
    choice({
      yes: "yes",
      "prohibit-password": "without-password",
      "without-password": "without-password",
      "forced-commands-only": "forced-commands-only",
      no: "no",
    }),
    { inMatch: true },
  ),
  make("IgnoreRhosts", ["yes"], choice({ yes: "yes", no: "no", "shosts-only": "shosts-only" }), {
    inMatch: true,
  }),
  flag("IgnoreUserKnownHosts", "no"),
  flag("HostbasedAuthentication", "no", true),
  flag("HostbasedUsesNameFromPacketOnly", "no", true),
  flag("PubkeyAuthentication", "yes", true),
  flag("KerberosAuthentication", "no", true),
  flag("KerberosOrLocalPasswd", "yes"),
  flag("KerberosTicketCleanup", "yes"),
  flag("GSSAPIAuthentication", "no", true),
  flag("GSSAPICleanupCredentials", "yes"),
  // Debian's GSSAPI key exchange patch.
  flag("GSSAPIKeyExchange", "no"),
  flag("GSSAPIStrictAcceptorCheck", "yes"),
  flag("GSSAPIStoreCredentialsOnRekey", "no"),
  make(
    "GSSAPIKexAlgorithms",
    [
      "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,gss-group14-sha1-,gss-gex-sha1-",
    ],
    single((a) => {
      const known = [
        "gss-gex-sha1-",
        "gss-group1-sha1-",
        "gss-group14-sha1-",
        "gss-group14-sha256-",
        "gss-group16-sha512-",
        "gss-nistp256-sha256-",
        "gss-curve25519-sha256-",
      ];
      for (const n of a.split(",")) {
        if (!known.includes(n)) throw new ValueError(`Bad GSSAPI KexAlgorithms '${a}'.`);
      }
      return a;
    }),
  ),
  flag("PasswordAuthentication", "yes", true),
  // Debian builds sshd with keyboard-interactive on by default (upstream too since 8.7).
  flag("KbdInteractiveAuthentication", "yes", true),
  flag("PrintMotd", "yes"),
  flag("PrintLastLog", "yes"),
  flag("X11Forwarding", "no", true),
  flag("X11UseLocalhost", "yes", true),
  flag("PermitTTY", "yes", true),
  flag("PermitUserRC", "yes", true),
  flag("StrictModes", "yes"),
  flag("TCPKeepAlive", "yes"),
  flag("PermitEmptyPasswords", "no", true),
  make("Compression", ["yes"], choice({ yes: "yes", delayed: "yes", no: "no" })),
  make("GatewayPorts", ["no"], choice({ no: "no", yes: "yes", clientspecified: "clientspecified" }), {
    inMatch: true,
  }),
  flag("UseDNS", "no"),
  make("AllowTcpForwarding", ["yes"], choice(FORWARDING), { inMatch: true }),
  flag("AllowAgentForwarding", "yes", true),
  flag("DisableForwarding", "no", true),
  make("AllowStreamLocalForwarding", ["yes"], choice(FORWARDING), { inMatch: true }),
  flag("StreamLocalBindUnlink", "no", true),
  make(
    "FingerprintHash",
    ["SHA256"],
    single((a) => {
      const v = a.toLowerCase();
      if (v !== "md5" && v !== "sha256")
        throw new ValueError(`Invalid hash algorithm "${a}" (md5 or sha256).`);
      return v.toUpperCase();
    }),
  ),
  flag("ExposeAuthInfo", "no", true),
  text("PidFile", "/run/sshd.pid"),
  text("ModuliFile", "/etc/ssh/moduli"),
  text("XAuthLocation", "/usr/bin/xauth"),
  algorithms("Ciphers", false),
  algorithms("MACs", false),
  text("Banner", "none", true),
  restOfLine("ForceCommand", true),
  text("ChrootDirectory", "none", true),
  text("TrustedUserCAKeys", "none", true),
  text("RevokedKeys", "none", true),
  text("SecurityKeyProvider", "internal"),
  text("AuthorizedPrincipalsFile", "none", true),
  restOfLine("VersionAddendum", false),
  restOfLine("AuthorizedKeysCommand", true),
  text("AuthorizedKeysCommandUser", "none", true),
  restOfLine("AuthorizedPrincipalsCommand", true),
  text("AuthorizedPrincipalsCommandUser", "none", true),
  text("HostKeyAgent", "none"),
  algorithms("KexAlgorithms", false),
  algorithms("CASignatureAlgorithms", true),
  algorithms("HostbasedAcceptedAlgorithms", true),
  algorithms("HostKeyAlgorithms", false),
  algorithms("PubkeyAcceptedAlgorithms", true),
  text("RDomain", "none", true, "hidden"),
  make("LogLevel", ["INFO"], choice(LOG_LEVELS), { inMatch: true }),
  make(
    "SyslogFacility",
    ["AUTH"],
    single((a) => {
      const v = a.toUpperCase();
      if (!SYSLOG_FACILITIES.includes(v)) throw new ValueError(`unsupported log facility '${a}'`);
      return v;
    }),
  ),
  firstLineList("AuthorizedKeysFile", [".ssh/authorized_keys", ".ssh/authorized_keys2"], true, (a) => a),
  // No built-in default: with no HostKey the caller picks its keys (sshd: /etc/ssh/ssh_host_{rsa,ecdsa,
  // ed25519}_key; nsshd's embedded mode: its state folder) and passes them as `defaults.hostkey` so that -T
  // shows them as sshd does.
  appendList("HostKey", false),
  appendList("HostCertificate", false),
  appendList("AllowUsers", true),
  appendList("DenyUsers", true),
  appendList("AllowGroups", true),
  appendList("DenyGroups", true),
  appendList("AcceptEnv", true, acceptEnvName),
  firstLineList("SetEnv", [], true, setEnv, "lines"),
  make(
    "AuthenticationMethods",
    ["any"],
    (args, n) => {
      needArgs(args, n, 1, Infinity);
      if (args.includes("any")) {
        if (args.length > 1) throw new ValueError(`"any" must appear alone in AuthenticationMethods`);
        return ["any"];
      }
      return args.map(parseAuthMethodList);
    },
    { inMatch: true, combine: "firstLine", dump: "oneline" },
  ),
  firstLineList("LogVerbose", [], true, (a) => a),
  make(
    "ChannelTimeout",
    [],
    (args, n) => {
      needArgs(args, n, 1, Infinity);
      const entries = args.map(parseChannelTimeout);
      // "none" alone clears the list; -T then prints no channeltimeout line.
      return entries.length === 1 && entries[0] === "none" ? [] : entries;
    },
    { inMatch: true, combine: "firstLine", dump: "oneline" },
  ),
  make("Subsystem", [], subsystem, { inMatch: true, combine: "append", dump: "lines" }),
  make(
    "MaxStartups",
    ["10:30:100"],
    single((a) => formatMaxStartups(parseMaxStartups(a))),
  ),
  make(
    "PerSourceMaxStartups",
    ["none"],
    single((a, n) => (a.toLowerCase() === "none" ? "none" : String(parseInteger(a, n, 1)))),
  ),
  make(
    "PerSourceNetBlockSize",
    ["32:128"],
    single((a) => {
      // servconf.c reads "%d:%d" with the IPv6 length defaulting to 0, which -T shows ("24:0").
      const m = /^(\d+)(?::(\d+))?$/.exec(a);
      const v4 = m ? Number(m[1]) : -1;
      const v6 = m?.[2] !== undefined ? Number(m[2]) : 0;
      if (!m || v4 > 32 || v6 > 128) throw new ValueError(`Invalid PerSourceNetBlockSize spec "${a}".`);
      return `${v4}:${v6}`;
    }),
  ),
  firstLineList(
    "PerSourcePenalties",
    [
      "crash:90s",
      "authfail:5s",
      "noauth:1s",
      "grace-exceeded:10s",
      "max:10m",
      "min:15s",
      "max-sources4:65536",
      "max-sources6:65536",
      "overflow:permissive",
      "overflow6:permissive",
    ],
    false,
    parsePenaltyEntry,
  ),
  make(
    "PerSourcePenaltyExemptList",
    ["none"],
    single((a) => {
      if (a.toLowerCase() === "none") return "none";
      try {
        parseCidrList(a);
      } catch (e) {
        throw new ValueError(`Invalid PerSourcePenaltyExemptList "${a}": ${(e as Error).message}`);
      }
      return a;
    }),
  ),
  make(
    "PermitTunnel",
    ["no"],
    single((a) => {
      const map: Record<string, string> = {
        yes: "yes",
        "point-to-point": "point-to-point",
        ethernet: "ethernet",
        no: "no",
      };
      const v = map[a.toLowerCase()];
      if (!v) throw new ValueError(`bad PermitTunnel argument ${a} (yes, point-to-point, ethernet or no)`);
      return v;
    }),
    { inMatch: true },
  ),
  make(
    "IPQoS",
    ["lowdelay throughput"],
    (args, n) => {
      needArgs(args, n, 1, 2);
      const a = parseIpQos(args[0]!);
      const b = args[1] === undefined ? a : parseIpQos(args[1]);
      return [`${a} ${b}`];
    },
    { inMatch: true },
  ),
  make(
    "RekeyLimit",
    ["0 0"],
    (args, n) => {
      needArgs(args, n, 1, 2);
      return [parseRekeyLimit(args)];
    },
    { inMatch: true },
  ),
  firstLineList("PermitOpen", ["any"], true, parsePermitEntry),
  firstLineList("PermitListen", ["any"], true, parsePermitEntry),
  make(
    "PermitUserEnvironment",
    ["no"],
    single((a) => (a.toLowerCase() === "yes" || a.toLowerCase() === "no" ? a.toLowerCase() : a)),
  ),
  firstLineList("PubkeyAuthOptions", ["none"], true, (a) => {
    const v = a.toLowerCase();
    if (v !== "none" && v !== "touch-required" && v !== "verify-required") {
      throw new ValueError(
        `Invalid PubkeyAuthOptions option "${a}" (none, touch-required, verify-required).`,
      );
    }
    return v;
  }),
  // Newer than Debian's 9.2 (OpenSSH 9.8+): parsed, printed after the 9.2 set.
  text("SshdSessionPath", "/usr/lib/openssh/sshd-session"),
  flag("RefuseConnection", "no", true),
  text("PAMServiceName", "sshd", true, "hidden"),
  // Debian: whether the version string carries the distribution's banner.
  flag("DebianBanner", "yes"),
  retired("KerberosGetAFSToken", "Unsupported"),
  retired("KerberosTGTPassing", "Unsupported"),
  retired("AFSTokenPassing", "Unsupported"),
  retired("ServerKeyBits", "Deprecated"),
  retired("KeyRegenerationInterval", "Deprecated"),
  retired("RhostsAuthentication", "Deprecated"),
  retired("RhostsRSAAuthentication", "Deprecated"),
  retired("RSAAuthentication", "Deprecated"),
  retired("UseLogin", "Deprecated"),
  retired("CheckMail", "Deprecated"),
  retired("VerifyReverseMapping", "Deprecated"),
  retired("ReverseMappingCheck", "Deprecated"),
  retired("AuthorizedKeysFile2", "Deprecated"),
  retired("UsePrivilegeSeparation", "Deprecated"),
  retired("PAMAuthenticationViaKbdInt", "Deprecated"),
  retired("Protocol", "Ignored"),
];

/** Match-allowed retired keywords (servconf.c marks these SSHCFG_ALL). */
const RETIRED_IN_MATCH = new Set(["rhostsrsaauthentication", "rsaauthentication", "authorizedkeysfile2"]);

/** Old names sshd still reads as another keyword. */
const ALIASES: Record<string, string> = {
  challengeresponseauthentication: "kbdinteractiveauthentication",
  skeyauthentication: "kbdinteractiveauthentication",
  dsaauthentication: "pubkeyauthentication",
  hostdsakey: "hostkey",
  keepalive: "tcpkeepalive",
  pubkeyacceptedkeytypes: "pubkeyacceptedalgorithms",
  hostbasedacceptedkeytypes: "hostbasedacceptedalgorithms",
};

export const KEYWORDS: ReadonlyMap<string, KeywordSpec> = new Map(
  SPECS.map((s) => {
    const key = s.name.toLowerCase();
    return [key, RETIRED_IN_MATCH.has(key) ? { ...s, inMatch: true } : s];
  }),
);

/** The spec for a keyword as written (any case, aliases included), or undefined for an unknown keyword. */
export function lookupKeyword(keyword: string): KeywordEntry | undefined {
  const lower = keyword.toLowerCase();
  const key = ALIASES[lower] ?? lower;
  const spec = KEYWORDS.get(key);
  if (!spec) return undefined;
  // DSAAuthentication, SkeyAuthentication and HostDSAKey are global-only aliases.
  if (lower !== key && (lower === "dsaauthentication" || lower === "skeyauthentication")) {
    return { key, spec: { ...spec, inMatch: false } };
  }
  return { key, spec };
}
