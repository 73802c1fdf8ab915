/**
 * How each ssh_config(5) keyword's arguments are checked and where the value is kept, following readconf.c
 * process_config_line. A value is checked even in an inactive Host/Match block, as OpenSSH does, but stored
 * only in an active one and only the first time (the lists excepted).
 */
import { matchHostPattern } from "../keys/hostPatterns.js";
import type { SettingOrigin, SshOptionStore } from "./sshConfigStore.js";
import {
  FINGERPRINT_HASHES,
  LOG_LEVELS,
  LineProblem,
  MS_ADDRESS_FAMILY,
  MS_CANONICALIZE_HOSTNAME,
  MS_COMPRESSION,
  MS_CONTROL_MASTER,
  MS_FLAG,
  MS_PUBKEY_AUTH,
  MS_REQUEST_TTY,
  MS_SESSION_TYPE,
  MS_STRICT_HOSTKEY,
  MS_TUNNEL,
  MS_YESNOASK,
  MS_YESNOASKCONFIRM,
  type Multistate,
  forwardsEqual,
  multistateValue,
  parseForwardSpec,
  parseIpqos,
  parseNonNegativeInt,
  parsePort,
  parseScaledBytes,
  parseTimeSpec,
  parseTunDevice,
} from "./sshConfigValues.js";
import { SYSLOG_FACILITIES } from "./configValues.js";
import { expandTokens } from "./tokens.js";
import { KNOWN_ALGORITHMS } from "./sshConfigAlgorithms.js";
import { parseJump } from "./sshConfigJump.js";

/** The arguments of one line, consumed in order; what is left over is an error ("extra arguments"). */
export class ArgCursor {
  private pos = 0;
  constructor(private readonly args: readonly string[]) {}
  next(): string | undefined {
    return this.pos < this.args.length ? this.args[this.pos++] : undefined;
  }
  peek(): string | undefined {
    return this.args[this.pos];
  }
  remaining(): number {
    return this.args.length - this.pos;
  }
  consumeAll(): void {
    this.pos = this.args.length;
  }
}

export interface KeywordContext {
  readonly store: SshOptionStore;
  readonly active: boolean;
  /** The canonical keyword (lowercase). */
  readonly key: string;
  /** The keyword as written, lowercased (an alias stays an alias). */
  readonly keyword: string;
  readonly args: ArgCursor;
  /** The rest of the line after the keyword and any '=' (commands take it as written). */
  readonly raw: string;
  readonly origin: SettingOrigin;
  /** The line is from the user's configuration or the command line (SSHCONF_USERCONF). */
  readonly userConfig: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  warn(message: string): void;
}

function store(c: KeywordContext, value: unknown, key = c.key): void {
  if (c.active) c.store.setFirst(key, value, c.origin);
}

function missing(): never {
  throw new LineProblem("Missing argument.");
}

/** The next argument, which must be there and non-empty ("Missing argument."). */
function requiredArg(c: KeywordContext): string {
  const arg = c.args.next();
  if (arg === undefined || arg === "") missing();
  return arg;
}

function flag(table: Multistate = MS_FLAG): (c: KeywordContext) => void {
  return (c) => {
    const arg = c.args.next();
    if (arg === undefined || arg === "") throw new LineProblem("missing argument.");
    const value = multistateValue(arg, table);
    if (value === undefined) throw new LineProblem(`unsupported option "${arg}".`);
    store(c, value);
  };
}

function integer(c: KeywordContext): void {
  const value = parseNonNegativeInt(c.args.next());
  if (typeof value === "string") throw new LineProblem(`integer value ${value}.`);
  store(c, value);
}

/** readconf.c parse_time: "none" leaves the option unset (a later line may still set it). */
function time(c: KeywordContext, key = c.key): void {
  const arg = c.args.next();
  if (arg === undefined || arg === "") throw new LineProblem("missing time value.");
  if (arg === "none") return;
  const value = parseTimeSpec(arg);
  if (value === undefined) throw new LineProblem("invalid time value.");
  store(c, value, key);
}

function string(c: KeywordContext): void {
  const arg = requiredArg(c);
  store(c, arg);
}

/** readconf.c parse_command: the rest of the line as written (quotes kept). */
function command(c: KeywordContext): void {
  if (c.raw === "") missing();
  c.args.consumeAll();
  store(c, c.raw);
}

/**
 * Ciphers, MACs, KexAlgorithms and the key algorithm lists: "+", "^" and plain lists must name known
 * algorithms (no wildcards); a "-" list is not checked. The text is kept as written for the transport.
 */
