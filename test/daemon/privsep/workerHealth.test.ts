import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { refusingConnectionSpec, startTestMonitor, type TestMonitor } from "../../helpers/privsepMonitor.js";
import { until, withTimeout } from "../../helpers/scriptedPeer.js";

// A pre-auth worker that stops answering (its event loop or its channel stuck) is killed and replaced, and
// the worker that replaces one that died serves the very next connection.

interface Served {
  /** The first line the server sent ("" if the connection ended first). */
  firstLine: Promise<string>;
  closed: Promise<void>;
}

/** Accept one TCP connection and give it to the monitor as coming from `remotePort`. */
async function serve(
  t: { after(fn: () => void): void },
  tm: TestMonitor,
  remotePort: number,
  ended: string[],
): Promise<Served> {
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  client.on("error", () => {});
  t.after(() => client.destroy());
  let text = "";
  const firstLine = new Promise<string>((resolve) => {
    client.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")).trim());
    });
    client.on("close", () => resolve(""));
  });
  const closed = new Promise<void>((resolve) => client.on("close", () => resolve()));
  client.write("SSH-2.0-OpenSSH_9.2p1 test\r\n");
  const [socket] = (await once(server, "connection")) as [net.Socket];
  tm.monitor.dispatch(
    socket,
    refusingConnectionSpec(tm.lines, remotePort, (reason) => void ended.push(reason)),
    { grantFor: () => undefined },
  );
  return { firstLine, closed };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-workerhealth-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("a worker that stops answering is killed, its connection ended, and another serves", async (t) => {
  const tm = await startTestMonitor(tempDir(t), {
    workers: 1,
    spareSessions: 0,
    workerEntry: new URL("../../helpers/freezingWorker.js", import.meta.url),
    workerWatch: { intervalMs: 100, timeoutMs: 1000 },
  });
  t.after(() => tm.monitor.stop());
  const [frozen] = tm.monitor.children().workers;
  const ended: string[] = [];
  const stuck = await serve(t, tm, 1, ended);
  // Well before LoginGraceTime (30 s here), which would end it too.
  await withTimeout(stuck.closed, 10_000, "the stuck worker's connection to end");
  const text = tm.lines.join("\n");
  assert.match(text, new RegExp(`error: pre-auth worker ${frozen} did not answer for 1 s; killing it`));
  assert.match(text, new RegExp(`error: pre-auth worker ${frozen} exited \\(SIGKILL\\); starting another`));
  assert.deepEqual(ended, ["pre-auth worker died"]);
  const [replacement] = tm.monitor.children().workers;
  assert.ok(replacement !== undefined && replacement !== frozen, "a new worker took its place");
  const next = await serve(t, tm, 2, ended);
  assert.match(await withTimeout(next.firstLine, 10_000, "the server's version"), /^SSH-2\.0-/);
});

test("a worker that answers is left alone while its connection waits", async (t) => {
  const tm = await startTestMonitor(tempDir(t), {
    workers: 1,
    spareSessions: 0,
    workerWatch: { intervalMs: 100, timeoutMs: 1000 },
  });
  t.after(() => tm.monitor.stop());
  const [worker] = tm.monitor.children().workers;
  const served = await serve(t, tm, 3, []);
  assert.match(await withTimeout(served.firstLine, 10_000, "the server's version"), /^SSH-2\.0-/);
  // The client says nothing more; ten pings later the worker and its connection are still there.
  await new Promise((r) => setTimeout(r, 2000));
  assert.deepEqual(tm.monitor.children().workers, [worker]);
  assert.doesNotMatch(tm.lines.join("\n"), /did not answer/);
  const alive = await Promise.race([served.closed.then(() => false), Promise.resolve(true)]);
  assert.ok(alive, "the idle connection is still open");
});

test("the worker that replaces a dead one serves the next connection at once", async (t) => {
  const tm = await startTestMonitor(tempDir(t), { workers: 1, spareSessions: 0 });
  t.after(() => tm.monitor.stop());
  const [first] = tm.monitor.children().workers;
  process.kill(first!, "SIGKILL");
  await until(() => tm.monitor.children().workers[0] !== first, 15_000, "a replacement worker");
  // Given the connection before it said it is ready: it must still know the configuration.
  const served = await serve(t, tm, 4, []);
  assert.match(await withTimeout(served.firstLine, 10_000, "the server's version"), /^SSH-2\.0-/);
});
