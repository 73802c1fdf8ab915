/**
 * Entry point: the SFTP server on stdin/stdout for one session, started as the user by loginSftp.ts
 * (the daemon's internal-sftp when it has to change identity). Exit status 0 once the client is done,
 * 1 when the protocol broke.
 */
import os from "node:os";
import { serveSftp } from "../sftp/index.js";

const home = process.env.HOME ?? os.homedir();
serveSftp(process.stdin, process.stdout, {
  homeDirectory: home,
  startDirectory: home,
  userName: process.env.USER ?? os.userInfo().username,
}).then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`internal-sftp: ${err.message}\n`);
    process.exit(1);
  },
);
