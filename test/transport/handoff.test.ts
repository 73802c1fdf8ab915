import { test } from "node:test";
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { authenticateServer } from "../../src/auth/index.js";
import { parsePrivateKey, type PublicKey } from "../../src/keys/index.js";
import { Transport } from "../../src/transport/index.js";
import { makeUserKey } from "../helpers/authHelpers.js";
import { runOpenSshClient } from "../helpers/opensshClient.js";

// nsshd's privilege separation moves an authenticated connection to a process running as the user. Here the
// parent authenticates OpenSSH's ssh, hands the socket and the transport state to a real child process,
// and the child serves the session. The output, the exit status and re-keys after the move (ssh re-keys
// every 32 KiB, the child every 64 KiB, over ~500 KiB) prove keys, IVs and sequence numbers arrived intact.

const CHILD = new URL("../helpers/handoffChild.js", import.meta.url);

for (const [cipher, mac] of [
  ["chacha20-poly1305@openssh.com", "hmac-sha2-256-etm@openssh.com"],
  ["aes128-gcm@openssh.com", "hmac-sha2-256-etm@openssh.com"],
  ["aes256-ctr", "hmac-sha2-512-etm@openssh.com"],
  ["aes128-ctr", "hmac-sha2-256"],
]) {
  test(`an authenticated connection moves to another process and goes on (${cipher}, ${mac})`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-handoff-"));
    const child = fork(CHILD, [], {
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const server = net.createServer();
    try {
      await once(child, "message");
      const hostPem = fs.readFileSync(makeUserKey(dir, "host", "ed25519").file, "utf8");
      const user = makeUserKey(dir, "user", "ed25519");
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      const served = (async () => {
        const [socket] = (await once(server, "connection")) as [net.Socket];
        const transport = new Transport({ role: "server", socket, hostKeys: [parsePrivateKey(hostPem)] });
        await authenticateServer(transport, {
          policy: { checkPublicKey: ({ key }: { key: PublicKey }) => user.key.publicKey.equals(key) },
          deferSuccess: true,
        });
        child.send({ handoff: transport.handOff(), hostKey: hostPem }, socket);
      })();
      const r = await runOpenSshClient((server.address() as net.AddressInfo).port, {
        user: "alice",
        options: {
          IdentityFile: user.file,
          IdentitiesOnly: "yes",
          Ciphers: cipher,
          MACs: mac,
          RekeyLimit: "32K",
        },
        command: "big",
      });
      await served;
      assert.equal(r.status, 0, r.stderr.slice(-3000));
      const lines = r.stdout.split("\n").filter(Boolean);
      assert.equal(lines.length, 20000);
      assert.ok(lines.every((l) => l === `big from ${child.pid}`));
      // The first NEWKEYS is the initial exchange, before the move; any later one is a re-key after it.
      assert.ok((r.stderr.match(/SSH2_MSG_NEWKEYS received/g) ?? []).length >= 2, "re-keyed after the move");
    } finally {
      server.close();
      child.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
