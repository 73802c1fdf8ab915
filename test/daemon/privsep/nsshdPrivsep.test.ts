import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { once } from "node:events";
import { parsePrivateKey } from "../../../src/keys/index.js";
import { CHILD_ENTRY_FILE } from "../../../src/daemon/privsep/childProcesses.js";
import { readableByOthers } from "../../../src/daemon/privsep/privsepAccount.js";
import { makeNsshdFixture, sshArgs, startNsshd, type NsshdFixture } from "../../helpers/nsshdProcess.js";
import { createTestUser, isRoot, type TestUser } from "../../helpers/systemUsers.js";
import { runProgram } from "../../helpers/processes.js";

// Issue 6's "done when", against a running nsshd as root: the monitor is root, pre-auth workers are the
// unprivileged account, a user's session process is that user; the workers never hold the host key; a
// killed worker or session process takes only its own connections.

const skip = isRoot ? false : "needs root (useradd, identity changes)";

interface Proc {
  user: string;
  pid: number;
  ppid: number;
  args: string;
}

function children(ppid: number): Proc[] {
  const r = spawnSync("ps", ["-o", "user:32=,pid=,ppid=,args=", "--ppid", String(ppid)], {
    encoding: "utf8",
  });
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [user, pid, pp, ...args] = line.trim().split(/\s+/);
      return { user: user!, pid: Number(pid), ppid: Number(pp), args: args.join(" ") };
    });
}

