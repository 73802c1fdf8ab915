/**
 * The rest of sshd's login process for system users, with OpenSSH's ssh and sftp as peers: ~/.ssh/rc,
 * ~/.ssh/environment with PermitUserEnvironment, SetEnv and AcceptEnv, AuthorizedKeysCommand run as
 * its user, and internal-sftp serving files with the user's own rights. Root only.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { nativeHelper } from "../../src/daemon/loginExec.js";
import { pamAvailable } from "../../src/daemon/pamTransaction.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";
import { createTestUser, isRoot, sshTo, startLoginServer, type TestUser } from "../helpers/systemUsers.js";

const skip = !isRoot
  ? "needs root"
  : !pamAvailable() || !nativeHelper("nssh-exec")
    ? "native helpers not built"
    : false;

function writeAsUser(u: TestUser, rel: string, text: string, mode = 0o600): void {
  const file = path.join(u.home, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.chownSync(path.dirname(file), u.uid, u.gid);
  fs.writeFileSync(file, text, { mode });
  fs.chownSync(file, u.uid, u.gid);
}

test("~/.ssh/rc runs as the user before the command; not with ForceCommand", { skip }, async (t) => {
  const u = createTestUser();
  const srv = await startLoginServer();
  t.after(async () => {
    await srv.close();
    u.remove();
  });
  u.authorize([u.publicKeyLine]);
  writeAsUser(u, ".ssh/rc", 'echo "rc as $(id -un) in $(pwd)"\n');
  const r = await sshTo(srv.port, { user: u.name, identity: u.keyFile, command: "echo command" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `rc as ${u.name} in ${u.home}\ncommand\n`);
  const forced = await startLoginServer({ forceCommand: "echo forced" });
  t.after(() => forced.close());
  const f = await sshTo(forced.port, { user: u.name, identity: u.keyFile, command: "echo command" });
  assert.equal(f.stdout, "forced\n");
});

test(
  "~/.ssh/environment and environment= apply only with PermitUserEnvironment; SetEnv overrides; AcceptEnv",
  { skip },
  async (t) => {
    const u = createTestUser();
    t.after(() => u.remove());
    u.authorize([`environment="FROM_KEY=k1" ${u.publicKeyLine}`]);
    writeAsUser(u, ".ssh/environment", "# comment\nFROM_FILE=f1\nADMIN=user\n");
    const cmd = 'echo "$FROM_KEY|$FROM_FILE|$ADMIN|$LC_NSSH"';
    const off = await startLoginServer();
    t.after(() => off.close());
    const r1 = await sshTo(off.port, { user: u.name, identity: u.keyFile, command: cmd });
    assert.equal(r1.stdout, "|||\n", r1.stderr);
    const on = await startLoginServer({
      permitUserEnvironment: true,
      setEnv: ["ADMIN=admin"],
      acceptEnv: ["LC_*"],
    });
    t.after(() => on.close());
    const r2 = await sshTo(on.port, {
      user: u.name,
      identity: u.keyFile,
      command: cmd,
      options: { SendEnv: "LC_NSSH", SetEnv: "LC_NSSH=client" },
    });
    assert.equal(r2.stdout, "k1|f1|admin|client\n", r2.stderr);
    const some = await startLoginServer({ permitUserEnvironment: ["FROM_F*"] });
    t.after(() => some.close());
    const r3 = await sshTo(some.port, { user: u.name, identity: u.keyFile, command: cmd });
    assert.equal(r3.stdout, "|f1||\n", r3.stderr);
  },
);

test("AuthorizedKeysCommand with %u %t %k, run as AuthorizedKeysCommandUser", { skip }, async (t) => {
  const u = createTestUser();
  // Not under /tmp: sshd refuses a command on a world-writable path, and so do we.
  const dir = fs.mkdtempSync("/opt/nssh-akc-");
  fs.chmodSync(dir, 0o755);
  const script = path.join(dir, "keys.sh");
  const record = path.join(dir, "called");
  fs.writeFileSync(record, "");
  fs.chmodSync(record, 0o666);
  // It prints the key it was given (so it authorizes exactly that key) and records who ran it.
  fs.writeFileSync(script, `#!/bin/sh\necho "$(id -un) $1" >> ${record}\necho "$2 $3"\n`, { mode: 0o755 });
  const srv = await startLoginServer({
    authorizedKeysFiles: ["none"],
    authorizedKeysCommand: `${script} %u %t %k`,
    authorizedKeysCommandUser: "nobody",
  });
  t.after(async () => {
    await srv.close();
    u.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const r = await sshTo(srv.port, { user: u.name, identity: u.keyFile, command: "id -un" });
  assert.equal(r.status, 0, r.stderr + srv.log.join("\n"));
  assert.equal(r.stdout, `${u.name}\n`);
  assert.match(fs.readFileSync(record, "utf8"), new RegExp(`^nobody ${u.name}\\n`));
});

test("internal-sftp: OpenSSH's sftp creates files as the user, in the home folder", { skip }, async (t) => {
  const u = createTestUser();
  const srv = await startLoginServer({ subsystems: { sftp: "internal-sftp" } });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-login-sftp-"));
  t.after(async () => {
    await srv.close();
    u.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  u.authorize([u.publicKeyLine]);
  const local = path.join(dir, "up.txt");
  fs.writeFileSync(local, "uploaded by sftp\n");
  const batch = path.join(dir, "batch");
  fs.writeFileSync(batch, `put ${local} up.txt\nls\n`);
  // Not spawnSync: the server runs in this process.
  const r = await runProgram(
    "sftp",
    [
      "-F",
      "/dev/null",
      "-o",
      `UserKnownHostsFile=${path.join(dir, "kh")}`,
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-i",
      u.keyFile,
      "-P",
      String(srv.port),
      "-b",
      batch,
      `${u.name}@127.0.0.1`,
    ],
    { env: envWithoutAgent(), timeoutMs: 20_000 },
  );
  assert.equal(r.status, 0, r.stderr + srv.log.join("\n"));
  const st = fs.statSync(path.join(u.home, "up.txt"));
  assert.equal(st.uid, u.uid);
  assert.equal(fs.readFileSync(path.join(u.home, "up.txt"), "utf8"), "uploaded by sftp\n");
});
