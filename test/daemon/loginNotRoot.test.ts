/**
 * A daemon not started as root (the README's first command): the system policy and the login process
 * run as an ordinary user, who logs in with their key and their PAM password and gets a login shell
 * (-bash) on a PTY; anyone else is refused as sshd refuses them. The server runs as a throwaway user
 * (runuser), so the test itself needs root.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { nativeHelper } from "../../src/daemon/loginExec.js";
import { pamAvailable } from "../../src/daemon/pamTransaction.js";
import { createTestUser, isRoot, sshTo } from "../helpers/systemUsers.js";

const skip = !isRoot
  ? "needs root (to run the server as another user)"
  : !pamAvailable() || !nativeHelper("nssh-exec")
    ? "native helpers not built"
    : false;

const serverMain = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "helpers",
  "systemUsersLoginServerMain.js",
);

test("not root: only the invoking user logs in, by key and by PAM password", { skip }, async (t) => {
  const u = createTestUser();
  const other = createTestUser();
  t.after(() => {
    u.remove();
    other.remove();
  });
  u.authorize([u.publicKeyLine]);
  const child = spawn("runuser", ["-u", u.name, "--", process.execPath, serverMain], {
    cwd: "/",
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  t.after(async () => {
    child.stdin.end();
    await closed;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const check = (): void => {
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on("data", check);
    child.once("close", () => reject(new Error(`the server ended: ${out}`)));
  });

  const key = await sshTo(port, { user: u.name, identity: u.keyFile, command: "id -un; pwd" });
  assert.equal(key.status, 0, key.stderr + out);
  assert.equal(key.stdout, `${u.name}\n${u.home}\n`);
  const pw = await sshTo(port, {
    user: u.name,
    password: u.password,
    methods: "password",
    command: "id -un",
  });
  assert.equal(pw.status, 0, pw.stderr + out);
  const shell = await sshTo(port, {
    user: u.name,
    identity: u.keyFile,
    tty: true,
    input: "echo ARGV0=$0; exit\n",
  });
  assert.match(shell.stdout, /ARGV0=-bash/);
  const refused = await sshTo(port, {
    user: other.name,
    password: other.password,
    methods: "password",
    command: "id -un",
  });
  assert.equal(refused.status, 255);
  child.stdin.end();
  await closed;
  assert.match(
    out,
    new RegExp(`User ${other.name} from 127\\.0\\.0\\.1 not allowed because the daemon runs as another user`),
  );
  assert.match(
    out,
    new RegExp(`Accepted publickey for ${u.name} from 127\\.0\\.0\\.1 port \\d+ ssh2: ED25519 SHA256:`),
  );
});
