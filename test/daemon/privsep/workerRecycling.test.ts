/**
 * Pre-auth workers are replaced once they have served their share of connections and are idle
 * (workerLoad.ts): the old process ends, a fresh one serves OpenSSH's ssh, nothing is logged as a crash,
 * and a worker with a connection in progress is left alone.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { once } from "node:events";
import { makeUserKey } from "../../helpers/authHelpers.js";
import { envWithoutAgent, runProgram } from "../../helpers/processes.js";
import { refusingConnectionSpec, startTestMonitor } from "../../helpers/privsepMonitor.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("a worker that served its share is replaced when idle, not while a connection is in progress", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-recycle-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // Nobody may log in: each ssh below is one whole pre-auth connection, refused.
  const { monitor, lines } = await startTestMonitor(dir, {
    workers: 1,
    spareSessions: 0,
    workerRecycling: { after: 2, idleMs: 100 },
  });
  t.after(() => monitor.stop());
  let ended = 0;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const spec = refusingConnectionSpec(lines, socket.remotePort!, () => void ended++);
    monitor.dispatch(socket, spec, { grantFor: () => undefined });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const userKey = makeUserKey(dir, "user", "ed25519").file;
  const ssh = () =>
    runProgram(
      "ssh",
      [
        ...["-F", "/dev/null", "-i", userKey, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"],
        ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-p", String(port)],
        "nobody@127.0.0.1",
        "true",
      ],
      { env: envWithoutAgent(), timeoutMs: 20_000 },
    );

  const first = monitor.children().workers[0]!;
  for (let i = 1; i <= 2; i++) {
    const r = await ssh();
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Permission denied \(publickey/, "the worker served the exchange");
    await until(`connection ${i} to end`, () => ended === i);
  }
  await until("the worker's replacement", () => monitor.children().workers[0] !== first);
  await until("the retired worker's exit", () => !running(first));
  assert.ok(lines.includes(`debug1: pre-auth worker ${first} retired after 2 connections`), lines.join("\n"));
  assert.ok(!lines.some((l) => l.startsWith("error:")), lines.join("\n"));

  // The fresh worker serves; with a connection still in progress it is not retired.
  const second = monitor.children().workers[0]!;
  const r = await ssh();
  assert.match(r.stderr, /Permission denied \(publickey/);
  await until("the third connection to end", () => ended === 3);
  const held = net.connect(port, "127.0.0.1");
  t.after(() => held.destroy());
  const [banner] = (await once(held, "data")) as [Buffer];
  assert.match(banner.toString("latin1"), /^SSH-2\.0-/);
  await sleep(400);
  assert.equal(monitor.children().workers[0], second, "not retired with a connection in progress");
  held.destroy();
  await until(
    "the replacement after the held connection ended",
    () => monitor.children().workers[0] !== second,
  );
});
