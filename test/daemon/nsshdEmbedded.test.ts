/**
 * The embedded mode (the README's first command): nsshd started by a user who is not root, without -f,
 * creates its state folder (host keys ed25519, ecdsa, rsa; a commented sshd_config), listens on
 * 127.0.0.1, logs to stderr in the foreground, and lets only that user log in, with their own key.
 * Run as root, the test makes a throwaway user with useradd and starts nsshd as that user.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { freePort } from "../helpers/ports.js";
import { NSSHD } from "../helpers/nsshdProcess.js";
import { createTestUser, isRoot, sshTo } from "../helpers/systemUsers.js";
import { pamAvailable } from "../../src/daemon/pamTransaction.js";

test(
  "embedded mode: a non-root user's nsshd serves that user only",
  { skip: !isRoot && "needs root for useradd" },
  async (t) => {
    const u = createTestUser({ prefix: "nsshe" });
    const stops: Array<() => Promise<void> | void> = [];
    t.after(async () => {
      for (const stop of stops.reverse()) await stop();
      u.remove();
    });
    const { name, home, uid, gid } = u;
    u.authorize([u.publicKeyLine]);

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

    const ssh = (user: string) => sshTo(port, { user, identity: u.keyFile, command: "id -un" });
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
    const byPassword = await sshTo(port, {
      user: name,
      password: u.password,
      methods: "password",
      command: "id -un",
    });
    assert.equal(byPassword.status, 0, `${byPassword.stderr}\n--- nsshd:\n${log}`);
    assert.equal(byPassword.stdout, `${name}\n`);
  },
);
