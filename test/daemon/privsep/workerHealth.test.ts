import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { refusingConnectionSpec, startTestMonitor, type TestMonitor } from "../../helpers/privsepMonitor.js";

// The worker that replaces one that died serves the very next connection.

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

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-workerhealth-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("the worker that replaces a dead one serves the next connection at once", async (t) => {
  const tm = await startTestMonitor(tempDir(t), { workers: 1, spareSessions: 0 });
  t.after(() => tm.monitor.stop());
  const [first] = tm.monitor.children().workers;
  process.kill(first!, "SIGKILL");
  await until("a replacement worker", () => tm.monitor.children().workers[0] !== first);
  // Given the connection before it said it is ready: it must still know the configuration.
  const served = await serve(t, tm, 4, []);
  assert.match(await served.firstLine, /^SSH-2\.0-/);
});
