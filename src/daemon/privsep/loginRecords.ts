/**
 * Login records (utmp/wtmp/lastlog) on behalf of a session process: writing them needs root, so the
 * session process asks the monitor, which checks that the connection is that process's and the terminal is
 * the user's, then runs the nssh-exec helper.
 */
import { execFile } from "node:child_process";
import { nativeHelper } from "../loginExec.js";
import type { SessionProcess } from "./sessionPool.js";
import type { MonitorConnection } from "./monitorConnection.js";
import { object, uint, str } from "./schema.js";

/** Answer session process `s`'s lastLogin, loggedIn and loggedOut requests for the connections it owns. */
export function serveLoginRecords(
  s: SessionProcess,
  /** The connection, if it is this session process's. */
  owned: (conn: number) => MonitorConnection | undefined,
): void {
  const helper = (): string => {
    const h = nativeHelper("nssh-exec");
    if (!h || process.geteuid?.() !== 0) throw new Error("login records need root and nssh-exec");
    return h;
  };
  const run = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile(helper(), args, { timeout: 10_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(String(stderr).trim() || err.message)) : resolve(String(stdout)),
      ),
    );
  const ttyArgs = object({ conn: uint(2 ** 31), tty: str(64), pid: uint(2 ** 22) });
  const checkTty = async (conn: number, tty: string): Promise<MonitorConnection> => {
    const c = owned(conn);
    if (!c) throw new Error(`connection ${conn} is not this session process's`);
    // Only a pseudo-terminal the user's process opened: it is the user's already.
    const { statSync } = await import("node:fs");
    if (!/^\/dev\/pts\/\d+$/.test(tty) || statSync(tty).uid !== s.uid)
      throw new Error(`not the user's terminal: ${tty}`);
    return c;
  };
  s.child.peer.handle("lastLogin", object({ conn: uint(2 ** 31) }), async ({ conn }) => {
    if (!owned(conn) || s.uid === null) throw new Error(`connection ${conn} is not this session process's`);
    return process.geteuid?.() === 0 && nativeHelper("nssh-exec") ? run(["--last-login", String(s.uid)]) : "";
  });
  s.child.peer.handle("loggedIn", ttyArgs, async ({ conn, tty, pid }) => {
    const c = await checkTty(conn, tty);
    // Once per terminal of this connection: its logout record needs the same pair.
    if (c.ttys.has(tty)) throw new Error(`${tty} is recorded already`);
    c.ttys.set(tty, pid);
    if (process.geteuid?.() !== 0) return true;
    await run([
      "--login-record",
      tty,
      String(pid),
      c.username ?? "",
      String(s.uid),
      c.spec.info.remoteAddress,
    ]);
    return true;
  });
  s.child.peer.handle("loggedOut", ttyArgs, async ({ conn, tty, pid }) => {
    const c = owned(conn);
    // Only the logout of a login recorded here, terminal and pid as recorded.
    if (!c || c.ttys.get(tty) !== pid) throw new Error("not a recorded login of this connection");
    c.ttys.delete(tty);
    if (process.geteuid?.() === 0) await run(["--logout", tty, String(pid)]);
    return true;
  });
}
