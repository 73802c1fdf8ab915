/**
 * The library's server (createServer) as a benchmark peer in its own process, so its CPU time is counted
 * apart from the harness: `node ourServerMain.js <port> <hostKeyFile> <authorizedPublicKeyLine>`.
 * Key authentication for that one key, exec/shell run for real through session.run (as sshd runs them,
 * `/bin/sh -c command`), and the "sftp" subsystem served in-process by serveSftp. Prints
 * "listening <port>" once it accepts connections. Used while nsshd cannot serve the benchmarks.
 */
import os from "node:os";
import { parsePrivateKey, parsePublicKeyLine } from "../src/keys/index.js";
import { createServer, defaultSessionEnv } from "../src/server/index.js";
import { handleSftpSubsystem, isSftpSubsystem } from "../src/sftp/index.js";
import fs from "node:fs";

const [portArg, hostKeyFile, authorizedLine] = process.argv.slice(2);
if (!portArg || !hostKeyFile || !authorizedLine) {
  console.error("usage: ourServerMain.js <port> <hostKeyFile> <authorizedPublicKeyLine>");
  process.exit(2);
}
const authorized = parsePublicKeyLine(authorizedLine).key;
const server = createServer({
  hostKeys: [parsePrivateKey(fs.readFileSync(hostKeyFile))],
  auth: { checkPublicKey: ({ key }) => key.equals(authorized) },
  // Login rate and memory open many connections at once; the defaults are for one user's sessions.
  loginGraceTime: 0,
  onSession: (session, connection) => {
    handleSftpSubsystem(session, {});
    session.on("start", (start, accept, reject) => {
      if (isSftpSubsystem(start)) return;
      if (start.kind === "subsystem") return reject();
      accept();
      session
        .run({ shell: "/bin/sh", cwd: os.homedir(), env: defaultSessionEnv(connection) })
        .catch((err: Error) => {
          console.error(`ourServerMain: session.run failed: ${err.message}`);
          session.channel.destroy();
        });
    });
  },
});
server.on("error", (err) => console.error(`ourServerMain: ${err.message}`));
const { port } = await server.listen(Number(portArg), "127.0.0.1");
console.log(`listening ${port}`);
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
