/**
 * nsshd's monitor runs with its own V8 options (src/cli/nsshd/monitorRuntime.ts): started with -D it starts
 * again in the same process (execv) with them, the detaching start gives them to its child, and an option
 * the user set is kept. The daemon then serves OpenSSH's ssh as before.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { MONITOR_V8_OPTIONS, missingMonitorOptions } from "../../src/cli/nsshd/monitorRuntime.js";
import { nativeAddonPath } from "../../src/daemon/loginExec.js";
import { alive, makeNsshdFixture, readPid, runNsshd, runSsh, startNsshd } from "../helpers/nsshdProcess.js";

/** Without the native helper (no C compiler at install) nsshd runs as started: nothing to check. */
const skip = nativeAddonPath("nssh-reexec.node") === null && "native/build/nssh-reexec.node is not built";
const commandLine = (pid: number): string[] => fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");

test("missingMonitorOptions: an option given on the command line or in NODE_OPTIONS, with any value, counts", () => {
  assert.deepEqual(missingMonitorOptions([], ""), [...MONITOR_V8_OPTIONS]);
  assert.deepEqual(missingMonitorOptions(["--max-semi-space-size=4"], ""), []);
  assert.deepEqual(missingMonitorOptions(["--inspect"], "--trace-gc --max-semi-space-size=8"), []);
});

test(
  "nsshd -D: the same process, started again with the monitor's options, serves OpenSSH's ssh",
  { skip },
  async (t) => {
    const fx = await makeNsshdFixture();
    t.after(() => fx.remove());
    const d = await startNsshd(fx);
    const argv = commandLine(d.process.pid!);
    for (const option of MONITOR_V8_OPTIONS) assert.ok(argv.includes(option), argv.join(" "));
    // The PidFile is written once the sockets listen, just after the "Server listening" line (as sshd does).
    const deadline = Date.now() + 10_000;
    while (readPid(fx.pidFile) === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(readPid(fx.pidFile), d.process.pid, "the PidFile names the process we started");
    const r = await runSsh(fx, "echo served");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "served\n");
  },
);

test("nsshd without -D: the detached daemon has the monitor's options", { skip }, async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const start = await runNsshd(["-f", fx.configFile, "-E", `${fx.dir}/log`]);
  assert.equal(start.status, 0, start.stderr);
  const pid = readPid(fx.pidFile);
  assert.ok(pid !== null && alive(pid), "the daemon runs");
  const argv = commandLine(pid);
  for (const option of MONITOR_V8_OPTIONS) assert.ok(argv.includes(option), argv.join(" "));
  const r = await runSsh(fx, "echo detached");
  assert.equal(r.stdout, "detached\n", r.stderr);
});
