/**
 * The privilege-separation hand-off (Transport.handOff, src/transport/handoff.ts) after heavy traffic on the
 * new send path: before moving, the parent sends OpenSSH's ssh 4 MiB of SSH_MSG_IGNORE (each packet framed
 * in the shared plaintext scratch and sealed in pieces: GCM's invocation counter, the CTR position and the
 * sequence number advance per packet). The child then serves a session with ssh re-keying every 32 KiB:
 * if the exported state were wrong, ssh would fail its MAC. (The parent waits for its socket to drain
 * first: output still held by the socket is lost with the handle, see the report.)
 */
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { authenticateServer } from "../../src/auth/index.js";
import { parsePrivateKey, type PublicKey } from "../../src/keys/index.js";
import { Transport } from "../../src/transport/index.js";
import { Msg, SshWriter } from "../../src/wire/index.js";
import { makeUserKey } from "../helpers/authHelpers.js";
import { runOpenSshClient } from "../helpers/opensshClient.js";
import { opensshAvailable } from "../helpers/opensshServer.js";

const CHILD = new URL("../helpers/handoffChild.js", import.meta.url);
const skip = opensshAvailable() ? false : "OpenSSH is not installed";

for (const [cipher, mac] of [
  ["aes128-gcm@openssh.com", "hmac-sha2-256-etm@openssh.com"],
  ["chacha20-poly1305@openssh.com", "hmac-sha2-256-etm@openssh.com"],
  ["aes256-ctr", "hmac-sha2-256-etm@openssh.com"],
  ["aes128-ctr", "hmac-sha2-256"],
]) {
  test(`a hand-off after 4 MiB sent still decrypts (${cipher}, ${mac})`, { skip }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-packetpath-handoff-"));
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
        const transport = new Transport({
          role: "server",
          socket,
          hostKeys: [parsePrivateKey(hostPem)],
        });
        await authenticateServer(transport, {
          policy: { checkPublicKey: ({ key }: { key: PublicKey }) => user.key.publicKey.equals(key) },
          deferSuccess: true,
        });
        // Heavy traffic right before the move: 64 packets of 64 KiB, in one tick (one corked writev).
        const filler = Buffer.alloc(64 * 1024, 0x5a);
        const ignore = Buffer.from(new SshWriter().byte(Msg.IGNORE).string(filler).toBuffer());
        for (let i = 0; i < 64; i++) transport.send(ignore);
        // handOff() must not run while the socket still holds output (the transport corks until the next
        // tick, and a slow reader leaves bytes in Node's buffer): they would be lost with the handle.
        await new Promise((r) => setImmediate(r));
        while (socket.writableLength > 0) await once(socket, "drain");
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
        timeoutMs: 25_000,
      });
      await served;
      assert.equal(r.status, 0, r.stderr.slice(-3000));
      const lines = r.stdout.split("\n").filter(Boolean);
      assert.equal(lines.length, 20000);
      assert.ok(lines.every((l) => l === `big from ${child.pid}`));
    } finally {
      server.close();
      child.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
