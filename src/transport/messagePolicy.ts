/**
 * Which message numbers the peer may send, by its role and the connection's phase: an allow-list, the
 * defence behind Terrapin (CVE-2023-48795), AsyncSSH's rogue extension/session bugs (CVE-2023-46445/46446),
 * libssh's client-sent USERAUTH_SUCCESS (CVE-2018-10933) and pre-auth channel requests
 * (Erlang/OTP CVE-2025-32433, Paramiko CVE-2018-7750). Finer order within a phase (which kex message is
 * next, which auth reply fits the method) is checked by the code that owns that exchange.
 */
import { Msg } from "../wire/index.js";

export type Role = "client" | "server";

/**
 * kex-initial: before the first NEWKEYS; service: keys in place, no service yet; userauth: ssh-userauth
 * accepted; authenticated: after USERAUTH_SUCCESS.
 */
export type Phase = "kex-initial" | "service" | "userauth" | "authenticated";

export interface PolicyContext {
  /** The role of the side that sent the message. */
  peerRole: Role;
  phase: Phase;
  /** The peer has sent KEXINIT and not yet NEWKEYS (RFC 4253 §7.1 limits what it may send then). */
  peerInKex: boolean;
  /** Strict KEX negotiated (OpenSSH PROTOCOL, "transport: strict key exchange extension"). */
  strict: boolean;
  /** The packet is the first one after the peer's first NEWKEYS (where EXT_INFO may come, RFC 8308 §2.4). */
  firstAfterNewKeys: boolean;
}

/** accept: dispatch; ignore: drop silently; unimplemented: answer UNIMPLEMENTED; refuse: disconnect. */
export type Verdict = "accept" | "ignore" | "unimplemented" | "refuse";

const FROM_CLIENT_USERAUTH = new Set<number>([Msg.USERAUTH_REQUEST, Msg.USERAUTH_INFO_RESPONSE]);
const FROM_SERVER_USERAUTH = new Set<number>([
  Msg.USERAUTH_FAILURE,
  Msg.USERAUTH_SUCCESS,
  Msg.USERAUTH_BANNER,
  60, // PK_OK / PASSWD_CHANGEREQ / INFO_REQUEST, by method
]);

function isKnown(type: number): boolean {
  return (
    (type >= 1 && type <= 8) ||
    type === 20 ||
    type === 21 ||
    (type >= 30 && type <= 34) ||
    (type >= 50 && type <= 53) ||
    type === 60 ||
    type === 61 ||
    (type >= 80 && type <= 82) ||
    (type >= 90 && type <= 100) ||
    type === Msg.PING ||
    type === Msg.PONG
  );
}

export function checkIncoming(type: number, ctx: PolicyContext): Verdict {
  if (type === Msg.DISCONNECT) return "accept";
  const initial = ctx.phase === "kex-initial";

  if (ctx.peerInKex || initial) {
    // RFC 4253 §7.1: during key exchange only generic transport messages, KEXINIT and kex messages.
    if (type === Msg.IGNORE || type === Msg.DEBUG || type === Msg.UNIMPLEMENTED) {
      // Strict KEX forbids anything but key exchange in the initial exchange: this is what stops the
      // Terrapin prefix truncation, which shifts sequence numbers with injected IGNOREs.
      return initial && ctx.strict ? "refuse" : "accept";
    }
    if (type === Msg.KEXINIT || type === Msg.NEWKEYS || (type >= 30 && type <= 49)) return "accept";
    return "refuse";
  }

  switch (type) {
    case Msg.IGNORE:
    case Msg.DEBUG:
    case Msg.UNIMPLEMENTED:
    case Msg.KEXINIT:
      return "accept";
    case Msg.NEWKEYS:
      return "refuse";
    case Msg.EXT_INFO:
      // RFC 8308 §2.4: only as the first message after NEWKEYS, or (server) just before USERAUTH_SUCCESS.
      if (ctx.firstAfterNewKeys) return "accept";
      return ctx.peerRole === "server" && ctx.phase === "userauth" ? "accept" : "refuse";
    case Msg.SERVICE_REQUEST:
      return ctx.peerRole === "client" && ctx.phase === "service" ? "accept" : "refuse";
    case Msg.SERVICE_ACCEPT:
      return ctx.peerRole === "server" && ctx.phase === "service" ? "accept" : "refuse";
    case Msg.PING:
    case Msg.PONG:
      return "accept";
  }
  if (type >= 30 && type <= 49) return "refuse"; // kex messages outside a key exchange
  if (type >= 50 && type <= 79) {
    if (ctx.phase === "userauth") {
      const allowed = ctx.peerRole === "client" ? FROM_CLIENT_USERAUTH : FROM_SERVER_USERAUTH;
      return allowed.has(type) ? "accept" : "refuse";
    }
    // RFC 4252 §5.1: authentication requests after success are ignored.
    if (ctx.phase === "authenticated" && ctx.peerRole === "client" && type === Msg.USERAUTH_REQUEST) {
      return "ignore";
    }
    return "refuse";
  }
  if (type >= 80 && type <= 127) {
    if (ctx.phase !== "authenticated") return "refuse";
    return isKnown(type) ? "accept" : "unimplemented";
  }
  return isKnown(type) ? "refuse" : "unimplemented";
}
