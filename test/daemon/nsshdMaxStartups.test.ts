/**
 * MaxStartups 10:30:100 under 200 connections opened at once, against nsshd and against OpenSSH's sshd
 * with the same setting: both admit every connection up to 10 unauthenticated ones, drop at random
 * beyond, and never hold more than 100; each drop is logged; the daemon answers a normal login after.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { opensshAvailable, startOpenSshServer } from "../helpers/opensshServer.js";
import { makeNsshdFixture, runSsh, startNsshd } from "../helpers/nsshdProcess.js";

interface Flood {
  admitted: number;
  dropped: number;
}

/**
 * Open `count` connections at once and sort them by their first bytes: an SSH version line means admitted,
 * anything else (sshd's "Exceeded MaxStartups", or a close) dropped. All stay open until all are sorted.
 */
async function flood(port: number, count: number): Promise<Flood> {
  const sockets: net.Socket[] = [];
  const outcomes = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<"admitted" | "dropped">((resolve) => {
          const s = net.connect(port, "127.0.0.1");
          sockets.push(s);
          let data = "";
          s.on("data", (b: Buffer) => {
            data += b.toString("latin1");
            if (data.includes("\n")) resolve(data.startsWith("SSH-") ? "admitted" : "dropped");
          });
          s.on("error", () => resolve("dropped"));
          s.on("close", () => resolve(data.startsWith("SSH-") ? "admitted" : "dropped"));
        }),
    ),
  );
  for (const s of sockets) s.destroy();
  const admitted = outcomes.filter((o) => o === "admitted").length;
  return { admitted, dropped: count - admitted };
}

function assertRandomEarlyDrop(f: Flood, who: string): void {
  assert.ok(f.admitted >= 10, `${who}: the first 10 are always admitted (${f.admitted})`);
  assert.ok(f.admitted <= 100, `${who}: never more than 100 unauthenticated (${f.admitted})`);
  assert.ok(f.dropped >= 100, `${who}: at least 100 of 200 dropped (${f.dropped})`);
}

test("MaxStartups 10:30:100: nsshd drops 200 simultaneous connections as sshd does, then serves a login", async (t) => {
  const fx = await makeNsshdFixture(["MaxStartups 10:30:100", "LogLevel VERBOSE"]);
  t.after(() => fx.remove());
  const d = await startNsshd(fx);
  const f = await flood(fx.port, 200);
  assertRandomEarlyDrop(f, "nsshd");
  await d.waitForLog(/exited MaxStartups throttling after \d\d:\d\d:\d\d, \d+ connections dropped/);
  const log = d.stderr();
  assert.match(log, /beginning MaxStartups throttling/);
  const drops = [
    ...log.matchAll(
      /drop connection #(\d+) from \[127\.0\.0\.1\]:\d+ on \[127\.0\.0\.1\]:\d+ past MaxStartups/g,
    ),
  ];
  assert.equal(drops.length, f.dropped);
  for (const m of drops) {
    const n = Number(m[1]);
    assert.ok(n >= 10 && n <= 100, `dropped at ${n} unauthenticated`);
  }
  const summary = /exited MaxStartups throttling after [\d:]+, (\d+) connections dropped/.exec(log);
  assert.equal(Number(summary![1]), f.dropped);
  const r = await runSsh(fx, "echo responsive");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "responsive\n");
});

test("MaxStartups 10:30:100: OpenSSH's sshd, for comparison, drops within the same bounds", async (t) => {
  if (!opensshAvailable()) return t.skip("OpenSSH is not installed");
  const sshd = await startOpenSshServer(["MaxStartups 10:30:100"]);
  t.after(() => sshd.stop());
  const f = await flood(sshd.port, 200);
  assertRandomEarlyDrop(f, "sshd");
});
