/**
 * `ssh -G`: the configuration after defaults, one "keyword value" line each, in the order and spelling of
 * OpenSSH 9.2's dump_client_config (readconf.c) as Debian 12 builds it (with its GSSAPI key exchange lines
 * and its IPQoS default). Algorithm lists print resolved against nssh's defaults and implementations.
 */
import { ALGORITHM_LISTS, assembleAlgorithmList } from "./sshConfigAlgorithms.js";
import type { JumpValue } from "./sshConfigKeywords.js";
import type { SshOptionStore } from "./sshConfigStore.js";
import {
  LOG_LEVELS,
  MS_ADDRESS_FAMILY,
  MS_CANONICALIZE_HOSTNAME,
  MS_CONTROL_MASTER,
  MS_PUBKEY_AUTH,
  MS_REQUEST_TTY,
  MS_SESSION_TYPE,
  MS_STRICT_HOSTKEY,
  MS_TUNNEL,
  MS_YESNOASK,
  MS_YESNOASKCONFIRM,
  PORT_STREAMLOCAL,
  TUN_ANY,
  formatIpqos,
  multistateWord,
  type ForwardSpec,
  type Multistate,
  visChar,
} from "./sshConfigValues.js";

/** What the dump needs from a resolved configuration (see sshConfigResolved.ts). */
export interface DumpSource {
  readonly hostArg: string;
  readonly hostname: string;
  readonly user: string;
  readonly port: number;
  readonly store: SshOptionStore;
  /** Value after defaults. */
  opt<T>(key: string): T;
  /** Values ssh expands before printing (RemoteCommand, ControlPath, IdentityAgent, ...). */
  readonly expanded: {
    readonly remoteCommand?: string;
    readonly controlPath?: string;
    readonly identityAgent?: string;
    readonly forwardAgentPath?: string;
    readonly userKnownHostsFiles: readonly string[];
    readonly localForwards: readonly ForwardSpec[];
    readonly remoteForwards: readonly ForwardSpec[];
  };
}

export type DumpEntry = readonly [keyword: string, value: string];

function forwardLines(
  keyword: string,
  list: readonly ForwardSpec[],
  which: "dynamic" | "local" | "remote",
): DumpEntry[] {
  const out: DumpEntry[] = [];
  for (const f of list) {
    if (which === "dynamic" && f.connectHost !== undefined && f.connectHost !== "socks") continue;
    // (OpenSSH also prints a forward to a socket path here, having no connect host: kept for parity.)
    if (which === "local" && f.connectHost === "socks") continue;
    let text =
      f.listenPort === PORT_STREAMLOCAL
        ? f.listenPath!
        : f.listenHost === undefined
          ? String(f.listenPort)
          : `[${f.listenHost}]:${f.listenPort}`;
    if (which !== "dynamic") {
      text +=
        " " +
        (f.connectPort === PORT_STREAMLOCAL
          ? f.connectPath!
          : f.connectHost === undefined
            ? String(f.connectPort)
            : `[${f.connectHost}]:${f.connectPort}`);
    }
    out.push([keyword, text]);
  }
  return out;
}

/**
 * The lines `ssh -G` prints, as [keyword, value] pairs in order; with `only` (a lowercase keyword), just
 * that keyword's lines, without assembling the algorithm lists of the others (a run asks a few keywords).
 */