function algorithms(badMessage: (arg: string) => string): (c: KeywordContext) => void {
  return (c) => {
    const arg = requiredArg(c);
    if (!arg.startsWith("-")) {
      const list = arg.startsWith("+") || arg.startsWith("^") ? arg.slice(1) : arg;
      const known = KNOWN_ALGORITHMS[c.key]!;
      if (list === "" || list.split(",").some((n) => !known.has(n))) throw new LineProblem(badMessage(arg));
    }
    store(c, arg);
  };
}

/**
 * readconf.c's loop over a list keyword's arguments (parse_char_array and its kin): each must be non-empty,
 * and "none" must stand alone. `each` gets every argument with its index.
 */
function eachListArg(c: KeywordContext, each: (arg: string, index: number) => void): void {
  let arg: string | undefined;
  for (let i = 0; (arg = c.args.next()) !== undefined; i++) {
    if (arg === "") throw new LineProblem(`keyword ${c.keyword} empty argument`);
    if (arg.toLowerCase() === "none" && (i > 0 || c.args.remaining() > 0)) {
      throw new LineProblem(`keyword ${c.keyword} "none" argument must appear alone.`);
    }
    each(arg, i);
  }
}

/** readconf.c parse_char_array (GlobalKnownHostsFile, UserKnownHostsFile): the whole list the first time. */
function fileList(c: KeywordContext): void {
  const list: string[] = [];
  eachListArg(c, (arg) => list.push(arg));
  if (list.length > 0) store(c, list);
}

/** IdentityAgent and ForwardAgent paths: ${VAR} must be well formed; "$NAME" must be a valid name. */
function agentPath(c: KeywordContext, arg: string, key: string): void {
  try {
    expandTokens(arg, {}, { percent: false, dollar: true, env: c.env });
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    throw new LineProblem(`Invalid environment expansion ${arg}.`, { text: err.message, prefixed: false });
  }
  if (arg.startsWith("$") && !arg.startsWith("${") && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(arg.slice(1))) {
    throw new LineProblem(`Invalid environment name ${arg}.`);
  }
  store(c, arg, key);
}

function pathList(c: KeywordContext, which: "identityFiles" | "certificateFiles"): void {
  const arg = requiredArg(c);
  if (!c.active) return;
  const list = c.store[which];
  if (list.length >= 100)
    throw new LineProblem(
      `Too many ${which === "identityFiles" ? "identity" : "certificate"} files specified (max 100).`,
    );
  // readconf.c add_identity_file / add_certificate_file skip an exact duplicate from the same kind of file.
  if (list.some((e) => e.path === arg && e.userProvided === c.userConfig)) return;
  list.push({ path: arg, userProvided: c.userConfig });
}

function forward(c: KeywordContext): void {
  const arg = requiredArg(c);
  const remote = c.key === "remoteforward";
  let dynamic = c.key === "dynamicforward";
  let spec = arg;
  if (!dynamic) {
    const target = c.args.next();
    if (target === undefined || target === "") {
      if (remote) dynamic = true;
      else throw new LineProblem("Missing target argument.");
    } else {
      spec = `${arg}:${target}`;
    }
  }
  const fwd = parseForwardSpec(spec, dynamic, remote, c.env);
  if (!fwd) throw new LineProblem("Bad forwarding specification.");
  if (!c.active) return;
  const list = remote ? c.store.remoteForwards : c.store.localForwards;
  if (!list.some((f) => forwardsEqual(f, fwd))) list.push(fwd);
}

/** misc.c valid_domain, as CanonicalDomains checks each suffix. */
function checkDomain(name: string): void {
  if (name.length === 0) throw new LineProblem("empty domain name");
  if (!/^[A-Za-z0-9]/.test(name))
    throw new LineProblem(`domain name "${name}" starts with invalid character`);
  for (const ch of name) {
    if (!/[A-Za-z0-9.\-_]/.test(ch))
      throw new LineProblem(`domain name "${name}" contains invalid characters`);
  }
  if (name.includes("..")) throw new LineProblem(`domain name "${name}" contains consecutive separators`);
  if (name.endsWith(".")) throw new LineProblem(`domain name "${name}" ends with invalid character`);
}

