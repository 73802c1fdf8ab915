/**
 * The SFTP server as a session's "sftp" subsystem (RFC 4254 §6.5) on the library's server: the channel is
 * both streams, and the session ends with exit-status 0 once the client has closed its side. The status
 * matters: OpenSSH's scp exits 1 when its sftp channel closes without one.
 */
import type { ServerSession, SessionStart } from "../session/index.js";
import { serveSftp, type SftpServerOptions } from "./server.js";

export function isSftpSubsystem(start: SessionStart): boolean {
  return start.kind === "subsystem" && start.name === "sftp";
}

/**
 * Serve SFTP on an accepted session until the client is done, then end the session (exit-status 0, or 1
 * when the peer broke the protocol, as sftp-server's own exit would report).
 */
export async function serveSftpSession(
  session: ServerSession,
  options: SftpServerOptions = {},
): Promise<void> {
  let code = 0;
  try {
    await serveSftp(session.channel, session.channel, options);
  } catch (err) {
    options.log?.("error", `sftp subsystem ended: ${(err as Error).message}`);
    code = 1;
  }
  await session.exit(code);
}

/**
 * Handle the "sftp" subsystem on a session: a "start" listener that accepts it and serves it with these
 * options (computed per session when a function), and leaves every other start to other listeners.
 */
export function handleSftpSubsystem(
  session: ServerSession,
  options: SftpServerOptions | (() => SftpServerOptions) = {},
): void {
  session.on("start", (start, accept) => {
    if (!isSftpSubsystem(start)) return;
    accept();
    const opts = typeof options === "function" ? options() : options;
    serveSftpSession(session, opts).catch((err: Error) => {
      opts.log?.("error", `sftp subsystem: ending the session failed: ${err.message}`);
      session.channel.destroy();
    });
  });
}
