/**
 * nsshd's life as a service: without -D it detaches (the parent exits 0 once the daemon listens) and
 * writes its PidFile, which SIGTERM removes; SIGHUP re-reads the configuration for new connections
 * while an open session goes on.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { freePort } from "../helpers/ports.js";
import { envWithoutAgent } from "../helpers/processes.js";
import {
  alive,
  makeNsshdFixture,
  readPid,
  runNsshd,
  runSsh,
  sshArgs,
  startNsshd,
} from "../helpers/nsshdProcess.js";

async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("nsshd without -D detaches, writes its PidFile, and SIGTERM removes it", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const logFile = path.join(fx.dir, "daemon.log");
  const start = await runNsshd(["-f", fx.configFile, "-E", logFile]);
  // The parent returns once the daemon listens: a login works at once.
  assert.equal(start.status, 0, start.stderr);
  const pid = readPid(fx.pidFile);
  assert.ok(pid !== null, "PidFile written");
  assert.ok(alive(pid), "the daemon runs after its parent exited");
  const r = await runSsh(fx, "id -un");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "root\n");
  process.kill(pid, "SIGTERM");
  await waitUntil("the daemon exits", () => !alive(pid));
  assert.equal(fs.existsSync(fx.pidFile), false, "PidFile removed");
  const log = fs.readFileSync(logFile, "utf8");
  assert.match(log, /Server listening on 127\.0\.0\.1 port \d+\./);
  assert.match(log, /Received signal 15; terminating\./);
});

test("nsshd without -D: a port in use fails the start with sshd's messages and status", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const first = await startNsshd(fx);
  assert.ok(first.process.pid);
  const second = await runNsshd(["-f", fx.configFile, "-e"]);
  assert.equal(second.status, 255);
  assert.match(
    second.stderr,
    new RegExp(`Bind to port ${fx.port} on 127\\.0\\.0\\.1 failed: Address already in use\\.`),
  );
  assert.match(second.stderr, /Cannot bind any address/);
});

test("SIGHUP: new connections get the edited config, an open session keeps working", async (t) => {
  const fx = await makeNsshdFixture(["LogLevel VERBOSE"]);
  t.after(() => fx.remove());
  const banner = path.join(fx.dir, "banner");
  fs.writeFileSync(banner, "Welcome to the second configuration\n");
  const d = await startNsshd(fx);
  // A session that stays open across the reload: it reads a line from us, then answers.
  const open = spawn("ssh", [...sshArgs(fx), "root@127.0.0.1", "echo started; read line; echo got $line"], {
    env: envWithoutAgent(),
    stdio: ["pipe", "pipe", "pipe"],
  });
  fx.processes.push(open);
  let out = "";
  open.stdout.on("data", (b: Buffer) => (out += b.toString()));
  const openExit = new Promise<number | null>((resolve) => open.once("exit", (code) => resolve(code)));
  await waitUntil("the open session started", () => out.includes("started"));

  const before = await runSsh(fx, "echo before", { sshOptions: ["-o", "LogLevel=INFO"] });
  assert.equal(before.status, 0, before.stderr);
  assert.doesNotMatch(before.stderr, /second configuration/);

  fx.writeConfig(["LogLevel VERBOSE", `Banner ${banner}`, "ForceCommand echo forced"]);
  d.process.kill("SIGHUP");
  // The reload is done when the daemon says it listens again (as sshd's re-executed process does).
  await d.waitForLog(/Received SIGHUP; restarting\.\n(.*\n)*Server listening on/);

  const after = await runSsh(fx, "echo asked", { sshOptions: ["-o", "LogLevel=INFO"] });
  assert.equal(after.status, 0, after.stderr);
  assert.match(after.stderr, /Welcome to the second configuration/);
  assert.equal(after.stdout, "forced\n");

  open.stdin.end("hello\n");
  assert.equal(await openExit, 0);
  assert.equal(out, "started\ngot hello\n");
});

test("SIGHUP with a broken config keeps the one in force", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const d = await startNsshd(fx);
  fx.writeConfig(["NoSuchKeyword 1"]);
  d.process.kill("SIGHUP");
  await d.waitForLog(/Bad configuration option: NoSuchKeyword.*keeping the configuration in force/);
  const r = await runSsh(fx, "echo still");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "still\n");
});

test("SIGHUP: a Port added to the config is bound, the old one kept", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const d = await startNsshd(fx);
  const second = await freePort();
  fx.writeConfig([`Port ${second}`]);
  d.process.kill("SIGHUP");
  await d.waitForLog(new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${second}\\.`));
  // The kept port is announced again (as sshd's re-executed process does), not bound again.
  assert.equal(
    (d.stderr().match(new RegExp(`listening on 127\\.0\\.0\\.1 port ${fx.port}\\.`, "g")) ?? []).length,
    2,
  );
  assert.doesNotMatch(d.stderr(), /Bind to port/);
  for (const port of [fx.port, second]) {
    const r = await runSsh({ ...fx, port }, "echo ok");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "ok\n");
  }
});
