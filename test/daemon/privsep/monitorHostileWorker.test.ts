import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { refusingConnectionSpec, startTestMonitor } from "../../helpers/privsepMonitor.js";

// A worker that is compromised sends the monitor what the protocol does not allow. The monitor refuses each
// message, logs it, acts on none of them (no signature, no login), and keeps serving.

test("the monitor refuses and logs a hostile worker's messages, and keeps running", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-hostile-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { monitor, lines } = await startTestMonitor(dir, {
    workers: 1,
    spareSessions: 0,
    workerEntry: new URL("../../helpers/hostileWorker.js", import.meta.url),
  });
  t.after(() => monitor.stop());
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
    const spec = refusingConnectionSpec(lines, 1, (reason) => void ended.push(reason));
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
