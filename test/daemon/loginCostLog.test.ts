/**
 * What a login costs in log traffic between nsshd's processes: children send only the lines the monitor's
 * LogLevel writes, as one-way notes, and learn a new LogLevel on SIGHUP; the lines that are written are
 * the same as before.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { childLogRank, createDaemonLog, watchChildLogRank } from "../../src/daemon/log.js";
import { IpcPeer, type IpcChannel } from "../../src/daemon/privsep/ipc.js";
import { makeNsshdFixture, runSsh, startNsshd } from "../helpers/nsshdProcess.js";
import { isRoot } from "../helpers/systemUsers.js";

/** Two ends of an in-process channel with Node's IPC delivery: asynchronous, structured clones. */
function channelPair(): [IpcChannel & { sent: unknown[] }, IpcChannel & { sent: unknown[] }] {
  const make = (): EventEmitter & IpcChannel & { sent: unknown[]; other?: EventEmitter } => {
    const e = new EventEmitter() as EventEmitter & IpcChannel & { sent: unknown[]; other?: EventEmitter };
    e.sent = [];
    e.send = (message: unknown) => {
      e.sent.push(message);
      const copy = structuredClone(message);
      setImmediate(() => e.other!.emit("message", copy, undefined));
      return true;
    };
    return e;
  };
  const a = make();
  const b = make();
  a.other = b;
  b.other = a;
  return [a, b];
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(() => setImmediate(r)));

test("IpcPeer notes: a log line is handled and never answered; other notes are refused", async () => {
  const [childEnd, monitorEnd] = channelPair();
  const refusedAtMonitor: string[] = [];
  const child = new IpcPeer(childEnd, { onRefused: () => {} });
  const monitor = new IpcPeer(monitorEnd, { onRefused: (r) => refusedAtMonitor.push(r) });
  const lines: string[] = [];
  monitor.handle(
    "log",
    (v) => v as { message: string },
    ({ message }) => void lines.push(message),
  );
  monitor.handle(
    "closed",
    (v) => v,
    () => true,
  );
  child.notify("log", { level: "info", message: "hello" });
  await tick();
  assert.deepEqual(lines, ["hello"]);
  assert.equal(monitorEnd.sent.length, 0, "no answer to a note");
  child.notify("closed", { conn: 1 });
  await tick();
  assert.equal(refusedAtMonitor.length, 1, "only log lines may come as notes");
  assert.match(refusedAtMonitor[0]!, /unknown note "closed"/);
  // Requests still work alongside.
  assert.equal(await child.request("closed", { conn: 1 }, (v) => v), true);
});

test("IpcPeer: a child sends only the log levels the monitor writes, and follows a change", async () => {
  const [childEnd, monitorEnd] = channelPair();
  const refused: string[] = [];
  const child = new IpcPeer(childEnd, { onRefused: (r) => refused.push(r), logRank: 3 });
  const monitor = new IpcPeer(monitorEnd, { onRefused: () => {} });
  assert.equal(child.logs("info"), true);
  assert.equal(child.logs("error"), true);
  assert.equal(child.logs("verbose"), false);
  assert.equal(child.logs("debug3"), false);
  monitor.sendLogRank(7);
  await tick();
  assert.equal(child.logs("debug3"), true);
  monitorEnd.send({ t: "note", op: "logRank", args: { rank: 99 } });
  await tick();
  assert.equal(refused.length, 1, "a rank out of range is refused");
  assert.equal(child.logs("debug3"), true, "and changes nothing");
  // Without a rank given, every line goes (a test's own DaemonLog sees everything).
  assert.equal(new IpcPeer(channelPair()[0], { onRefused: () => {} }).logs("debug3"), true);
});

test("childLogRank: the most verbose live daemon log, followed on setLevel and close", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-logrank-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const before = childLogRank();
  const seen: number[] = [];
  const stop = watchChildLogRank((r) => seen.push(r));
  t.after(stop);
  const log = createDaemonLog({ level: "INFO", destination: { kind: "file", path: path.join(dir, "log") } });
  if (before === 7 && seen.length === 0) {
    // No other daemon log in this process: INFO is the rank now.
    assert.equal(childLogRank(), 3);
  }
  log.setLevel("DEBUG3");
  assert.equal(childLogRank(), 7);
  log.setLevel("VERBOSE");
  await log.close();
  assert.equal(childLogRank(), before);
  assert.ok(seen.includes(7), "a change to DEBUG3 was announced");
});

test(
  "nsshd: worker lines appear at DEBUG3, not at INFO, and a SIGHUP to DEBUG3 reaches the running workers",
  { skip: !isRoot && "privilege separation needs root" },
  async (t) => {
    const fx = await makeNsshdFixture(["LogLevel INFO"]);
    t.after(() => fx.remove());
    const d = await startNsshd(fx);
    const first = await runSsh(fx, "echo one");
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.trim(), "one");
    await d.waitForLog(/Accepted publickey for root from 127\.0\.0\.1/);
    assert.doesNotMatch(d.stderr(), /SSH2_MSG_KEXINIT received/, "no debug line at INFO");

    fx.writeConfig(["LogLevel DEBUG3"]);
    d.process.kill("SIGHUP");
    // The reload is done when the kept socket is announced again.
    await d.waitForLog(/Received SIGHUP[\s\S]*Server listening on/);
    const second = await runSsh(fx, "echo two");
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout.trim(), "two");
    // The pre-auth worker's own debug lines, as sshd words them (" [preauth]").
    await d.waitForLog(/debug1: SSH2_MSG_KEXINIT received \[preauth\]/);
    await d.waitForLog(/debug3: receive packet: type \d+ \[preauth\]/);
  },
);
