/**
 * The login process: what sshd does for a session channel once the user is authenticated (sshd(8)
 * LOGIN PROCESS, session.c): the PAM session, the environment, the command (ForceCommand, the key's
 * command=, the client's, or the login shell), ~/.ssh/rc or /etc/ssh/sshrc, and on a PTY the tty
 * given to the user, the login records (utmp, wtmp, lastlog), the login messages and "Last login";
 * then the program runs as the user (native/nssh-exec: initgroups, setgid, setuid, chdir home).
 *
 * ChrootDirectory (sshd_config(5), session.c safely_chroot) comes two ways. A privilege-separated session
 * process is chrooted already (monitor.ts gives each user and chroot path its own process): programs are
 * spawned from inside the root without nssh-exec (not reachable there): the home inside the root or "/" as
 * working directory, "-sh" as a login shell's argv[0] on pipes (node-pty passes -l), the tty and login
 * records through the monitor as for any session; no motd or "Last login" (sshd shows them from outside
 * the root, which this process cannot read any more). A single-process daemon (-i, root) checks the path
 * here and has nssh-exec --chroot confine each program (and loginSftpServer.ts the internal-sftp server),
 * so that process keeps its duties (tty, records, motd) as for any session.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { matchHostPattern } from "../keys/index.js";
import type { ServerConnection } from "../server/index.js";
import type { ServerSession, SessionStart } from "../session/index.js";
import type { ProgramLaunch } from "../session/processRunner.js";
import type { SystemAccount } from "./accounts.js";
import {
  checkChrootDirectory,
  chrootConfigured,
  chrootedTo,
  isDirectory,
  resolveChrootDirectory,
} from "./chroot.js";
import { ptyAvailable, runChrootRc, shellMissing } from "./chrootLogin.js";
import { readFileAsUser, identityArgs, nativeHelper, needsIdentityChange } from "./loginExec.js";
import { buildLoginEnvironment, parseEnvironmentFile } from "./loginEnvironment.js";
import type { LoginLog, LoginSettings } from "./loginSettings.js";
import { serveInternalSftp } from "./loginSftp.js";
import { PamCode } from "./pamTransaction.js";
import { programSpawner } from "./programSpawner.js";
import type { LoginGrant } from "./systemAuthPolicy.js";

const SYSTEM_RC = "/etc/ssh/sshrc";
const MOTD = "/etc/motd";
/** How long a PTY program may outlive its closed channel (after SIGHUP) before SIGKILL. */
const HANGUP_GRACE_MS = 2000;

interface PamSession {
  env: Record<string, string>;
  /** pam_info text (pam_motd, pam_mail), shown on PTY sessions as sshd shows its loginmsg. */
  messages: string;
}

/** One PAM session per connection (sshd opens it once), closed when the connection ends. */
const pamSessions = new WeakMap<LoginGrant, Promise<PamSession | null>>();

function openPamSession(
  grant: LoginGrant,
  conn: ServerConnection,
  log: LoginLog,
): Promise<PamSession | null> {
  if (grant.pamSession !== undefined) return Promise.resolve(grant.pamSession);
  let opened = pamSessions.get(grant);
  if (!opened) {
    const pam = grant.pam;
    opened = (async () => {
      if (!pam || pam.ended) return null;
      let messages = "";
      pam.conversation = {
        prompt: () => null,
        message: (text) => {
          messages += `${text}\n`;
        },
      };
      const { status, env } = await pam.openSession();
      if (!status || status.code !== PamCode.SUCCESS) {
        log.error(`PAM: pam_open_session(): ${status?.text ?? "helper failed"}`);
        return null;
      }
      return { env, messages };
    })();
    pamSessions.set(grant, opened);
    conn.transport.once("close", () => pam?.end());
  }
  return opened;
}

interface Plan {
  /** The command to run, or null for the login shell. */
  command: string | null;
  original?: string;
  kind: string;
  internalSftp: boolean;
  subsystem: boolean;
  /** Run the command with this shell instead of the user's. */
  shell?: string;
}

