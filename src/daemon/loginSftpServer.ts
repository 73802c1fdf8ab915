/**
 * Entry point: the SFTP server on stdin/stdout for one session, started as the user by loginSftp.ts
 * (the daemon's internal-sftp when it has to change identity). Exit status 0 once the client is done,
 * 1 when the protocol broke.
 *
 * With `--chroot DIR --uid N --gid N --groups G,G` it is started as root instead (ChrootDirectory in a
 * single-process daemon): it chroots to DIR (after sshd's checks), becomes the user, and serves from
 * inside the root, starting in the home there when it exists, else in "/". Everything it runs is imported
 * before the chroot (static imports).
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { serveSftp } from "../sftp/index.js";
import { checkChrootDirectory, enterChroot, isDirectory } from "./chroot.js";
import { becomeUser } from "./privsep/becomeUser.js";

function fail(message: string): never {
  process.stderr.write(`internal-sftp: ${message}\n`);
  process.exit(1);
}

async function confine(): Promise<void> {
  const { values } = parseArgs({
    options: {
      chroot: { type: "string" },
      uid: { type: "string" },
      gid: { type: "string" },
      groups: { type: "string" },
    },
    strict: true,
  });
  if (values.chroot === undefined) return;
  const id = (v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v)) fail(`bad --uid/--gid: ${String(v)}`);
    return Number(v);
  };
  const uid = id(values.uid);
  const gid = id(values.gid);
  const groups = (values.groups ?? "-") === "-" ? [] : values.groups!.split(",").map((g) => id(g));
  await checkChrootDirectory(values.chroot);
  enterChroot(values.chroot);
  becomeUser({ uid, gid, groups });
}

async function main(): Promise<void> {
  await confine();
  const home = process.env.HOME ?? os.homedir();
  const start = process.argv.includes("--chroot") ? (isDirectory(home) ? home : "/") : home;
  await serveSftp(process.stdin, process.stdout, {
    homeDirectory: home,
    startDirectory: start,
    userName: process.env.USER ?? os.userInfo().username,
  });
}

main().then(
  () => process.exit(0),
  (err: Error) => fail(err.message),
);
