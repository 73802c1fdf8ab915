/**
 * The embedded mode (the README's first command): nsshd started by a user who is not root, without -f,
 * creates its state folder (host keys ed25519, ecdsa, rsa; a commented sshd_config), listens on
 * 127.0.0.1, logs to stderr in the foreground, and lets only that user log in, with their own key.
 * Run as root, the test makes a throwaway user with useradd and starts nsshd as that user.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { freePort } from "../helpers/ports.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";
import { NSSHD } from "../helpers/nsshdProcess.js";
import { pamAvailable } from "../../src/daemon/pamTransaction.js";

const isRoot = process.getuid?.() === 0;

test(
  "embedded mode: a non-root user's nsshd serves that user only",
  { skip: !isRoot && "needs root for useradd" },
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-embedded-"));
    fs.chmodSync(dir, 0o755);
    const name = `nsshe${randomBytes(4).toString("hex")}`;
    const home = path.join(dir, "home");
    const add = spawnSync("useradd", ["-m", "-d", home, "-s", "/bin/sh", name], { encoding: "utf8" });
    assert.equal(add.status, 0, add.stderr);
    const stops: Array<() => Promise<void> | void> = [];
    t.after(async () => {
      for (const stop of stops.reverse()) await stop();
      spawnSync("userdel", ["-r", name], { encoding: "utf8" });
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const uid = Number(spawnSync("id", ["-u", name], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout.trim());
    const key = path.join(dir, "user_ed25519");
    assert.equal(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status, 0);
    fs.mkdirSync(path.join(home, ".ssh"), { mode: 0o700 });
    fs.copyFileSync(key + ".pub", path.join(home, ".ssh", "authorized_keys"));
    spawnSync("chown", ["-R", `${uid}:${gid}`, home]);

    const port = await freePort();
    const child = spawn(process.execPath, [NSSHD, "-D", "-p", String(port)], {
      uid,
      gid,
      cwd: home,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, USER: name, LOGNAME: name },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    stops.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    });
    let log = "";
    child.stderr!.on("data", (b: Buffer) => (log += b.toString()));
    const deadline = Date.now() + 20_000;
    while (!log.includes(`Server listening on 127.0.0.1 port ${port}.`)) {
      assert.ok(Date.now() < deadline && child.exitCode === null, `nsshd did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const state = path.join(home, ".local", "state", "nsshd");
    assert.equal(fs.statSync(state).mode & 0o777, 0o700);
    for (const f of ["ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key", "sshd_config"]) {
      assert.ok(fs.existsSync(path.join(state, f)), f);
    }
    assert.match(
      fs.readFileSync(path.join(state, "sshd_config"), "utf8"),
      /^# .*\n(.|\n)*^ListenAddress 127\.0\.0\.1$/m,
    );

    const ssh = (user: string): Promise<{ status: number | null; stdout: string; stderr: string }> =>
      runProgram(
        "ssh",
        [
          "-F",
          "/dev/null",
          "-i",
          key,
          "-o",
          "IdentitiesOnly=yes",
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          "UserKnownHostsFile=/dev/null",
          "-o",
          "LogLevel=ERROR",
          "-p",
          String(port),
          `${user}@127.0.0.1`,
          "id -un",
        ],
        { env: envWithoutAgent(), timeoutMs: 20_000 },
      );
    const mine = await ssh(name);
    assert.equal(mine.status, 0, `${mine.stderr}\n--- nsshd:\n${log}`);
    assert.equal(mine.stdout, `${name}\n`);
    // root's authorized_keys does not hold this key, but the point is that root is not served at all.
    const other = await ssh("root");
    assert.equal(other.status, 255);
    assert.match(other.stderr, /Permission denied/);
    assert.match(log, new RegExp(`Accepted publickey for ${name} from 127\\.0\\.0\\.1`));

    // The user's own password, through PAM, by a daemon that is not root (needs the native PAM helper).
    if (!pamAvailable()) return t.diagnostic("nssh-pam-helper not built: password login not tried");
    const password = `pw-${randomBytes(9).toString("base64url")}`;
    spawnSync("chpasswd", [], { input: `${name}:${password}\n` });
    const byPassword = await runProgram(
      "sshpass",
      [
        "-p",
        password,
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-p",
        String(port),
        `${name}@127.0.0.1`,
        "id -un",
      ],
      { env: envWithoutAgent(), timeoutMs: 20_000 },
    );
    assert.equal(byPassword.status, 0, `${byPassword.stderr}\n--- nsshd:\n${log}`);
    assert.equal(byPassword.stdout, `${name}\n`);
  },
);
