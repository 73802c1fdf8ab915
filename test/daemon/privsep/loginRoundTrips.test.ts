/**
 * What a publickey login costs in requests from a pre-auth worker to the monitor: the client's query and
 * its signed request ask about the same key, and the worker asks the monitor once; the monitor still checks
 * the key itself when the signature comes, so a key it no longer allows then does not log in.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { authenticateServer, type AuthPolicy } from "../../../src/auth/index.js";
import { parsePrivateKey, type PrivateKey } from "../../../src/keys/index.js";
import { IpcPeer, type IpcChannel } from "../../../src/daemon/privsep/ipc.js";
import {
  remoteAuthPolicy,
  remoteHostKeySigner,
  serveWorkerAuth,
  type MonitoredConnection,
} from "../../../src/daemon/privsep/authRelay.js";
import { Transport } from "../../../src/transport/index.js";
import { makeUserKey } from "../../helpers/authHelpers.js";
import { runOpenSshClient } from "../../helpers/opensshClient.js";

/** Two ends of an IPC channel in one process; the worker's end counts the requests it sends, by kind. */
function channelPair(sent: Map<string, number>): [IpcChannel, IpcChannel] {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const end = (self: EventEmitter, other: EventEmitter, count: boolean): IpcChannel => ({
    send(message) {
      const m = message as { t?: string; op?: string };
      if (count && m.t === "req" && m.op) sent.set(m.op, (sent.get(m.op) ?? 0) + 1);
      const copy = structuredClone(message);
      setImmediate(() => other.emit("message", copy));
      return true;
    },
    on(event: string, listener: (...args: any[]) => void) {
      self.on(event, listener);
      return self;
    },
  });
  return [end(a, b, true), end(b, a, false)];
}

/** A worker's publickey login by OpenSSH's ssh, every answer from a monitor whose policy is `policy`. */
async function loginThroughWorker(
  policy: AuthPolicy,
  hostKey: PrivateKey,
  userKeyFile: string,
): Promise<{ authenticated: boolean; sent: Map<string, number>; monitorConn: MonitoredConnection }> {
  const sent = new Map<string, number>();
  const [w, m] = channelPair(sent);
  const worker = new IpcPeer(w, { onRefused: () => {} });
  const monitor = new IpcPeer(m, { onRefused: () => {} });
  const monitorConn: MonitoredConnection = {
    policy,
    methodChains: async () => ({ enabled: ["publickey"] }),
    sessionId: null,
    successes: [],
  };
  serveWorkerAuth(monitor, {
    hostKeys: [hostKey],
    connection: (id) => (id === 3 ? monitorConn : undefined),
    sessionIdSeen: () => false,
  });
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const served = (async () => {
      const [socket] = (await once(server, "connection")) as [net.Socket];
      const transport = new Transport({
        role: "server",
        socket,
        hostKeys: [remoteHostKeySigner(worker, 3, 0, hostKey.publicKey)],
      });
      try {
        await authenticateServer(transport, { policy: remoteAuthPolicy(worker, 3), maxAuthTries: 2 });
        transport.disconnect();
        return true;
      } catch {
        transport.disconnect();
        return false;
      }
    })();
    await runOpenSshClient((server.address() as net.AddressInfo).port, {
      user: "alice",
      options: { IdentityFile: userKeyFile, IdentitiesOnly: "yes", PreferredAuthentications: "publickey" },
    });
    return { authenticated: await served, sent, monitorConn };
  } finally {
    server.close();
  }
}

test("a publickey login asks the monitor about the key once; the monitor checks it again at the signature", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-roundtrips-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const hostKey = parsePrivateKey(fs.readFileSync(makeUserKey(dir, "host", "ed25519").file));
  const user = makeUserKey(dir, "user", "ed25519");
  let checks = 0;
  const r = await loginThroughWorker(
    {
      checkPublicKey: ({ key, username }) => {
        checks++;
        return username === "alice" && key.equals(user.key.publicKey);
      },
    },
    hostKey,
    user.file,
  );
  assert.equal(r.authenticated, true);
  assert.equal(r.sent.get("checkPublicKey"), 1, "the query's answer stands for the signed request");
  assert.equal(r.sent.get("publicKeyVerified"), 1);
  assert.equal(checks, 2, "the monitor checked the key at the query and again with the signature");
  assert.equal(r.monitorConn.successes.length, 1);
});

test("a key the monitor stops allowing between the query and the signature does not log in", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-roundtrips-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const hostKey = parsePrivateKey(fs.readFileSync(makeUserKey(dir, "host", "ed25519").file));
  const user = makeUserKey(dir, "user", "ed25519");
  let checks = 0;
  // Allowed at the query only (as if authorized_keys lost the line right after it).
  const r = await loginThroughWorker({ checkPublicKey: () => ++checks === 1 }, hostKey, user.file);
  assert.equal(r.authenticated, false);
  assert.deepEqual(r.monitorConn.successes, [], "no success on the monitor's record");
});