/** session.c do_exec: ForceCommand wins over the key's command=, which wins over the client's. */
function plan(start: SessionStart, settings: LoginSettings, keyCommand: string | undefined): Plan | string {
  let command: string | null = start.kind === "exec" ? start.command : null;
  let subsystem = false;
  if (start.kind === "subsystem") {
    const sub = settings.subsystems[start.name];
    if (sub === undefined) return `subsystem request for ${start.name} failed, subsystem not found`;
    command = sub;
    subsystem = true;
  }
  let kind =
    start.kind === "subsystem" ? `subsystem '${start.name}'` : start.kind === "exec" ? "command" : "shell";
  let original: string | undefined;
  if (settings.forceCommand !== undefined) {
    original = command ?? undefined;
    command = settings.forceCommand;
    kind = `forced-command (config) '${command}'`;
  } else if (keyCommand !== undefined) {
    original = command ?? undefined;
    command = keyCommand;
    kind = `forced-command (key-option) '${command}'`;
  }
  return {
    command,
    ...(original !== undefined ? { original } : {}),
    kind,
    internalSftp: command === "internal-sftp",
    subsystem,
  };
}

/** Whether stat(2) sees the file: synchronous, a few µs where the thread pool cost about 40 µs of CPU. */
function exists(file: string): boolean {
  try {
    return fs.statSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** A folder this process may make its working directory (chdir(2) would succeed). */
function enterable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.X_OK);
    return isDirectory(dir);
  } catch {
    return false;
  }
}

/** A file this process may execute. */
function runnable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

async function userEnvironmentFile(
  account: SystemAccount,
  settings: LoginSettings,
  log: LoginLog,
  root: string,
) {
  if (settings.permitUserEnvironment === false) return undefined;
  const file = path.join(account.home, ".ssh", "environment");
  const text = await readFileAsUser(account, path.join(root, file), 1 << 20);
  if (text === null) return undefined;
  return parseEnvironmentFile(text, (n) => log.info(`Bad line ${n} in ${file}`));
}

/**
 * Serve one session channel of an authenticated system user: call it from the server's onSession with
 * the grant of the connection's policy (systemAuthPolicy.ts grantFor) and the user's settings.
 */
