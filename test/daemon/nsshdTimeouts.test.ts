/**
 * The daemon's clocks and counters against real peers: LoginGraceTime drops a silent connection,
 * MaxAuthTries ends a client that offers too many keys, ClientAliveInterval/CountMax end a client that
 * stopped answering (OpenSSH's ssh frozen with SIGSTOP).
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { test } from "node:test";
import { envWithoutAgent } from "../helpers/processes.js";
import { makeNsshdFixture, runSsh, sshArgs, startNsshd } from "../helpers/nsshdProcess.js";

test("LoginGraceTime: a connection that does not authenticate in time is dropped and logged", async (t) => {
  const fx = await makeNsshdFixture(["LoginGraceTime 1"]);
  t.after(() => fx.remove());
  const d = await startNsshd(fx);
  const socket = net.connect(fx.port, "127.0.0.1");
  t.after(() => socket.destroy());
  let received = "";
  socket.on("data", (b: Buffer) => (received += b.toString("latin1")));
  socket.write("SSH-2.0-silent_test\r\n");
  await new Promise<void>((resolve) => socket.once("close", () => resolve()));
  assert.match(received, /^SSH-2\.0-/);
  // The worker ends the connection and sends the monitor its log line: the line may follow the close.
  await d.waitForLog(/Timeout before authentication for 127\.0\.0\.1 port \d+/);
});

test("MaxAuthTries: too many refused keys end the connection as sshd does", async (t) => {
  const fx = await makeNsshdFixture(["MaxAuthTries 2"]);
  t.after(() => fx.remove());
  const d = await startNsshd(fx);
  // Three keys that are not authorized, offered before the one that is.
  const keys = [1, 2, 3].map((i) => {
    const k = path.join(fx.dir, `other_${i}`);
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", k]);
    return k;
  });
  const r = await runSsh(fx, "true", {
    sshOptions: keys.flatMap((k) => ["-i", k]),
  });
  assert.equal(r.status, 255);
  assert.match(r.stderr, /Too many authentication failures|Permission denied/);
  await d.waitForLog(/maximum authentication attempts exceeded for root from 127\.0\.0\.1 port \d+ ssh2/);
});

test("ClientAliveInterval/CountMax: a client that stops answering is disconnected", async (t) => {
  const fx = await makeNsshdFixture(["ClientAliveInterval 1", "ClientAliveCountMax 2"]);
  t.after(() => fx.remove());
  const d = await startNsshd(fx);
  const ssh = spawn("ssh", [...sshArgs(fx), "root@127.0.0.1", "echo up; sleep 30"], {
    env: envWithoutAgent(),
    stdio: ["ignore", "pipe", "ignore"],
  });
  fx.processes.push(ssh);
  await new Promise<void>((resolve) => ssh.stdout.on("data", () => resolve()));
  // A frozen client: the kernel still acknowledges TCP, but nothing answers keepalive@openssh.com.
  ssh.kill("SIGSTOP");
  try {
    await d.waitForLog(/Timeout, client not responding from user root 127\.0\.0\.1 port \d+/, 15_000);
  } finally {
    ssh.kill("SIGKILL");
  }
});
