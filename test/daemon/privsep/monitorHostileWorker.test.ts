import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { parsePrivateKey } from "../../../src/keys/index.js";
import { PrivsepMonitor, type MonitorConnectionSpec } from "../../../src/daemon/privsep/monitor.js";
import type { DaemonLog } from "../../../src/daemon/log.js";
import { makeUserKey } from "../../helpers/authHelpers.js";

// A worker that is compromised sends the monitor what the protocol does not allow. The monitor refuses each
// message, logs it, acts on none of them (no signature, no login), and keeps serving.

test("the monitor refuses and logs a hostile worker's messages, and keeps running", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-hostile-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const record = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  const log: DaemonLog = {
    error: record("error"),
    info: record("info"),
    verbose: record("verbose"),
    debug1: record("debug1"),
    debug2: record("debug2"),
    debug3: record("debug3"),
  };
  const monitor = new PrivsepMonitor({
    log,
    login: { createPolicy: () => ({ grantFor: () => undefined }), startSession: () => {} },
    workers: 1,
    spareSessions: 0,
    workerEntry: new URL("../../helpers/hostileWorker.js", import.meta.url),
  });
  t.after(() => monitor.stop());
  const hostKey = parsePrivateKey(fs.readFileSync(makeUserKey(dir, "host", "ed25519").file));
  monitor.configure([hostKey], {
    kex: ["curve25519-sha256"],
    ciphers: ["aes128-ctr"],
    macs: ["hmac-sha2-256"],
    hostKeyAlgorithms: ["ssh-ed25519"],
  });
  await monitor.start();
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const ended: string[] = [];
  const serveOne = async (): Promise<void> => {
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    client.on("error", () => {});
    t.after(() => client.destroy());
    const [socket] = (await once(server, "connection")) as [net.Socket];
    const spec: MonitorConnectionSpec = {
      info: { remoteAddress: "127.0.0.1", remotePort: 1, localAddress: "127.0.0.1", localPort: 2 },
      preauth: { maxAuthTries: 6, publicKeyAlgorithms: [], loginGraceTime: 30 },
      settingsForUser: () => {
        throw new Error("no user may log in here");
      },
      methodsForUser: () => ({ enabled: ["publickey"] }),
      postauth: () => ({ maxSessions: 10, clientAlive: { interval: 0, countMax: 3 } }),
      write: (level, message) => lines.push(`${level}: ${message}`),
      preauthEnded: () => {},
      ended: (how) => void ended.push(how.reason ?? "ended"),
    };
    monitor.dispatch(socket, spec, { grantFor: () => undefined });
  };
  await serveOne();
  const deadline = Date.now() + 15_000;
  while (!lines.some((l) => l.includes("hostile worker outcomes")) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const text = lines.join("\n");
  assert.match(text, /refused a message from worker \d+: message without a valid id/);
  assert.match(text, /refused a message from worker \d+: unknown request "readFile"/);
  assert.match(
    text,
    /refused a message from worker \d+: malformed checkPassword request: .*unexpected field uid/,
  );
  assert.match(text, /readFile: unknown request/);
  assert.match(text, /other connection: connection \d+ is not this worker's/);
  assert.match(text, /sign: malformed request/, "200 bytes is no exchange hash: not even looked at");
  assert.match(text, /refusing the login of root on connection \d+: no authentication the monitor saw/);
  assert.match(text, /unearned login: answered false/);
  assert.ok(ended.length >= 1, "the connection it lied about is ended");
  // The monitor is still there and still hands out connections.
  assert.equal(monitor.children().workers.length, 1);
  await serveOne();
});
