/**
 * The log lines of one nsshd connection in sshd's wording, for the single-process daemon and for the
 * monitor of the split one alike: " [preauth]" until the user is authenticated (as sshd's unprivileged
 * child has it), the peer named in "Received disconnect", the userauth-request lines, and how it ended.
 */
import type { AuthPolicy } from "../auth/index.js";
import { NegotiationError, negotiationLogLine, type LogLevel } from "../transport/index.js";
import type { SshError } from "../wire/index.js";

/** Lines sshd's monitor writes itself: never " [preauth]", even before authentication. */
const MONITOR_LINE = /^(Accepted|Failed|Invalid user|Partial|Disconnected from|Received disconnect) /;

/**
 * A transport's line as sshd words and levels it, by the error it reports (`cause`): a failed negotiation
 * names the peer and the client's offer, at INFO (packet.c sshpkt_fatal through logdie()), where the
 * transport called it an error. Applied where the cause is known: in the process that runs the transport
 * (a pre-auth worker rewords before its line crosses to the monitor).
 */
export function sshdTransportLine(
  level: LogLevel,
  message: string,
  peer: string,
  cause: SshError | undefined,
): { level: LogLevel; message: string } {
  if (!(cause instanceof NegotiationError)) return { level, message };
  return {
    level: "info",
    message: `Unable to negotiate with ${peer}: ${negotiationLogLine(cause, "server")}`,
  };
}

/**
 * A connection's log line at the level and in the words sshd writes it; `peer`: "ADDR port N"; `cause` as
 * for sshdTransportLine.
 */
export function connectionLogEntry(
  level: LogLevel,
  message: string,
  peer: string,
  authenticated: boolean,
  cause?: SshError,
): { level: LogLevel; line: string } {
  ({ level, message } = sshdTransportLine(level, message, peer, cause));
  const disconnect = /^Received disconnect: (\d+): (.*)$/s.exec(message);
  // sshd names the peer in this line (packet.c): "Received disconnect from ADDR port N:11: text".
  if (disconnect) message = `Received disconnect from ${peer}:${disconnect[1]}: ${disconnect[2]}`;
  // The connection layer's "input_channel_open" is sshd's server_input_channel_open (serverloop.c).
  else if (message.startsWith("input_channel_open: ")) message = "server_" + message;
  return { level, line: authenticated || MONITOR_LINE.test(message) ? message : `${message} [preauth]` };
}

/** How a connection's end is logged (sshd.c / packet.c), or null when sshd says nothing. */
export function connectionEndLine(
  err: SshError | null,
  peer: string,
  user: { name: string | null; invalid: boolean; authenticated: boolean },
): string | null {
  if (user.authenticated) return `Disconnected from user ${user.name} ${peer}`;
  const who = user.name === null ? "" : `${user.invalid ? "invalid" : "authenticating"} user ${user.name} `;
  if (err?.code === "DISCONNECTED") return `Disconnected from ${who}${peer} [preauth]`;
  if (err?.code === "CONNECTION_LOST") return `Connection closed by ${who}${peer} [preauth]`;
  return null;
}

/**
 * Wrap a policy to see each request as sshd's auth2.c logs it ("userauth-request for user X service
 * ssh-connection method Y") and whether the user exists.
 */
export function observePolicy(
  policy: AuthPolicy,
  seen: { request(user: string, method: string): void; userExists(user: string, exists: boolean): void },
): AuthPolicy {
  const wrapped: AuthPolicy = {
    allowNone: (c) => {
      seen.request(c.username, "none");
      return policy.allowNone?.(c) ?? false;
    },
  };
  if (policy.userExists)
    wrapped.userExists = async (u) => {
      const exists = await policy.userExists!(u);
      seen.userExists(u, exists);
      return exists;
    };
  if (policy.checkPublicKey)
    wrapped.checkPublicKey = (c) => {
      seen.request(c.username, "publickey");
      return policy.checkPublicKey!(c);
    };
  if (policy.publicKeyVerified) wrapped.publicKeyVerified = (c) => policy.publicKeyVerified!(c);
  if (policy.verifiesSignatures) wrapped.verifiesSignatures = true;
  if (policy.checkPassword)
    wrapped.checkPassword = (c) => {
      seen.request(c.username, "password");
      return policy.checkPassword!(c);
    };
  if (policy.changePassword) wrapped.changePassword = (c) => policy.changePassword!(c);
  if (policy.keyboardInteractive)
    wrapped.keyboardInteractive = (c, ask) => {
      seen.request(c.username, "keyboard-interactive");
      return policy.keyboardInteractive!(c, ask);
    };
  return wrapped;
}
