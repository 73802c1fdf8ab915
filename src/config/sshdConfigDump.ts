/**
 * `sshd -T` / `nsshd -T`: the effective configuration, one lowercase keyword a line, in the order and format
 * of OpenSSH 9.2's servconf.c dump_config() (the sshd this project tests against), followed by the keywords
 * newer OpenSSH releases added.
 */
import { KEYWORDS } from "./sshdConfigKeywords.js";
import type { SshdSettings } from "./sshdConfigSettings.js";

/** dump_config() order. */
const DUMP_ORDER: readonly string[] = [
  "port",
  "addressfamily",
  "listenaddress",
  "usepam",
  "logingracetime",
  "x11displayoffset",
  "maxauthtries",
  "maxsessions",
  "clientaliveinterval",
  "clientalivecountmax",
  "requiredrsasize",
  "streamlocalbindmask",
  "unusedconnectiontimeout",
  "permitrootlogin",
  "ignorerhosts",
  "ignoreuserknownhosts",
  "hostbasedauthentication",
  "hostbasedusesnamefrompacketonly",
  "pubkeyauthentication",
  "kerberosauthentication",
  "kerberosorlocalpasswd",
  "kerberosticketcleanup",
  "gssapiauthentication",
  "gssapicleanupcredentials",
  "gssapikeyexchange",
  "gssapistrictacceptorcheck",
  "gssapistorecredentialsonrekey",
  "gssapikexalgorithms",
  "passwordauthentication",
  "kbdinteractiveauthentication",
  "printmotd",
  "printlastlog",
  "x11forwarding",
  "x11uselocalhost",
  "permittty",
  "permituserrc",
  "strictmodes",
  "tcpkeepalive",
  "permitemptypasswords",
  "compression",
  "gatewayports",
  "usedns",
  "allowtcpforwarding",
  "allowagentforwarding",
  "disableforwarding",
  "allowstreamlocalforwarding",
  "streamlocalbindunlink",
  "fingerprinthash",
  "exposeauthinfo",
  "pidfile",
  "modulifile",
  "xauthlocation",
  "ciphers",
  "macs",
  "banner",
  "forcecommand",
  "chrootdirectory",
  "trustedusercakeys",
  "revokedkeys",
  "securitykeyprovider",
  "authorizedprincipalsfile",
  "versionaddendum",
  "authorizedkeyscommand",
  "authorizedkeyscommanduser",
  "authorizedprincipalscommand",
  "authorizedprincipalscommanduser",
  "hostkeyagent",
  "kexalgorithms",
  "casignaturealgorithms",
  "hostbasedacceptedalgorithms",
  "hostkeyalgorithms",
  "pubkeyacceptedalgorithms",
  "loglevel",
  "syslogfacility",
  "authorizedkeysfile",
  "hostkey",
  "hostcertificate",
  "allowusers",
  "denyusers",
  "allowgroups",
  "denygroups",
  "acceptenv",
  "setenv",
  "authenticationmethods",
  "logverbose",
  "channeltimeout",
  "subsystem",
  "maxstartups",
  "persourcemaxstartups",
  "persourcenetblocksize",
  "permittunnel",
  "ipqos",
  "rekeylimit",
  "permitopen",
  "permitlisten",
  "permituserenvironment",
  "pubkeyauthoptions",
];

/** Keywords OpenSSH 9.2 does not print (newer releases, or set only when given). */
const AFTER_92: readonly string[] = [
  "persourcepenalties",
  "persourcepenaltyexemptlist",
  "refuseconnection",
  "sshdsessionpath",
];

/** Lines in `sshd -T` format, each ending in a newline. */
export function formatSshdConfigDump(settings: SshdSettings): string {
  const out: string[] = [];
  for (const key of [...DUMP_ORDER, ...AFTER_92]) {
    const style = KEYWORDS.get(key)?.dump ?? "value";
    const entries = settings.getAll(key);
    if (entries.length === 0 || style === "hidden") continue;
    if (style === "lines") for (const e of entries) out.push(`${key} ${e}`);
    else out.push(`${key} ${entries.join(" ")}`);
  }
  // RDomain is printed only when set (dump_config: o->routing_domain != NULL).
  const rdomain = settings.get("rdomain");
  if (rdomain !== undefined && rdomain !== "none") {
    out.splice(
      out.findIndex((l) => l.startsWith("loglevel ")),
      0,
      `rdomain ${rdomain}`,
    );
  }
  return out.map((l) => l + "\n").join("");
}