export const KEYWORD_HANDLERS: Partial<Record<string, (c: KeywordContext) => void>> = {
  connecttimeout: (c) => time(c),
  forwardx11timeout: (c) => time(c),
  serveraliveinterval: (c) => time(c),
  forwardagent: (c) => {
    const arg = c.args.next();
    if (arg === undefined || arg === "") throw new LineProblem("missing argument.");
    const value = multistateValue(arg, MS_FLAG);
    if (value !== undefined) return store(c, value);
    // Not yes/no: a socket path to forward, which also turns forwarding on.
    store(c, 1);
    agentPath(c, arg, "forwardagentpath");
  },
  pubkeyauthentication: flag(MS_PUBKEY_AUTH),
  verifyhostkeydns: flag(MS_YESNOASK),
  stricthostkeychecking: flag(MS_STRICT_HOSTKEY),
  compression: flag(MS_COMPRESSION),
  updatehostkeys: flag(MS_YESNOASK),
  addressfamily: flag(MS_ADDRESS_FAMILY),
  controlmaster: flag(MS_CONTROL_MASTER),
  tunnel: flag(MS_TUNNEL),
  requesttty: flag(MS_REQUEST_TTY),
  sessiontype: flag(MS_SESSION_TYPE),
  canonicalizehostname: flag(MS_CANONICALIZE_HOSTNAME),
  numberofpasswordprompts: integer,
  connectionattempts: integer,
  serveralivecountmax: integer,
  canonicalizemaxdots: integer,
  requiredrsasize: integer,
  rekeylimit: (c) => {
    const arg = requiredArg(c);
    let bytes = 0;
    if (arg !== "default") {
      const parsed = parseScaledBytes(arg);
      if (parsed === undefined) throw new LineProblem(`Bad number '${arg}': Invalid argument`);
      if (parsed !== 0 && parsed < 16) throw new LineProblem("RekeyLimit too small");
      bytes = parsed;
    }
    store(c, bytes);
    if (c.args.remaining() > 0) {
      if (c.args.peek() === "none") {
        c.args.next();
        return;
      }
      time(c, "rekeyinterval");
    }
  },
  identityfile: (c) => pathList(c, "identityFiles"),
  certificatefile: (c) => pathList(c, "certificateFiles"),
  xauthlocation: string,
  user: string,
  hostname: string,
  hostkeyalias: string,
  preferredauthentications: string,
  bindaddress: string,
  bindinterface: string,
  pkcs11provider: string,
  securitykeyprovider: string,
  controlpath: string,
  kbdinteractivedevices: string,
  revokedhostkeys: string,
  ignoreunknown: string,
  // Newer than OpenSSH 9.2 (which refuses them): accepted so a configuration written for a later ssh works.
  tag: string,
  obscurekeystroketiming: (c) => {
    const arg = requiredArg(c);
    const value = multistateValue(arg, MS_FLAG);
    const interval = /^interval:(\d+)$/.exec(arg);
    if (value === undefined && (!interval || Number(interval[1]) > 1000)) {
      throw new LineProblem(`unsupported ObscureKeystrokeTiming value "${arg}".`);
    }
    store(c, arg);
  },
  channeltimeout: (c) => {
    const list: string[] = [];
    let arg: string | undefined;
    while ((arg = c.args.next()) !== undefined) {
      const eq = arg.indexOf("=");
      if (eq <= 0 || parseTimeSpec(arg.slice(eq + 1)) === undefined) {
        throw new LineProblem(`invalid channel timeout ${arg}`);
      }
      list.push(arg);
    }
    if (list.length === 0) missing();
    store(c, list);
  },
  gssapiclientidentity: string,
  gssapiserveridentity: string,
  globalknownhostsfile: fileList,
  userknownhostsfile: fileList,
  knownhostscommand: command,
  localcommand: command,
  remotecommand: command,
  proxycommand: (c) => {
    // ProxyJump set earlier wins over a later ProxyCommand (readconf.c).
    if (c.store.has("proxyjump") && c.store.get("proxyjump") !== "none") {
      if (c.raw === "") missing();
      c.args.consumeAll();
      return;
    }
    command(c);
  },
  proxyjump: (c) => {
    if (c.raw === "") missing();
    c.args.consumeAll();
    const spec = parseJump(c.raw);
    if (spec === null) throw new LineProblem(`Invalid ProxyJump "${c.raw}"`);
    if (!c.active || c.store.has("proxycommand") || c.store.has("proxyjump")) return;
    c.store.setFirst("proxyjump", spec, c.origin);
    // A jump host makes ProxyCommand "none" (readconf.c parse_jump), unless it is "none" itself.
    if (spec !== "none") c.store.setFirst("proxycommand", "none", c.origin);
  },
  port: (c) => {
    const arg = requiredArg(c);
    const port = parsePort(arg);
    if (port <= 0) throw new LineProblem(`Bad port '${arg}'.`);
    store(c, port);
  },
  ciphers: algorithms((a) => `Bad SSH2 cipher spec '${a}'.`),
  macs: algorithms((a) => `Bad SSH2 MAC spec '${a}'.`),
  kexalgorithms: algorithms((a) => `Bad SSH2 KexAlgorithms '${a}'.`),
  hostkeyalgorithms: algorithms((a) => `Bad key types '${a}'.`),
  casignaturealgorithms: algorithms((a) => `Bad key types '${a}'.`),
  hostbasedacceptedalgorithms: algorithms((a) => `Bad key types '${a}'.`),
  pubkeyacceptedalgorithms: algorithms((a) => `Bad key types '${a}'.`),
  gssapikexalgorithms: algorithms((a) => `Bad SSH2 KexAlgorithms '${a}'.`),
  loglevel: (c) => {
    const arg = c.args.next();
    const level = LOG_LEVELS.find(([n]) => n === arg?.toUpperCase());
    if (!level) throw new LineProblem(`unsupported log level '${arg ?? "<NONE>"}'`);
    store(c, level[1]);
  },
  syslogfacility: (c) => {
    const arg = c.args.next();
    const facility = SYSLOG_FACILITIES.find((n) => n === arg?.toUpperCase());
    if (!facility) throw new LineProblem(`unsupported log facility '${arg ?? "<NONE>"}'`);
    // readconf.c sets it whatever the Host/Match state: the first one anywhere wins.
    c.store.setFirst(c.key, facility, c.origin);
  },
  logverbose: (c) => {
    // OpenSSH 9.2 keeps only the first pattern of the first active line (its "*uintptr == 0" test).
    eachListArg(c, (arg, i) => {
      if (i === 0) store(c, [arg]);
    });
  },
  localforward: forward,
  remoteforward: forward,
  dynamicforward: forward,
  permitremoteopen: (c) => {
    const first = c.args.next();
    if (first === undefined || first === "") throw new LineProblem("missing PermitRemoteOpen specification");
    if (first === "any" || first === "none") return store(c, [first]);
    const list: string[] = [];
    for (let arg: string | undefined = first; arg !== undefined; arg = c.args.next()) {
      const m = /^(?:\[([^\]]*)\]|([^:]*)):(.*)$/.exec(arg);
      if (!m || (m[1] ?? m[2] ?? "") === "") throw new LineProblem("missing host in PermitRemoteOpen");
      if (m[3] !== "*" && parsePort(m[3]!) <= 0) throw new LineProblem("bad port number in PermitRemoteOpen");
      list.push(arg);
    }
    store(c, list);
  },
  clearallforwardings: flag(),
  escapechar: (c) => {
    const arg = requiredArg(c);
    let value: number;
    if (arg === "none") value = -2;
    else if (arg.length === 1) value = arg.charCodeAt(0);
    else if (arg.length === 2 && arg[0] === "^" && arg.charCodeAt(1) >= 64 && arg.charCodeAt(1) < 128) {
      value = arg.charCodeAt(1) & 31;
    } else throw new LineProblem("Bad escape character.");
    store(c, value);
  },
  sendenv: (c) => {
    let arg: string | undefined;
    while ((arg = c.args.next()) !== undefined) {
      if (arg === "" || arg.includes("=")) throw new LineProblem("Invalid environment name.");
      if (!c.active) continue;
      if (arg.startsWith("-")) {
        const pattern = arg.slice(1);
        const kept = c.store.sendEnv.filter((name) => !matchHostPattern(name, pattern, true));
        c.store.sendEnv.splice(0, c.store.sendEnv.length, ...kept);
      } else {
        c.store.sendEnv.push(arg);
      }
    }
  },
  setenv: (c) => {
    // Only the first active SetEnv line counts (readconf.c: "value = options->num_setenv").
    const alreadySet = c.store.setEnv.length > 0;
    let arg: string | undefined;
    while ((arg = c.args.next()) !== undefined) {
      if (!arg.includes("=")) throw new LineProblem("Invalid SetEnv.");
      if (!c.active || alreadySet) continue;
      c.store.setEnv.push(arg);
    }
  },
  controlpersist: (c) => {
    const arg = c.args.next();
    if (arg === undefined || arg === "") throw new LineProblem("Missing ControlPersist argument.");
    let value: { persist: number; timeout: number };
    if (arg === "no" || arg === "false") value = { persist: 0, timeout: 0 };
    else if (arg === "yes" || arg === "true") value = { persist: 1, timeout: 0 };
    else {
      const t = parseTimeSpec(arg);
      if (t === undefined) throw new LineProblem("Bad ControlPersist argument.");
      value = { persist: 1, timeout: t };
    }
    store(c, value);
  },
  tunneldevice: (c) => {
    const arg = requiredArg(c);
    const tun = parseTunDevice(arg);
    if (!tun) throw new LineProblem("Bad tun device.");
    store(c, tun);
  },
  ipqos: (c) => {
    const a = c.args.next();
    const interactive = parseIpqos(a);
    if (interactive < 0) throw new LineProblem(`Bad IPQoS value: ${a ?? "(null)"}`);
    const b = c.args.next();
    const bulk = b === undefined ? interactive : parseIpqos(b);
    if (bulk < 0) throw new LineProblem(`Bad IPQoS value: ${b}`);
    store(c, { interactive, bulk });
  },
  canonicaldomains: (c) => {
    const already = c.store.has(c.key);
    const list: string[] = [];
    eachListArg(c, (arg) => {
      checkDomain(arg);
      list.push(arg);
    });
    if (!already) store(c, list);
  },
  canonicalizepermittedcnames: (c) => {
    const list: [string, string][] = [];
    let arg: string | undefined;
    let i = 0;
    while ((arg = c.args.next()) !== undefined) {
      if (arg.toLowerCase() === "none") {
        if (i > 0 || c.args.remaining() > 0) {
          throw new LineProblem(`keyword ${c.keyword} "none" argument must appear alone.`);
        }
        list.push([arg, ""]);
      } else if (arg === "*") {
        list.push(["*", "*"]);
      } else {
        const lower = arg.toLowerCase();
        const colon = lower.indexOf(":");
        if (colon < 0 || colon === lower.length - 1)
          throw new LineProblem(`Invalid permitted CNAME "${lower}"`);
        list.push([lower.slice(0, colon), lower.slice(colon + 1)]);
      }
      i++;
    }
    store(c, list);
  },
  streamlocalbindmask: (c) => {
    const arg = c.args.next();
    if (arg === undefined || arg === "") throw new LineProblem("Missing StreamLocalBindMask argument.");
    const m = /^[0-7]+/.exec(arg);
    const value = m ? parseInt(m[0], 8) : NaN;
    if (!m || value > 0o777) throw new LineProblem("Bad mask.");
    // readconf.c sets it on every line, active or not: the last one read wins.
    c.store.set(c.key, value, c.origin);
  },
  fingerprinthash: (c) => {
    const arg = requiredArg(c);
    const hash = FINGERPRINT_HASHES.find((h) => h === arg.toUpperCase());
    if (!hash) throw new LineProblem(`Invalid hash algorithm "${arg}".`);
    store(c, hash);
  },
  addkeystoagent: (c) => {
    const arg = c.args.next();
    const arg2 = c.args.next();
    if (arg === undefined || arg === "") throw new LineProblem("missing argument.");
    let value = multistateValue(arg, MS_YESNOASKCONFIRM);
    let lifespan = 0;
    if (value === 3 && arg2 !== undefined) {
      const t = parseTimeSpec(arg2);
      if (t === undefined) throw new LineProblem("invalid time value.");
      lifespan = t;
    } else if (value === undefined && arg2 === undefined) {
      const t = parseTimeSpec(arg);
      if (t === undefined) throw new LineProblem("unsupported option");
      lifespan = t;
      value = 1;
    } else if (value === undefined || arg2 !== undefined) {
      throw new LineProblem("unsupported option");
    }
    store(c, { value, lifespan });
  },
  identityagent: (c) => {
    const arg = requiredArg(c);
    agentPath(c, arg, c.key);
  },
};

const FLAGS = [
  "forwardx11",
  "forwardx11trusted",
  "exitonforwardfailure",
  "gatewayports",
  "passwordauthentication",
  "kbdinteractiveauthentication",
  "hostbasedauthentication",
  "gssapiauthentication",
  "gssapikeyexchange",
  "gssapidelegatecredentials",
  "gssapitrustdns",
  "gssapirenewalforcesrekey",
  "batchmode",
  "checkhostip",
  "tcpkeepalive",
  "nohostauthenticationforlocalhost",
  "enablesshkeysign",
  "identitiesonly",
  "hashknownhosts",
  "permitlocalcommand",
  "visualhostkey",
  "stdinnull",
  "forkafterauthentication",
  "proxyusefdpass",
  "canonicalizefallbacklocal",
  "streamlocalbindunlink",
  "enableescapecommandline",
];
for (const f of FLAGS) KEYWORD_HANDLERS[f] = flag();
