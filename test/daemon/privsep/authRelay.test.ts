import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { authenticateServer, type AuthPolicy } from "../../../src/auth/index.js";
import { parsePrivateKey, type PrivateKey } from "../../../src/keys/index.js";
import { IpcPeer, type IpcChannel } from "../../../src/daemon/privsep/ipc.js";
import {
  loginEarned,
  remoteAuthPolicy,
  remoteHostKeySigner,
  serveConversations,
  serveWorkerAuth,
  type MonitoredConnection,
} from "../../../src/daemon/privsep/authRelay.js";
import { Transport } from "../../../src/transport/index.js";
import { makeUserKey } from "../../helpers/authHelpers.js";
import { runOpenSshClient } from "../../helpers/opensshClient.js";

/** Two ends of an IPC channel in one process, delivering asynchronously and through structured clone. */
function channelPair(): [IpcChannel, IpcChannel] {
  const a = new EventEmitter();
  const b = new EventEmitter();
  const end = (self: EventEmitter, other: EventEmitter): IpcChannel => ({
    send(message) {
      const copy = structuredClone(message);
      setImmediate(() => other.emit("message", copy));
      return true;
    },
    on(event: string, listener: (...args: any[]) => void) {
      self.on(event, listener);
      return self;
    },
  });
  return [end(a, b), end(b, a)];
}

interface Setup {
  monitorConn: MonitoredConnection;
  worker: IpcPeer;
  monitor: IpcPeer;
  refused: string[];
  hostKey: PrivateKey;
}

function setup(policy: AuthPolicy, hostKey: PrivateKey): Setup {
  const [w, m] = channelPair();
  const refused: string[] = [];
  const worker = new IpcPeer(w, { onRefused: (r) => refused.push(`worker: ${r}`) });
  const monitor = new IpcPeer(m, { onRefused: (r) => refused.push(`monitor: ${r}`) });
  const monitorConn: MonitoredConnection = {
    policy,
    methodChains: async () => ({ enabled: ["publickey", "password", "keyboard-interactive"] }),
    sessionId: null,
    successes: [],
  };
  const seen = new Set<string>();
  serveWorkerAuth(monitor, {
    hostKeys: [hostKey],
    connection: (id) => (id === 7 ? monitorConn : undefined),
    sessionIdSeen: (id) => seen.has(id.toString("hex")) || (seen.add(id.toString("hex")), false),
  });
  serveConversations(worker);
  return { monitorConn, worker, monitor, refused, hostKey };
}

test("OpenSSH's ssh logs in through a worker whose every answer and signature comes from the monitor", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-relay-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const hostKey = parsePrivateKey(fs.readFileSync(makeUserKey(dir, "host", "ed25519").file));
  const user = makeUserKey(dir, "user", "ed25519");
  const s = setup(
    { checkPublicKey: ({ key, username }) => username === "alice" && key.equals(user.key.publicKey) },
    hostKey,
  );
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const result = (async () => {
    const [socket] = (await once(server, "connection")) as [net.Socket];
    const transport = new Transport({
      role: "server",
      socket,
      hostKeys: [remoteHostKeySigner(s.worker, 7, 0, hostKey.publicKey)],
    });
    const authed = await authenticateServer(transport, { policy: remoteAuthPolicy(s.worker, 7) });
    transport.disconnect();
    return authed;
  })();
  const r = await runOpenSshClient((server.address() as net.AddressInfo).port, {
    user: "alice",
    options: { IdentityFile: user.file, IdentitiesOnly: "yes" },
  });
  const authed = await result;
  assert.equal(authed.username, "alice");
  assert.match(r.stderr, /Authenticated to 127\.0\.0\.1/);
  assert.ok(s.monitorConn.sessionId, "the monitor learned the session id from what it signed");
  assert.equal(await loginEarned(s.monitorConn, "alice"), s.monitorConn.successes[0]!.key);
  assert.equal(await loginEarned(s.monitorConn, "bob"), false);
  assert.deepEqual(s.refused, []);
});

test("the monitor refuses a worker's forged claims and malformed requests", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-relay-"));
  try {
    const hostKey = parsePrivateKey(fs.readFileSync(makeUserKey(dir, "host", "ed25519").file));
    const user = makeUserKey(dir, "user", "ed25519");
    const s = setup({ checkPublicKey: () => true, checkPassword: () => false }, hostKey);
    const { bool, bytes } = await import("../../../src/daemon/privsep/schema.js");
    // Not an exchange hash: the monitor signs nothing else with a host key.
    await assert.rejects(
      s.worker.request(
        "sign",
        { conn: 7, key: 0, algorithm: "ssh-ed25519", data: Buffer.alloc(100) },
        bytes(1024),
      ),
      /malformed|not an exchange hash/,
    );
    await s.worker.request(
      "sign",
      { conn: 7, key: 0, algorithm: "ssh-ed25519", data: Buffer.alloc(32, 1) },
      bytes(1024),
    );
    // A signature that was not made over this session: refused, and not recorded.
    const forged = {
      conn: 7,
      username: "alice",
      method: "publickey",
      algorithm: "ssh-ed25519",
      key: user.key.publicKey.blob,
      service: "ssh-connection",
      signature: Buffer.alloc(83),
    };
    assert.equal(await s.worker.request("publicKeyVerified", forged, bool), false);
    assert.equal(
      await s.worker.request("checkPassword", { conn: 7, username: "alice", password: "x" }, bool),
      false,
    );
    assert.equal(await loginEarned(s.monitorConn, "alice"), false);
    // Another worker's connection, an unknown request, an extra field: all refused and reported.
    await assert.rejects(
      s.worker.request("userExists", { conn: 8, username: "alice" }, bool),
      /not this worker/,
    );
    await assert.rejects(s.worker.request("readFile", { path: "/etc/shadow" }, bool), /unknown request/);
    await assert.rejects(
      s.worker.request("userExists", { conn: 7, username: "alice", uid: 0 }, bool),
      /malformed request/,
    );
    assert.ok(s.refused.some((r) => /monitor: unknown request "readFile"/.test(r)));
    assert.ok(s.refused.some((r) => /monitor: malformed userExists request: .*unexpected field uid/.test(r)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