export function startLoginSession(
  session: ServerSession,
  conn: ServerConnection,
  grant: LoginGrant,
  settings: LoginSettings,
  log: LoginLog,
): void {
  const account = grant.account;
  const keyAuth = conn.user.methods.includes("publickey") ? grant.keyFor(conn.user.publicKey) : undefined;
  const keyOptions = keyAuth?.entry.options;
  session.configure({
    acceptEnv: (name) => settings.acceptEnv.some((p) => matchHostPattern(name, p, true)),
    permitPty: settings.permitTTY && keyOptions?.pty !== false,
  });
  const who = `${account.name} from ${conn.remoteAddress} port ${conn.remotePort}`;
  session.on("start", async (start, accept, reject) => {
    const p = plan(start, settings, keyOptions?.command);
    if (typeof p === "string") {
      log.info(`${p} by user ${account.name}`);
      return reject();
    }
    // ChrootDirectory: this process is confined already (privilege separation), or each program will be.
    const confined = chrootedTo() !== null;
    let chroot: string | null = null;
    if (!confined && chrootConfigured(settings.chrootDirectory)) {
      if (process.geteuid?.() !== 0) {
        log.error(`ChrootDirectory needs nsshd to run as root: session for ${who} refused`);
        return reject();
      }
      try {
        chroot = resolveChrootDirectory(settings.chrootDirectory, account);
        if (chroot !== null) await checkChrootDirectory(chroot);
      } catch (err) {
        // sshd's fatal(): the reason in the log, and the connection ends.
        log.error((err as Error).message);
        reject();
        conn.transport.disconnect(undefined, "");
        return;
      }
    }
    /** Where paths inside the root are, seen from this process ("" when this process sees the root as /). */
    const root = chroot ?? "";
    accept();
    const pam = await openPamSession(grant, conn, log);
    if (grant.pam && !pam && settings.usePAM) {
      session.channel.stderrWriter.write("PAM session could not be opened\r\n");
      await session.exit(1);
      return;
    }
    if (grant.passwordChangeRequired) {
      // session.c do_pwchange: the session is the password change, on a tty, or a refusal without one.
      const tty = session.pty !== null;
      p.kind = "forced password change";
      p.command = tty
        ? 'echo "WARNING: Your password has expired." >&2; echo "You must change your password now and login again!" >&2; exec /usr/bin/passwd'
        : 'echo "WARNING: Your password has expired." >&2; echo "Password change required but no TTY available." >&2; exit 1';
      p.internalSftp = false;
      p.subsystem = true; // no rc files, no login messages
      p.shell = "/bin/sh";
    }
    if (p.internalSftp) {
      // session.c do_exec writes this line at VERBOSE.
      log.verbose(`Starting session: ${p.kind} for ${who}`);
      await serveInternalSftp(session, account, log, chroot !== null ? { chroot } : {});
      return;
    }
    const pty = session.pty;
    const env = buildLoginEnvironment({
      account,
      conn,
      settings,
      clientEnv: session.env,
      ...(keyOptions?.environment ? { keyEnvironment: keyOptions.environment } : {}),
      ...(p.original !== undefined ? { originalCommand: p.original } : {}),
      ...(pam ? { pamEnv: pam.env } : {}),
      ...(await userEnvironmentFile(account, settings, log, root).then((f) =>
        f ? { userEnvironmentFile: f } : {},
      )),
      ...(pty ? { term: pty.term } : {}),
    });
    // do_rc_files: ~/.ssh/rc unless ForceCommand or no-user-rc, else /etc/ssh/sshrc; never for subsystems.
    let rc: string | undefined;
    if (!p.subsystem) {
      const userRc = path.join(account.home, ".ssh", "rc");
      const userRcAllowed =
        settings.forceCommand === undefined && settings.permitUserRC && keyOptions?.userRc !== false;
      if (userRcAllowed && exists(root + userRc)) rc = userRc;
      else if (exists(root + SYSTEM_RC)) rc = SYSTEM_RC;
    }
    // nssh-exec is outside a confined process's root: it runs programs directly.
    const helper = confined ? null : nativeHelper("nssh-exec");
    const change = needsIdentityChange(account);
    if (chroot !== null && !helper) {
      log.error(`nssh-exec is not built: cannot chroot to ${chroot}; session for ${who} ended`);
      session.channel.stderrWriter.write("ChrootDirectory is not available on this server\r\n");
      await session.exit(1);
      return;
    }
    if (change && !helper) {
      log.error("nssh-exec is not built: the session runs without the user's supplementary groups");
    }
    // check_quietlogin: the messages, "Last login" and motd only for a login shell, and not with ~/.hushlogin.
    const quiet = p.command !== null || exists(root + path.join(account.home, ".hushlogin"));
    const recorder = grant.loginRecorder;
    const lastLogin = recorder && pty && !quiet && settings.printLastLog ? await recorder.lastLogin() : "";
    if (pty && !quiet && (pam?.messages || lastLogin))
      env.NSSH_LOGIN_MESSAGES = (pam?.messages ?? "") + lastLogin;
    // Debian's sshd leaves the motd to pam_motd when it says it showed it (MOTD_SHOWN=pam).
    const motdShown = pam?.env.MOTD_SHOWN === "pam";
    const shell = p.shell ?? (account.shell || "/bin/sh");
    // A process that is the user already (a session process, or nsshd not run as root) needs nssh-exec
    // only for what it does besides exec: a terminal, an rc file, a chroot, the home folder's warning.
    // Without any of them the program is spawned directly in the home folder, as sshd's child execs the
    // shell: one program start less per login.
    const direct =
      helper !== null &&
      chroot === null &&
      !pty &&
      rc === undefined &&
      !change &&
      identityArgs(account).length === 0 &&
      enterable(account.home) &&
      runnable(shell);
    const wrap =
      helper && !direct
        ? (launch: ProgramLaunch) => ({
            file: helper,
            args: [
              ...identityArgs(account),
              ...(chroot !== null ? ["--chroot", chroot] : []),
              "--chdir",
              account.home,
              ...(launch.pty ? ["--tty"] : []),
              // The monitor gives the tty to group tty as soon as the program runs: wait for it.
              ...(launch.pty && recorder ? ["--await-tty"] : []),
              ...(launch.pty && !recorder ? ["--record", conn.remoteAddress] : []),
              ...(launch.pty && !quiet ? ["--messages"] : []),
              ...(launch.pty && !quiet && settings.printLastLog && !recorder ? ["--lastlog"] : []),
              ...(launch.pty && !quiet && settings.printMotd && !motdShown ? ["--motd", MOTD] : []),
              ...(rc ? ["--rc", rc] : []),
              "--",
              launch.file,
              launch.argv0,
              ...launch.args,
            ],
          })
        : undefined;
    let cwd = "/";
    if (direct || (!helper && exists(account.home))) cwd = account.home;
    if (confined) {
      // session.c do_child inside the root: the home if it is there (no warning when not), then the rc
      // file, then the shell, which must exist inside the root ("perror(shell); exit(1)" otherwise).
      cwd = isDirectory(account.home) ? account.home : "/";
      const missing = shellMissing(shell);
      if (missing !== null) {
        log.error(`session for ${who}: ${missing} (inside ChrootDirectory ${chrootedTo()})`);
        session.channel.stderrWriter.write(`${missing}\r\n`);
        await session.exit(1);
        return;
      }
      // The terminal is opened from inside the root (sshd opens it in its monitor, outside).
      if (pty && !ptyAvailable()) {
        const why = "a PTY inside ChrootDirectory needs /dev/ptmx and /dev/pts there";
        log.error(`session for ${who}: ${why}`);
        session.channel.stderrWriter.write(`${why}\r\n`);
        await session.exit(1);
        return;
      }
      if (rc) await runChrootRc(session, rc, env, cwd, log);
    }
    let tty: string | null = null;
    let pid = 0;
    let ended = false;
    // posix_spawn rather than a fork of this process, when the addon is built (programSpawner.ts).
    const spawner = programSpawner();
    await session.run({
      shell,
      cwd,
      env,
      mergeClientEnv: false,
      ...(p.command !== null ? { command: p.command } : {}),
      ...(wrap ? { wrap } : change ? { uid: account.uid, gid: account.gid } : {}),
      ...(spawner ? { spawner } : {}),
      onStart: (info) => {
        tty = info.ttyName;
        pid = info.pid;
        if (info.ttyName) {
          // sshd hangs up the terminal when the channel closes; a program that ignores SIGHUP (passwd
          // waiting for input, say) must not outlive its session: it is killed a moment later.
          session.channel.once("close", () => {
            setTimeout(() => {
              if (ended) return; // its pid may belong to another process by now
              try {
                process.kill(info.pid, "SIGKILL");
              } catch {
                // already gone
              }
            }, HANGUP_GRACE_MS).unref();
          });
        }
        if (info.ttyName && recorder) {
          recorder
            .loggedIn(info.ttyName, info.pid)
            .catch((err: Error) => log.error(`login record: ${err.message}`));
        }
        const on = tty ? ` on ${tty.replace(/^\/dev\//, "")}` : "";
        log.verbose(`Starting session: ${p.kind}${on} for ${who}`);
      },
    });
    ended = true;
    if (tty && recorder) {
      await recorder.loggedOut(tty, pid).catch((err: Error) => log.error(`logout record: ${err.message}`));
    } else if (tty && helper && process.geteuid?.() === 0) {
      // The logout record in utmp and wtmp (sshd's record_logout when the session's pty is released).
      const line = tty;
      await new Promise<void>((resolve) =>
        execFile(helper, ["--logout", line, String(pid)], () => resolve()),
      );
    }
  });
}
