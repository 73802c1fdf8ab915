// A server that runs real commands as the current user, and a client that uses it: run with
//   node docs/examples/server-and-client.mjs
// (after npm install). Both sides are nssh; point OpenSSH's ssh at the server just the same.
import os from "node:os";
import { connect, createServer, defaultSessionEnv, PrivateKey, constantTimeEqual } from "nssh";

const userKey = PrivateKey.generate("ssh-ed25519");
const hostKey = PrivateKey.generate("ssh-ed25519");

const server = createServer({
  hostKeys: [hostKey],
  auth: {
    // Every decision is an (async) callback: authorized keys, passwords, keyboard-interactive.
    checkPublicKey: ({ key }) => key.equals(userKey.publicKey),
    checkPassword: ({ password }) => constantTimeEqual(password, "correct horse"),
  },
  onSession: (session, connection) => {
    session.on("start", (start, accept) => {
      accept();
      // Runs `$SHELL -c command` (or a login shell), on a PTY if the client asked for one.
      void session.run({ shell: "/bin/sh", cwd: os.homedir(), env: defaultSessionEnv(connection) });
    });
  },
});
const { port } = await server.listen(0, "127.0.0.1");

const client = await connect({
  host: "127.0.0.1",
  port,
  username: os.userInfo().username,
  identity: userKey, // or a path such as "~/.ssh/id_ed25519", with `passphrase`
  agent: false, // default: the agent at SSH_AUTH_SOCK, if any
  // No silent trust: compare with known_hosts, a pinned fingerprint, or ask someone.
  verifyHostKey: (key) => key.equals(hostKey.publicKey),
});

const { code, stdout, stderr } = await client.exec("echo hello; echo oops >&2; exit 3");
console.log({ code, stdout, stderr });

// Streaming: stdin/stdout are the channel, stderr is channel.stderr.
const cat = await client.spawn("tr a-z A-Z", { stdin: "shout\n" });
cat.channel.pipe(process.stdout);
console.log(await cat.exit);

await client.close();
await server.close();
