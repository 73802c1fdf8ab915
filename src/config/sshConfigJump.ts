/**
 * ProxyJump values (readconf.c parse_jump, misc.c parse_user_host_port and parse_ssh_uri): "none", or
 * comma-separated hops, each [user@]host[:port], [user@][addr]:port or ssh://[user@]host[:port].
 */
import { parsePort } from "./sshConfigValues.js";

/** readconf.c parse_jump: "none", or comma-separated [user@]host[:port] / ssh:// URIs; checks every hop. */
export function parseJump(text: string): JumpValue | null {
  let s = text;
  const hash = s.indexOf("#");
  if (hash >= 0) s = s.slice(0, hash);
  s = s.replace(/[ \t\r\n]+$/, "");
  if (s.toLowerCase() === "none") return "none";
  const hops = s.split(",");
  let last: { user?: string; host: string; port: number } | null = null;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = parseUserHostPort(hops[i]!);
    if (!hop) return null;
    if (i === hops.length - 1) last = hop;
  }
  if (!last) return null;
  const comma = s.lastIndexOf(",");
  return {
    ...(last.user !== undefined ? { user: last.user } : {}),
    host: last.host,
    port: last.port,
    ...(comma > 0 ? { extra: s.slice(0, comma) } : {}),
  };
}

export type JumpValue = "none" | { user?: string; host: string; port: number; extra?: string };

/** misc.c parse_user_host_port / parse_ssh_uri for one ProxyJump hop; port -1 when absent. */
function parseUserHostPort(hop: string): { user?: string; host: string; port: number } | null {
  let rest = hop;
  if (/^ssh:\/\//i.test(rest)) {
    rest = rest.slice(6);
    if (rest.endsWith("/")) rest = rest.slice(0, -1);
    if (rest.includes("/")) return null;
  }
  let user: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let host: string;
  let port = -1;
  if (rest.startsWith("[")) {
    const end = rest.indexOf("]");
    if (end < 0) return null;
    host = rest.slice(1, end);
    const after = rest.slice(end + 1);
    if (after !== "") {
      if (!after.startsWith(":")) return null;
      port = parsePort(after.slice(1));
      if (port <= 0) return null;
    }
  } else {
    const colon = rest.indexOf(":");
    host = colon < 0 ? rest : rest.slice(0, colon);
    if (colon >= 0) {
      port = parsePort(rest.slice(colon + 1));
      if (port <= 0) return null;
    }
  }
  if (host === "") return null;
  return { ...(user !== undefined ? { user } : {}), host, port };
}
