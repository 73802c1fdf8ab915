/**
 * CheckHostIP (ssh_config(5), sshconnect.c check_host_key): the key is also looked up and recorded under
 * the server's address, with ssh's messages. ssh turns the check off for a loopback address, and test
 * servers listen on 127.0.0.1 only, so the decisions are driven through nssh's host key check with real
 * keys and files (the files then read by OpenSSH's ssh-keygen -F), and the end-to-end test shows that
 * against a loopback sshd nssh, like ssh, records the name only.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { createHostKeyCheck, type StrictMode } from "../../src/cli/nssh/hostKeyCheck.js";
import { CliLog } from "../../src/cli/nssh/log.js";
import type { PublicKey } from "../../src/keys/index.js";
import { parsePublicKeyLine } from "../../src/keys/publicKeyLine.js";
import { nsshSkip, runNssh, startNsshWorld, writeScript, type NsshWorld } from "../helpers/nsshFixtures.js";
import { envWithoutAgent } from "../helpers/processes.js";

const HOST = "server.example";
const IP = "192.0.2.7";

describe("nssh: CheckHostIP decisions (real keys and files)", () => {
  let dir: string;
  let knownHosts: string;
  let logFile: string;
  let key: PublicKey;
  let keyLine: string;
  let otherLine: string;
  let fp: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-checkhostip-"));
    for (const name of ["a", "b"]) {
      const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, name)]);
      assert.equal(r.status, 0);
    }
    keyLine = fs.readFileSync(path.join(dir, "a.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    otherLine = fs.readFileSync(path.join(dir, "b.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    key = parsePublicKeyLine(keyLine).key;
    fp = key.fingerprintSha256();
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    knownHosts = path.join(dir, `known_hosts_${Math.random().toString(36).slice(2)}`);
    logFile = path.join(dir, `log_${Math.random().toString(36).slice(2)}`);
  });

  const check = async (strict: StrictMode, hash = false): Promise<{ ok: boolean; log: string }> => {
    const log = new CliLog("INFO", logFile);
    const c = createHostKeyCheck({
      hostName: HOST,
      address: () => IP,
      checkHostIP: true,
      strict,
      userKnownHostsFiles: [knownHosts],
      globalKnownHostsFiles: [],
      hashKnownHosts: hash,
      batchMode: false,
      log,
    });
    const ok = await c.verify(key, { algorithm: "ssh-ed25519", rekey: false });
    log.close();
    return { ok, log: fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "" };
  };
  /** OpenSSH's own reader finds NAME in the file. */
  const sshKeygenFinds = (name: string): boolean =>
    spawnSync("ssh-keygen", ["-F", name, "-f", knownHosts]).status === 0;

  test("a new host: recorded as host,ip on one line (or two hashed lines), ssh's message", async () => {
    const r = await check("accept-new");
    assert.equal(r.ok, true);
    assert.equal(r.log, `Warning: Permanently added '${HOST},${IP}' (ED25519) to the list of known hosts.\n`);
    assert.equal(fs.readFileSync(knownHosts, "utf8"), `${HOST},${IP} ${keyLine}\n`);
    assert.ok(sshKeygenFinds(HOST) && sshKeygenFinds(IP));

    knownHosts += "-hashed";
    fs.rmSync(logFile);
    const hashed = await check("accept-new", true);
    assert.equal(hashed.ok, true);
    assert.match(hashed.log, new RegExp(`Permanently added '${HOST},${IP}' \\(ED25519\\)`));
    const lines = fs.readFileSync(knownHosts, "utf8").trim().split("\n");
    assert.equal(lines.length, 2);
    assert.ok(lines.every((l) => l.startsWith("|1|")));
    assert.ok(sshKeygenFinds(HOST) && sshKeygenFinds(IP));
  });

  test("a known host at an address not recorded: the address is added, once", async () => {
    fs.writeFileSync(knownHosts, `${HOST} ${keyLine}\n`);
    const r = await check("yes");
    assert.equal(r.ok, true);
    assert.equal(
      r.log,
      `Warning: Permanently added the ED25519 host key for IP address '${IP}' to the list of known hosts.\n`,
    );
    assert.equal(fs.readFileSync(knownHosts, "utf8"), `${HOST} ${keyLine}\n${IP} ${keyLine}\n`);
    fs.rmSync(logFile);
    const again = await check("yes");
    assert.equal(again.ok, true);
    assert.equal(again.log, "");
  });

  test("the address holds another key: strict checking refuses, no goes on, both with ssh's words", async () => {
    fs.writeFileSync(knownHosts, `${HOST} ${keyLine}\n${IP} ${otherLine}\n`);
    const warning =
      `Warning: the ED25519 host key for '${HOST}' differs from the key for the IP address '${IP}'\n` +
      `Offending key for IP in ${knownHosts}:2\nMatching host key in ${knownHosts}:1\n`;
    const strict = await check("yes");
    assert.equal(strict.ok, false);
    assert.equal(strict.log, warning + "Exiting, you have requested strict checking.\n");
    fs.rmSync(logFile);
    const lax = await check("no");
    assert.equal(lax.ok, true);
    assert.equal(lax.log, warning);
  });

  test("the address holds another key, ask: the (yes/no) question through SSH_ASKPASS", async () => {
    fs.writeFileSync(knownHosts, `${HOST} ${keyLine}\n${IP} ${otherLine}\n`);
    const promptLog = path.join(dir, "prompts");
    const askpass = writeScript(
      dir,
      "askpass.sh",
      `#!/bin/sh\nprintf '%s\\n' "$1" >> '${promptLog}'\necho no\n`,
    );
    const saved = { a: process.env.SSH_ASKPASS, r: process.env.SSH_ASKPASS_REQUIRE };
    process.env.SSH_ASKPASS = askpass;
    process.env.SSH_ASKPASS_REQUIRE = "force";
    try {
      const r = await check("ask");
      assert.equal(r.ok, false);
      assert.equal(
        fs.readFileSync(promptLog, "utf8"),
        `Warning: the ED25519 host key for '${HOST}' differs from the key for the IP address '${IP}'\n` +
          `Offending key for IP in ${knownHosts}:2\nMatching host key in ${knownHosts}:1\n` +
          `Are you sure you want to continue connecting (yes/no)? \n`,
      );
    } finally {
      if (saved.a === undefined) delete process.env.SSH_ASKPASS;
      else process.env.SSH_ASKPASS = saved.a;
      if (saved.r === undefined) delete process.env.SSH_ASKPASS_REQUIRE;
      else process.env.SSH_ASKPASS_REQUIRE = saved.r;
    }
  });

  test("the host key changed but the address still has it: the DNS SPOOFING warning, then refused", async () => {
    fs.writeFileSync(knownHosts, `${HOST} ${otherLine}\n${IP} ${keyLine}\n`);
    const r = await check("yes");
    assert.equal(r.ok, false);
    const lines = r.log.split("\n");
    assert.deepEqual(lines.slice(0, 10), [
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      "@       WARNING: POSSIBLE DNS SPOOFING DETECTED!          @",
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
      `The ED25519 host key for ${HOST} has changed,`,
      `and the key for the corresponding IP address ${IP}`,
      "is unchanged. This could either mean that",
      "DNS SPOOFING is happening or the IP address for the host",
      "and its host key have changed at the same time.",
      `Offending key for IP in ${knownHosts}:2`,
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
    ]);
    assert.match(r.log, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
    assert.ok(r.log.includes(fp));
    assert.match(r.log, /Host key verification failed\.\n$/);
  });
});

describe("nssh: CheckHostIP against a loopback sshd (off, as in ssh)", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  before(async () => {
    w = await startNsshWorld([], { trustHostKey: false });
  });
  after(async () => {
    await w?.stop();
  });

  test("CheckHostIP=yes with accept-new records the same known_hosts line as OpenSSH's ssh", async () => {
    const args = w
      .baseArgs(["-o", "CheckHostIP=yes", "-o", "StrictHostKeyChecking=accept-new"])
      .concat("127.0.0.1", "echo in");
    const ours = await runNssh(args, { env: w.env() });
    assert.equal(ours.status, 0, ours.stderr);
    const oursFile = fs.readFileSync(w.knownHosts, "utf8");
    assert.equal(oursFile, w.knownHostsLine + "\n");
    fs.rmSync(w.knownHosts);
    const theirs = await new Promise<number | null>((resolve, reject) => {
      const child = spawn("ssh", args, { stdio: "ignore", env: { ...envWithoutAgent(), HOME: w.home } });
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      child.once("error", reject);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    assert.equal(theirs, 0);
    assert.equal(fs.readFileSync(w.knownHosts, "utf8"), oursFile);
  });
});
