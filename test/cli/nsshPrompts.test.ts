/**
 * nssh's prompts against a real sshd: a passphrase-protected key ("Enter passphrase for key '...': "
 * through SSH_ASKPASS), password and keyboard-interactive logins of a throwaway PAM user typed by sshpass
 * on nssh's terminal ("user@host's password: "), NumberOfPasswordPrompts, PreferredAuthentications,
 * IdentitiesOnly and BatchMode.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { sshpassAvailable } from "../helpers/authHelpers.js";
import { runProgram } from "../helpers/processes.js";
import {
  NSSH,
  nsshSkip,
  runNssh,
  startNsshWorld,
  writeScript,
  type NsshWorld,
} from "../helpers/nsshFixtures.js";

describe("nssh: passphrases and passwords", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  let protectedKey: string;
  let promptLog: string;
  let askpass: string;
  before(async () => {
    w = await startNsshWorld([], { pam: true });
    protectedKey = path.join(w.dir, "id_protected");
    const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "correct horse", "-f", protectedKey]);
    assert.equal(r.status, 0);
    w.sshd.setAuthorizedKeys([fs.readFileSync(protectedKey + ".pub", "utf8").trim()]);
    promptLog = path.join(w.dir, "prompts");
    askpass = writeScript(
      w.dir,
      "askpass.sh",
      `#!/bin/sh\nprintf '%s\\n' "$1" >> '${promptLog}'\nprintf '%s\\n' "$ASKPASS_ANSWER"\n`,
    );
  });
  after(async () => {
    await w?.stop();
  });
  const base = (extra: string[]) => [
    "-F",
    "none",
    "-o",
    `UserKnownHostsFile=${w.knownHosts}`,
    "-o",
    "IdentitiesOnly=yes",
    "-p",
    String(w.sshd.port),
    "-l",
    w.user.name,
    ...extra,
    "127.0.0.1",
  ];
  /** nssh with `extra` flags running `command`, its prompts answered `answer` by the logging askpass. */
  function runAsked(extra: string[], command: string, answer: string) {
    fs.rmSync(promptLog, { force: true });
    const env = w.env({ SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", ASKPASS_ANSWER: answer });
    return runNssh([...base(extra), command], { env });
  }
  /** nssh -v logging in with `method`, the user's password typed on its terminal by sshpass. */
  function runWithSshpass(method: string, command: string) {
    return runProgram(
      "sshpass",
      [
        "-p",
        w.user.password,
        process.execPath,
        NSSH,
        ...base(["-o", `PreferredAuthentications=${method}`, "-v"]),
        command,
      ],
      { env: w.env(), timeoutMs: 20_000 },
    );
  }

  test("a passphrase-protected key asks for its passphrase and logs in", async () => {
    const r = await runAsked(
      ["-i", protectedKey, "-o", "PreferredAuthentications=publickey"],
      "echo key-ok",
      "correct horse",
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "key-ok\n");
    assert.equal(fs.readFileSync(promptLog, "utf8"), `Enter passphrase for key '${protectedKey}': \n`);
  });

  test("a wrong passphrase is asked NumberOfPasswordPrompts times, then the key is skipped", async () => {
    const r = await runAsked(
      ["-i", protectedKey, "-o", "PreferredAuthentications=publickey", "-o", "NumberOfPasswordPrompts=2"],
      "true",
      "wrong",
    );
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Permission denied \(publickey/);
    assert.equal(fs.readFileSync(promptLog, "utf8").split("\n").filter(Boolean).length, 2);
  });

  test(
    "password authentication through the prompt, typed by sshpass",
    { skip: !sshpassAvailable() },
    async () => {
      const r = await runWithSshpass("password", "echo pw-ok");
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /pw-ok/);
      assert.match(r.stderr, /Authenticated to 127\.0\.0\.1 \(\[127\.0\.0\.1\]:\d+\) using "password"\./);
    },
  );

  test("the password prompt is ssh's, and a wrong password is asked again", async () => {
    const r = await runAsked(
      ["-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=2"],
      "true",
      "not-the-password",
    );
    assert.equal(r.status, 255, r.stderr);
    const prompt = `${w.user.name}@127.0.0.1's password: `;
    assert.equal(fs.readFileSync(promptLog, "utf8"), `${prompt}\n${prompt}\n`);
    assert.match(r.stderr, /Permission denied, please try again\./);
    assert.match(r.stderr, new RegExp(`${w.user.name}@127\\.0\\.0\\.1: Permission denied \\(`));
  });

  test("keyboard-interactive (PAM) through sshpass", { skip: !sshpassAvailable() }, async () => {
    const r = await runWithSshpass("keyboard-interactive", "echo kbd-ok");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /kbd-ok/);
    assert.match(r.stderr, /using "keyboard-interactive"/);
  });

  test("BatchMode never prompts: password-only login fails at once", async () => {
    const r = await runAsked(
      ["-o", "PreferredAuthentications=password", "-o", "BatchMode=yes"],
      "true",
      w.user.password,
    );
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Permission denied/);
    assert.equal(fs.existsSync(promptLog), false);
  });

  test("IdentitiesOnly with a different key file: that key only, then the password", async () => {
    const r = await runAsked(
      ["-i", w.key.file, "-o", "PreferredAuthentications=publickey,password", "-v"],
      "echo fallback",
      w.user.password,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "fallback\n");
    assert.ok(r.stderr.includes(`Offering public key: ${w.key.file}`), r.stderr);
    assert.ok(!r.stderr.includes(protectedKey));
    assert.match(r.stderr, /using "password"/);
  });
});
