/**
 * What login.ts does itself for a session in a process that is chrooted already (privilege separation),
 * where nssh-exec cannot be reached: the check that the shell exists inside the root (sshd: the exec fails,
 * "perror(shell)" and status 1, session.c do_child), and ~/.ssh/rc or /etc/ssh/sshrc run with /bin/sh from
 * inside the root before the program (session.c do_rc_files), its output on the session's.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import type { ServerSession } from "../session/index.js";
import type { LoginLog } from "./loginSettings.js";

/** How long an rc file may run before it is killed (sshd waits for it; we bound it). */
const RC_TIMEOUT_MS = 60_000;

/** Can a PTY be opened from here (inside the root)? */
export function ptyAvailable(): boolean {
  return fs.existsSync("/dev/ptmx") && fs.existsSync("/dev/pts");
}

/** null when `shell` can be run, else the message sshd's perror(shell) would print. */
export function shellMissing(shell: string): string | null {
  try {
    fs.accessSync(shell, fs.constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "No such file or directory" : code === "EACCES" ? "Permission denied" : code;
    return `${shell}: ${why ?? (err as Error).message}`;
  }
}

/** Run `/bin/sh rc` (inside the root) with the session's environment; its output goes to the client. */
export async function runChrootRc(
  session: ServerSession,
  rc: string,
  env: Record<string, string>,
  cwd: string,
  log: LoginLog,
): Promise<void> {
  await new Promise<void>((resolve) => {
    const child = spawn("/bin/sh", [rc], { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), RC_TIMEOUT_MS);
    child.stdout.pipe(session.channel, { end: false });
    child.stderr.pipe(session.channel.stderrWriter, { end: false });
    child.once("error", (err) => {
      log.error(`${rc}: ${err.message}`);
      clearTimeout(timer);
      resolve();
    });
    child.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