export function dumpEntries(src: DumpSource, only?: string): DumpEntry[] {
  const out: DumpEntry[] = [];
  const wanted = (k: string): boolean => only === undefined || k.toLowerCase() === only;
  const line = (k: string, v: string | number | undefined): void => {
    if (v !== undefined && wanted(k)) out.push([k, String(v)]);
  };
  const yn = (k: string): void =>
    line(k, src.opt<number>(k) === 0 ? "no" : src.opt<number>(k) === 1 ? "yes" : "UNKNOWN");
  const ms = (k: string, table: Multistate): void => line(k, multistateWord(src.opt<number>(k), table));
  const algs = (k: string): void => {
    if (!wanted(k)) return;
    const lists = ALGORITHM_LISTS[k]!;
    line(k, assembleAlgorithmList(src.store.get<string>(k), lists.defaults, lists.supported).join(","));
  };

  line("host", src.hostArg);
  line("user", src.user);
  line("hostname", src.hostname);
  line("port", src.port);

  ms("addressfamily", MS_ADDRESS_FAMILY);
  yn("batchmode");
  yn("canonicalizefallbacklocal");
  ms("canonicalizehostname", MS_CANONICALIZE_HOSTNAME);
  yn("checkhostip");
  yn("compression");
  ms("controlmaster", MS_CONTROL_MASTER);
  yn("enablesshkeysign");
  yn("clearallforwardings");
  yn("exitonforwardfailure");
  line("fingerprinthash", src.opt<string>("fingerprinthash"));
  yn("forwardx11");
  yn("forwardx11trusted");
  yn("gatewayports");
  yn("gssapiauthentication");
  yn("gssapikeyexchange");
  yn("gssapidelegatecredentials");
  yn("gssapitrustdns");
  yn("gssapirenewalforcesrekey");
  line("gssapiclientidentity", src.store.get<string>("gssapiclientidentity"));
  line("gssapiserveridentity", src.store.get<string>("gssapiserveridentity"));
  line("gssapikexalgorithms", src.opt<string>("gssapikexalgorithms"));
  yn("hashknownhosts");
  yn("hostbasedauthentication");
  yn("identitiesonly");
  yn("kbdinteractiveauthentication");
  yn("nohostauthenticationforlocalhost");
  yn("passwordauthentication");
  yn("permitlocalcommand");
  yn("proxyusefdpass");
  ms("pubkeyauthentication", MS_PUBKEY_AUTH);
  ms("requesttty", MS_REQUEST_TTY);
  ms("sessiontype", MS_SESSION_TYPE);
  yn("stdinnull");
  yn("forkafterauthentication");
  yn("streamlocalbindunlink");
  ms("stricthostkeychecking", MS_STRICT_HOSTKEY);
  yn("tcpkeepalive");
  ms("tunnel", MS_TUNNEL);
  ms("verifyhostkeydns", MS_YESNOASK);
  yn("visualhostkey");
  ms("updatehostkeys", MS_YESNOASK);
  yn("enableescapecommandline");

  for (const k of [
    "canonicalizemaxdots",
    "connectionattempts",
    "forwardx11timeout",
    "numberofpasswordprompts",
    "serveralivecountmax",
    "serveraliveinterval",
    "requiredrsasize",
  ]) {
    line(k, src.opt<number>(k));
  }

  line("bindaddress", src.store.get<string>("bindaddress"));
  line("bindinterface", src.store.get<string>("bindinterface"));
  algs("ciphers");
  line("controlpath", src.expanded.controlPath);
  algs("hostkeyalgorithms");
  line("hostkeyalias", src.store.get<string>("hostkeyalias"));
  algs("hostbasedacceptedalgorithms");
  line("identityagent", src.expanded.identityAgent);
  line("ignoreunknown", src.store.get<string>("ignoreunknown"));
  line("kbdinteractivedevices", src.store.get<string>("kbdinteractivedevices"));
  algs("kexalgorithms");
  algs("casignaturealgorithms");
  line("localcommand", src.opt<string | undefined>("localcommand"));
  line("remotecommand", src.expanded.remoteCommand);
  const level = src.opt<number>("loglevel");
  line("loglevel", LOG_LEVELS.find(([, v]) => v === level)?.[0]);
  algs("macs");
  line("pkcs11provider", src.opt<string | undefined>("pkcs11provider"));
  line("securitykeyprovider", src.opt<string | undefined>("securitykeyprovider"));
  line("preferredauthentications", src.store.get<string>("preferredauthentications"));
  algs("pubkeyacceptedalgorithms");
  line("revokedhostkeys", src.opt<string | undefined>("revokedhostkeys"));
  line("xauthlocation", src.opt<string>("xauthlocation"));
  line("knownhostscommand", src.opt<string | undefined>("knownhostscommand"));

  for (const [k, v] of [
    ...forwardLines("dynamicforward", src.expanded.localForwards, "dynamic"),
    ...forwardLines("localforward", src.expanded.localForwards, "local"),
    ...forwardLines("remoteforward", src.expanded.remoteForwards, "remote"),
  ])
    line(k, v);

  for (const f of src.opt<{ path: string }[]>("identityfile")) line("identityfile", f.path);
  const oneLine = (k: string, list: readonly string[] | undefined): void =>
    line(k, list && list.length > 0 ? list.join(" ") : "none");
  oneLine("canonicaldomains", src.store.get<string[]>("canonicaldomains"));
  for (const f of src.store.certificateFiles) line("certificatefile", f.path);
  oneLine("globalknownhostsfile", src.opt<string[]>("globalknownhostsfile"));
  oneLine("userknownhostsfile", src.expanded.userKnownHostsFiles);
  for (const e of src.store.sendEnv) line("sendenv", e);
  for (const e of src.store.setEnv) line("setenv", e);
  oneLine("logverbose", src.store.get<string[]>("logverbose"));

  oneLine("permitremoteopen", src.store.get<string[]>("permitremoteopen") ?? ["any"]);
  const agent = src.opt<{ value: number; lifespan: number }>("addkeystoagent");
  if (agent.lifespan <= 0) line("addkeystoagent", multistateWord(agent.value, MS_YESNOASKCONFIRM));
  else line("addkeystoagent", `${agent.value === 3 ? "confirm " : ""}${agent.lifespan}`);
  if (src.expanded.forwardAgentPath !== undefined) line("forwardagent", src.expanded.forwardAgentPath);
  else yn("forwardagent");
  const timeout = src.store.get<number>("connecttimeout");
  line("connecttimeout", timeout === undefined ? "none" : timeout);
  const tun = src.opt<{ local: number; remote: number }>("tunneldevice");
  line(
    "tunneldevice",
    `${tun.local === TUN_ANY ? "any" : tun.local}:${tun.remote === TUN_ANY ? "any" : tun.remote}`,
  );
  const cnames = src.opt<[string, string][]>("canonicalizepermittedcnames");
  line(
    "canonicalizePermittedcnames",
    cnames.length === 0 ? "none" : cnames.map(([s, t]) => `${s}:${t}`).join(" "),
  );
  const persist = src.opt<{ persist: number; timeout: number }>("controlpersist");
  line(
    "controlpersist",
    persist.persist === 0 || persist.timeout === 0 ? (persist.persist ? "yes" : "no") : persist.timeout,
  );
  const escape = src.opt<number>("escapechar");
  line("escapechar", escape === -2 ? "none" : visChar(escape));
  const qos = src.opt<{ interactive: number; bulk: number }>("ipqos");
  line("ipqos", `${formatIpqos(qos.interactive)} ${formatIpqos(qos.bulk)}`);
  line("rekeylimit", `${src.opt<number>("rekeylimit")} ${src.opt<number>("rekeyinterval")}`);
  line("streamlocalbindmask", `0${src.opt<number>("streamlocalbindmask").toString(8)}`);
  line("syslogfacility", src.opt<string>("syslogfacility"));

  const jump = src.opt<JumpValue | undefined>("proxyjump");
  if (jump === undefined || jump === "none")
    line("proxycommand", src.opt<string | undefined>("proxycommand"));
  else {
    const numeric = jump.host.includes(":") || /^[0-9.]+$/.test(jump.host);
    const host = numeric ? `[${jump.host}]` : jump.host;
    line(
      "proxyjump",
      `${jump.extra !== undefined ? `${jump.extra},` : ""}${jump.user !== undefined ? `${jump.user}@` : ""}${host}${
        jump.port > 0 ? `:${jump.port}` : ""
      }`,
    );
  }
  return out;
}

/** The `ssh -G` text for dump entries. */
export function formatDumpEntries(entries: readonly DumpEntry[]): string {
  return entries.map(([k, v]) => `${k} ${v}\n`).join("");
}
