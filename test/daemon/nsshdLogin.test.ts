/**
 * nsshd in the foreground (-D -e), with a log file (-E), and in inetd mode (-i as ssh's ProxyCommand),
 * against OpenSSH's ssh: a key login of the test's user (root), and the log lines sshd writes.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { nativeAddonPath } from "../../src/daemon/loginExec.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";
import {
  makeNsshdFixture,
  NSSHD,
  runSsh,
  sshArgs,
  startNsshd,
  waitForFileText,
} from "../helpers/nsshdProcess.js";

const me = "root";

test("nsshd -D -e: OpenSSH's ssh logs in with a key; the log reads like sshd's", async (t) => {
  const fx = await makeNsshdFixture(["LogLevel DEBUG1"]);
  t.after(() => fx.remove());
  const d = await startNsshd(fx);
  const r = await runSsh(fx, "id -un; echo $SSH_CONNECTION");
  assert.equal(r.status, 0, `${r.stderr}\n--- nsshd:\n${d.stderr()}`);
  const [user, conn] = r.stdout.trim().split("\n");
  assert.equal(user, me);
  assert.match(conn!, new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${fx.port}$`));
  await d.waitForLog(/Disconnected from user root/);
  const log = d.stderr();
  const port = fx.port;
  for (const line of [
    `Server listening on 127.0.0.1 port ${port}.`,
    `on 127.0.0.1 port ${port} rdomain ""`,
    "debug1: Local version string SSH-2.0-",
    "debug1: Remote protocol version 2.0, remote software version OpenSSH_",
    "debug1: kex: algorithm: ",
    "debug1: SSH2_MSG_NEWKEYS sent [preauth]",
    "debug1: SSH2_MSG_NEWKEYS received [preauth]",
    "debug1: userauth-request for user root service ssh-connection method none [preauth]",
    "debug1: userauth-request for user root service ssh-connection method publickey [preauth]",
    "Accepted publickey for root from 127.0.0.1 port ",
    "debug1: server_input_channel_open: ctype session rchan 0 win ",
    "Received disconnect from 127.0.0.1 port ",
    "Disconnected from user root 127.0.0.1 port ",
  ]) {
    assert.ok(log.includes(line), `missing "${line}" in:\n${log}`);
  }
  assert.match(log, /Connection from 127\.0\.0\.1 port \d+ on 127\.0\.0\.1 port \d+ rdomain ""/);
  assert.match(log, /Accepted publickey for root from 127\.0\.0\.1 port \d+ ssh2: ED25519 SHA256:/);
});

test(
  "a descriptor nsshd inherited reaches none of its programs, with or without a terminal (sshd's closefrom)",
  {
    skip: nativeAddonPath("nssh-reexec.node") === null && "native/build/nssh-reexec.node is not built",
  },
  async (t) => {
    const fx = await makeNsshdFixture();
    t.after(() => fx.remove());
    const d = await startNsshd(fx, [], { inheritedPipe: true });
    // The shell's own descriptors, listed by a child (`; true` keeps the shell from exec'ing ls itself).
    const listing = "ls /proc/$$/fd; true";
    const piped = await runSsh(fx, listing);
    assert.equal(piped.status, 0, `${piped.stderr}\n--- nsshd:\n${d.stderr()}`);
    assert.deepEqual(piped.stdout.split(/\s+/).filter(Boolean), ["0", "1", "2"]);
    const terminal = await runSsh(fx, listing, { sshOptions: ["-tt"] });
    assert.equal(terminal.status, 0, terminal.stderr);
    assert.deepEqual(terminal.stdout.split(/\s+/).filter(Boolean), ["0", "1", "2"]);
  },
);

test("nsshd -E file: the log goes to the file, appended", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const logFile = path.join(fx.dir, "nsshd.log");
  fs.writeFileSync(logFile, "earlier line\n");
  const d = await startNsshd(fx, [`-E${logFile}`], { waitFor: null });
  await waitForFileText(logFile, "Server listening on");
  const r = await runSsh(fx, "echo hello");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "hello\n");
  await waitForFileText(logFile, "Accepted publickey");
  const text = fs.readFileSync(logFile, "utf8");
  assert.ok(text.startsWith("earlier line\n"), text);
  assert.match(text, new RegExp(`Server listening on 127\\.0\\.0\\.1 port ${fx.port}\\.`));
  assert.match(text, /Accepted publickey for root from 127\.0\.0\.1/);
  assert.equal(d.stderr(), "");
});

test("nsshd -i: one connection on stdin/stdout, as ssh's ProxyCommand", async (t) => {
  const fx = await makeNsshdFixture(["LogLevel VERBOSE"]);
  t.after(() => fx.remove());
  const logFile = path.join(fx.dir, "inetd.log");
  const proxy = `${process.execPath} ${NSSHD} -i -f ${fx.configFile} -E ${logFile}`;
  const r = await runProgram(
    "ssh",
    [...sshArgs(fx, ["-o", `ProxyCommand=${proxy}`]), "root@127.0.0.1", "id -un; echo $SSH_CONNECTION"],
    { env: envWithoutAgent(), timeoutMs: 20_000 },
  );
  assert.equal(r.status, 0, `${r.stderr}\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""}`);
  assert.equal(r.stdout, `${me}\nUNKNOWN 65535 UNKNOWN 65535\n`);
  const log = fs.readFileSync(logFile, "utf8");
  assert.match(log, /Connection from UNKNOWN port 65535 on UNKNOWN port 65535 rdomain ""/);
  assert.match(log, /Accepted publickey for root from UNKNOWN port 65535 ssh2/);
});

test("nsshd -i without -E or -e writes nothing on stderr (under inetd it may be the socket)", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const proxy = `${process.execPath} ${NSSHD} -i -f ${fx.configFile}`;
  const r = await runProgram(
    "ssh",
    [...sshArgs(fx, ["-o", `ProxyCommand=${proxy}`]), "root@127.0.0.1", "echo quiet"],
    { env: envWithoutAgent(), timeoutMs: 20_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "quiet\n");
  assert.equal(r.stderr, "");
});

test("Match blocks: Match Address sets the Banner, Match User the ForceCommand", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const banner = path.join(fx.dir, "banner");
  fs.writeFileSync(banner, "Local clients only\n");
  fx.writeConfig([
    "Match Address 127.0.0.0/8",
    `  Banner ${banner}`,
    "Match User root",
    "  ForceCommand echo matched-$SSH_ORIGINAL_COMMAND",
    "Match User nobody-else",
    "  ForceCommand echo wrong",
  ]);
  await startNsshd(fx);
  const r = await runSsh(fx, "hello", { sshOptions: ["-o", "LogLevel=INFO"] });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "matched-hello\n");
  assert.match(r.stderr, /Local clients only/);
});

test("PubkeyAcceptedAlgorithms: a key of another algorithm is refused", async (t) => {
  const fx = await makeNsshdFixture(["PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256"]);
  t.after(() => fx.remove());
  await startNsshd(fx);
  const r = await runSsh(fx, "true");
  assert.equal(r.status, 255);
  assert.match(r.stderr, /Permission denied \(publickey/);
});