async function until<T>(what: string, f: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A long-running login of `user` (stdin piped): resolves once the remote side printed "ready". */
async function longLogin(
  fx: NsshdFixture,
  user: TestUser,
  t: { after(f: () => void): void },
): Promise<ChildProcess & { out(): string }> {
  const ssh = spawn(
    "ssh",
    [
      ...sshArgs(fx),
      "-i",
      user.keyFile,
      "-p",
      String(fx.port),
      `${user.name}@127.0.0.1`,
      'echo ready; read line; echo "got $line"',
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  ) as ChildProcess & { out(): string };
  t.after(() => ssh.kill("SIGKILL"));
  let out = "";
  ssh.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  ssh.out = () => out;
  await until("the login to say ready", () => out.includes("ready"));
  return ssh;
}

async function setup(t: { after(f: () => void | Promise<void>): void }, extra: string[] = []) {
  const fx = await makeNsshdFixture(extra);
  t.after(() => fx.remove());
  // Each test user's own authorized_keys (the fixture's file is for the invoking user).
  const nsshd = await startNsshd(fx, ["-o", "AuthorizedKeysFile=.ssh/authorized_keys"]);
  const monitorPid = nsshd.process.pid!;
  await until(
    "two workers",
    () => children(monitorPid).filter((p) => p.args.endsWith("childMain.js worker")).length >= 1,
  );
  return { fx, nsshd, monitorPid };
}

function newUser(t: { after(f: () => void): void }): TestUser {
  const u = createTestUser({ prefix: "nsshp" });
  t.after(() => u.remove());
  u.authorize([u.publicKeyLine]);
  return u;
}

test(
  "ps: the monitor is root, workers are nsshd, a user's session process is that user",
  { skip },
  async (t) => {
    const { fx, monitorPid } = await setup(t);
    const alice = newUser(t);
    const ssh = await longLogin(fx, alice, t);
    const procs = children(monitorPid);
    const me = spawnSync("ps", ["-o", "user=", "-p", String(monitorPid)], { encoding: "utf8" }).stdout.trim();
    assert.equal(me, "root");
    const workers = procs.filter((p) => p.args.endsWith("childMain.js worker"));
    assert.ok(workers.length >= 1, JSON.stringify(procs));
    // A checkout others cannot read (under /root, say) makes nsshd run its workers as root, loudly.
    const expected = readableByOthers(CHILD_ENTRY_FILE) ? "nsshd" : "root";
    for (const w of workers) assert.equal(w.user, expected);
    const session = procs.find((p) => p.args.endsWith("childMain.js session") && p.user === alice.name);
    assert.ok(session, `no session process of ${alice.name}: ${JSON.stringify(procs)}`);
    // The shell itself runs as the user, under the session process.
    const shell = children(session.pid).find((p) => p.user === alice.name);
    assert.ok(shell, "the user's program runs under the user's session process");
    ssh.stdin!.end("bye\n");
    const [code] = (await once(ssh, "exit")) as [number];
    assert.equal(code, 0);
    assert.match(ssh.out(), /got bye/);
  },
);

/**
 * Does process `pid`'s memory hold `needle`? Every readable mapping read through /proc/PID/mem: what a core
 * dump of it would hold (gcore of a Node process takes too long for a test: V8 maps gigabytes).
 */
function memoryHolds(pid: number, needle: Buffer): boolean {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, "utf8").split("\n").filter(Boolean);
  const fd = fs.openSync(`/proc/${pid}/mem`, "r");
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (const line of maps) {
      const [range, perms] = line.split(/\s+/);
      if (!perms?.startsWith("r")) continue;
      const [start, end] = range!.split("-").map((h) => parseInt(h, 16)) as [number, number];
      let carry = Buffer.alloc(0);
      for (let at = start; at < end; at += chunk.length) {
        let n: number;
        try {
          n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, end - at), at);
        } catch {
          break; // a mapping the kernel will not let us read ([vvar] and the like)
        }
        const window = Buffer.concat([carry, chunk.subarray(0, n)]);
        if (window.indexOf(needle) !== -1) return true;
        carry = Buffer.from(window.subarray(Math.max(0, window.length - needle.length + 1)));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return false;
}

test("a worker's memory never holds the host private key (the monitor's does)", { skip }, async (t) => {
  const { fx, monitorPid } = await setup(t);
  const alice = newUser(t);
  const ssh = await longLogin(fx, alice, t);
  const key = parsePrivateKey(fs.readFileSync(path.join(fx.dir, "host_ed25519")));
  // The 32-byte ed25519 seed is the end of its PKCS#8 encoding.
  const seed = key.keyObject.export({ format: "der", type: "pkcs8" }).subarray(-32);
  const workers = children(monitorPid).filter((p) => p.args.endsWith("childMain.js worker"));
  for (const w of workers) {
    assert.equal(memoryHolds(w.pid, seed), false, `the host key's private half is in worker ${w.pid}`);
    assert.ok(!fs.readFileSync(`/proc/${w.pid}/environ`).includes(seed.toString("base64")));
  }
  const session = children(monitorPid).find((p) => p.user === alice.name)!;
  assert.equal(memoryHolds(session.pid, seed), false, "the host key's private half is in a session process");
  assert.ok(memoryHolds(monitorPid, seed), "the search finds the key where it is: the monitor");
  ssh.kill("SIGKILL");
});

test("kill -9 of a worker ends only its own handshakes; new logins work", { skip }, async (t) => {
  const { fx, monitorPid } = await setup(t, ["MaxStartups 200"]);
  // 50 handshakes in progress: each has sent its version line and got the server's.
  const sockets = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const s = net.connect(fx.port, "127.0.0.1");
      t.after(() => s.destroy());
      await once(s, "connect");
      s.write("SSH-2.0-OpenSSH_9.2p1 test\r\n");
      await once(s, "data");
      const state = { closed: false };
      s.on("close", () => (state.closed = true));
      s.on("error", () => {});
      return state;
    }),
  );
  const workers = children(monitorPid).filter((p) => p.args.endsWith("childMain.js worker"));
  assert.ok(workers.length >= 2, "one worker per core (this test wants two)");
  process.kill(workers[0]!.pid, "SIGKILL");
  await until("the dead worker's connections to close", () => sockets.some((s) => s.closed));
  await new Promise((r) => setTimeout(r, 500));
  const closed = sockets.filter((s) => s.closed).length;
  assert.ok(closed > 0 && closed < 50, `${closed} of 50 handshakes ended`);
  await until("a replacement worker", () => {
    const now = children(monitorPid).filter((p) => p.args.endsWith("childMain.js worker"));
    return now.length === workers.length && !now.some((p) => p.pid === workers[0]!.pid);
  });
  const alice = newUser(t);
  for (let i = 0; i < 4; i++) {
    const r = await runProgram(
      "ssh",
      [...sshArgs(fx), "-i", alice.keyFile, "-p", String(fx.port), `${alice.name}@127.0.0.1`, "id -un"],
      { timeoutMs: 15_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), alice.name);
  }
});

test("kill -9 of a user's session process ends that user's connections only", { skip }, async (t) => {
  const { fx, monitorPid } = await setup(t);
  const alice = newUser(t);
  const bob = newUser(t);
  const a = await longLogin(fx, alice, t);
  const b = await longLogin(fx, bob, t);
  const aliceSession = children(monitorPid).find(
    (p) => p.user === alice.name && p.args.endsWith("childMain.js session"),
  )!;
  process.kill(aliceSession.pid, "SIGKILL");
  const [aliceCode] = (await once(a, "exit")) as [number];
  assert.equal(aliceCode, 255, "alice's ssh lost its connection");
  b.stdin!.end("still here\n");
  const [bobCode] = (await once(b, "exit")) as [number];
  assert.equal(bobCode, 0);
  assert.match(b.out(), /got still here/);
});
