/** How the transport turns what went wrong into an SshError, and peer text into something safe to show. */
import { SshError } from "../wire/index.js";

/** The prefix of a failure of our own (a throwing listener, a bug): logged, not told to the peer. */
export const INTERNAL_ERROR = "internal error";

export function toSshError(err: unknown): SshError {
  if (err instanceof SshError) return err;
  return new SshError("PROTOCOL", `${INTERNAL_ERROR}: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

/** Text from the peer made safe for a log line or a terminal: control characters as \xNN. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
