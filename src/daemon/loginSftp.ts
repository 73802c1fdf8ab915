/**
 * The internal-sftp subsystem (sshd_config(5) Subsystem, ForceCommand internal-sftp) for a system user.
 * A daemon that runs as the user serves it in-process; one that must change identity runs the same
 * server in a Node process started as the user (loginSftpServer.ts on stdin/stdout), so that files are
 * read and created with the user's own rights.
 *
 * ChrootDirectory: a session process already chrooted (privilege separation) serves it in-process from
 * inside its root; a single-process daemon (-i) starts that Node process as root with --chroot, and it
 * confines itself and then becomes the user (loginSftpServer.ts). Either way the start directory is the
 * home inside the root when it exists there, else "/" (session.c do_child).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ServerSession } from "../session/index.js";
import { serveSftpSession } from "../sftp/index.js";
import type { SystemAccount } from "./accounts.js";
import { chrootedTo, isDirectory } from "./chroot.js";
import { identityArgs, nativeHelper, needsIdentityChange } from "./loginExec.js";
import type { LoginLog } from "./loginSettings.js";

const SERVER_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), "loginSftpServer.js");

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function serveInternalSftp(
  session: ServerSession,
  account: SystemAccount,
  log: LoginLog,
  options: { chroot?: string } = {},
): Promise<void> {
  const sftpLog = (level: string, message: string): void => {
    if (level === "error") log.error(message);
    else log.debug1(message);
  };
  if (chrootedTo() !== null) {
    await serveSftpSession(session, {
      homeDirectory: account.home,
      userName: account.name,
      startDirectory: isDirectory(account.home) ? account.home : "/",
      log: sftpLog,
    });
    return;
  }
  if (options.chroot !== undefined) {
    const groups = [...new Set(account.groups.map((g) => g.gid))].join(",");
    const args = ["--chroot", options.chroot, "--uid", String(account.uid), "--gid", String(account.gid)];
    await session.run({
      shell: "/bin/sh",
      cwd: "/",
      env: { USER: account.name, LOGNAME: account.name, HOME: account.home, PATH: "/usr/bin:/bin" },
      mergeClientEnv: false,
      command: `exec ${[process.execPath, SERVER_ENTRY, ...args, "--groups", groups || "-"].map(shellQuote).join(" ")}`,
    });
    return;
  }
  if (!needsIdentityChange(account)) {
    await serveSftpSession(session, {
      homeDirectory: account.home,
      userName: account.name,
      startDirectory: account.home,
      log: sftpLog,
    });
    return;
  }
  const helper = nativeHelper("nssh-exec");
  await session.run({
    shell: "/bin/sh",
    cwd: helper ? "/" : account.home,
    env: {
      USER: account.name,
      LOGNAME: account.name,
      HOME: account.home,
      PATH: "/usr/bin:/bin",
    },
    mergeClientEnv: false,
    command: `exec ${shellQuote(process.execPath)} ${shellQuote(SERVER_ENTRY)}`,
    ...(helper
      ? {
          wrap: (launch) => ({
            file: helper,
            args: [
              ...identityArgs(account),
              "--chdir",
              account.home,
              "--",
              launch.file,
              launch.argv0,
              ...launch.args,
            ],
          }),
        }
      : { uid: account.uid, gid: account.gid }),
  });
}
