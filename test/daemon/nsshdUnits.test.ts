/**
 * The daemon's small parts on their own: MaxStartups' drop probabilities and throttling episodes
 * (sshd.c drop_connection's arithmetic), the log's levels, prefixes and escaping, the ListenAddress
 * selection by address family.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { createDaemonLog, escapeLogText, parseLogLevel } from "../../src/daemon/log.js";
import { listenSpecs } from "../../src/daemon/listen.js";
import { dropPercent, shouldDrop, StartupTracker } from "../../src/daemon/maxStartups.js";

const red = { start: 10, rate: 30, full: 100 };

test("MaxStartups: no drop below start, rate at start, linear to 100% at full", () => {
  assert.equal(dropPercent(red, 0), 0);
  assert.equal(dropPercent(red, 9), 0);
  assert.equal(dropPercent(red, 10), 30);
  assert.equal(dropPercent(red, 55), 65);
  assert.equal(dropPercent(red, 99), 99);
  assert.equal(dropPercent(red, 100), 100);
  assert.equal(dropPercent(red, 500), 100);
  // A single number: everything up to it, nothing beyond.
  const hard = { start: 5, rate: 30, full: 5 };
  assert.equal(dropPercent(hard, 4), 0);
  assert.equal(dropPercent(hard, 5), 100);
  assert.equal(
    shouldDrop(red, 10, () => 29),
    true,
  );
  assert.equal(
    shouldDrop(red, 10, () => 30),
    false,
  );
});

test("MaxStartups: a throttling episode begins at the first drop and ends below start", () => {
  const tracker = new StartupTracker(red, () => 0);
  const events: string[] = [];
  for (let i = 0; i < 10; i++)
    assert.equal(
      tracker.admit(() => events.push("begin")),
      null,
    );
  assert.equal(
    tracker.admit(() => events.push("begin")),
    10,
  );
  assert.equal(
    tracker.admit(() => events.push("begin")),
    10,
  );
  assert.deepEqual(events, ["begin"]);
  tracker.finished((_s, dropped) => events.push(`end ${dropped}`));
  assert.deepEqual(events, ["begin", "end 2"]);
  assert.equal(tracker.unauthenticated, 9);
});

test("log: LogLevel filters, sshd's prefixes, control characters escaped, -E appends", async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-log-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "log");
  fs.writeFileSync(file, "old\n");
  const log = createDaemonLog({ level: "VERBOSE", destination: { kind: "file", path: file } });
  log.info("Server listening on 127.0.0.1 port 2222.");
  log.verbose("Connection from x");
  log.debug1("hidden at VERBOSE");
  log.error("bad thing");
  log.withSuffix(" [preauth]").info("Postponed publickey");
  log.info("forged\nAccepted publickey for root");
  log.setLevel("DEBUG2");
  log.debug2("now shown");
  log.debug3("still hidden");
  await log.close();
  assert.equal(
    fs.readFileSync(file, "utf8"),
    [
      "old",
      "Server listening on 127.0.0.1 port 2222.",
      "Connection from x",
      "error: bad thing",
      "Postponed publickey [preauth]",
      "forged\\012Accepted publickey for root",
      "debug2: now shown",
      "",
    ].join("\n"),
  );
  assert.equal(escapeLogText("a\tb\x1b[31m"), "a\tb\\033[31m");
  assert.equal(parseLogLevel("debug"), "DEBUG");
  assert.equal(parseLogLevel("LOUD"), undefined);
});

test("listen: AddressFamily keeps the addresses of its family", () => {
  const all = [
    { host: "::", port: 22 },
    { host: "0.0.0.0", port: 22 },
    { host: "0.0.0.0", port: 22 },
  ];
  assert.deepEqual(listenSpecs(all, "any"), all.slice(0, 2));
  assert.deepEqual(listenSpecs(all, "inet"), [{ host: "0.0.0.0", port: 22 }]);
  assert.deepEqual(listenSpecs(all, "inet6"), [{ host: "::", port: 22 }]);
});
