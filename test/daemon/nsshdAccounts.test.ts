import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  makeNsshdFixture,
  startNsshd,
  type NsshdFixture,
  type RunningNsshd,
} from "../helpers/nsshdProcess.js";
import { createTestGroup, createTestUser, isRoot, sshTo, type TestUser } from "../helpers/systemUsers.js";
import { nativeHelper } from "../../src/daemon/loginExec.js";

// The nsshd program (split processes, as root) refusing and restricting system accounts, end to end with
// OpenSSH's ssh: a locked account, DenyUsers/AllowGroups, Match User blocks, ForceCommand, the command= and
// from= options of authorized_keys (sshd(8) AUTHORIZED_KEYS FILE FORMAT), and PermitRootLogin
// prohibit-password (sshd_config(5)). loginSystemUser.test.ts checks the same against the library server.

const skip = !isRoot
  ? "needs root"
  : !nativeHelper("nssh-pam-helper")
    ? "the PAM helper is not built"
    : false;

/** Command-line -o options come first in sshd's order, so they win over the fixture's own lines. */
const SYSTEM = ["-o", "AuthorizedKeysFile=.ssh/authorized_keys", "-o", "UsePAM=yes"];

async function daemon(
  t: TestContext,
  options: string[] = [],
  configLines: string[] = [],
): Promise<{ fx: NsshdFixture; nsshd: RunningNsshd }> {
  const fx = await makeNsshdFixture(configLines);
  t.after(() => fx.remove());
  const nsshd = await startNsshd(fx, [...SYSTEM, ...options.flatMap((o) => ["-o", o])]);
  return { fx, nsshd };
}

function user(t: TestContext, groups?: string[]): TestUser {
  const u = createTestUser({ prefix: "nssha", ...(groups ? { groups } : {}) });
  t.after(() => u.remove());
  return u;
}

function passwordLogin(fx: NsshdFixture, name: string, password: string, command: string) {
  return sshTo(fx.port, { user: name, password, methods: "password", command });
}

function keyLogin(fx: NsshdFixture, u: TestUser, command: string, tty = false) {
  return sshTo(fx.port, {
    user: u.name,
    identity: u.keyFile,
    command,
    tty,
    ...(tty ? { options: { LogLevel: "INFO" } } : {}),
  });
}

test("nsshd: a locked account (usermod -L) is refused with its right password", { skip }, async (t) => {
  const { fx, nsshd } = await daemon(t);
  const u = user(t);
  const before = await passwordLogin(fx, u.name, u.password, "id -un");
  assert.equal(before.status, 0, before.stderr + nsshd.stderr());
  assert.equal(before.stdout, `${u.name}\n`);
  execFileSync("usermod", ["-L", u.name]);
  const r = await passwordLogin(fx, u.name, u.password, "id -un");
  assert.equal(r.status, 255, nsshd.stderr());
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /Permission denied/);
});

test(
  "nsshd without PAM: a locked (usermod -L) or expired (usermod -e) account is refused even with its key",
  { skip },
  async (t) => {
    // sshd's allowed_user without UsePAM reads shadow(5): "!" starts a locked password, sp_expire ends it.
    const fx = await makeNsshdFixture();
    t.after(() => fx.remove());
    const nsshd = await startNsshd(fx, ["-o", "UsePAM=no", "-o", "AuthorizedKeysFile=.ssh/authorized_keys"]);
    const u = user(t);
    u.authorize([u.publicKeyLine]);
    const before = await keyLogin(fx, u, "id -un");
    assert.equal(before.status, 0, before.stderr + nsshd.stderr());
    execFileSync("usermod", ["-L", u.name]);
    const locked = await keyLogin(fx, u, "id -un");
    assert.equal(locked.status, 255, nsshd.stderr());
    assert.equal(locked.stdout, "");
    await nsshd.waitForLog(new RegExp(`User ${u.name} not allowed because account is locked`));
    execFileSync("usermod", ["-U", u.name]);
    assert.equal((await keyLogin(fx, u, "true")).status, 0, nsshd.stderr());
    execFileSync("usermod", ["-e", "1970-01-02", u.name]);
    const expired = await keyLogin(fx, u, "id -un");
    assert.equal(expired.status, 255, nsshd.stderr());
    await nsshd.waitForLog(new RegExp(`Account ${u.name} has expired`));
  },
);

test("nsshd: DenyUsers and AllowGroups refuse the user, with sshd's log lines", { skip }, async (t) => {
  const group = createTestGroup();
  t.after(() => group.remove());
  const u = user(t);

  const deny = await daemon(t, [`DenyUsers=${u.name}@127.0.0.1`]);
  const r1 = await passwordLogin(deny.fx, u.name, u.password, "true");
  assert.equal(r1.status, 255, deny.nsshd.stderr());
  assert.match(r1.stderr, /Permission denied/);
  await deny.nsshd.waitForLog(
    new RegExp(`User ${u.name} from 127\\.0\\.0\\.1 not allowed because listed in DenyUsers`),
  );

  const allow = await daemon(t, [`AllowGroups=${group.name}`]);
  const r2 = await passwordLogin(allow.fx, u.name, u.password, "true");
  assert.equal(r2.status, 255, allow.nsshd.stderr());
  await allow.nsshd.waitForLog(
    new RegExp(
      `User ${u.name} from 127\\.0\\.0\\.1 not allowed because none of user's groups are listed in AllowGroups`,
    ),
  );
  execFileSync("usermod", ["-a", "-G", group.name, u.name]);
  const r3 = await passwordLogin(allow.fx, u.name, u.password, "id -un");
  assert.equal(r3.status, 0, r3.stderr + allow.nsshd.stderr());
  assert.equal(r3.stdout, `${u.name}\n`);
});

test(
  "nsshd: a Match User block applies to its user only (ForceCommand with SSH_ORIGINAL_COMMAND, no password)",
  { skip },
  async (t) => {
    const matched = user(t);
    const other = user(t);
    const { fx, nsshd } = await daemon(
      t,
      [],
      [
        `Match User ${matched.name}`,
        '  ForceCommand echo "forced:$SSH_ORIGINAL_COMMAND"',
        `Match User ${other.name}`,
        "  PasswordAuthentication no",
      ],
    );
    const forced = await passwordLogin(fx, matched.name, matched.password, "uname -a");
    assert.equal(forced.status, 0, forced.stderr + nsshd.stderr());
    assert.equal(forced.stdout, "forced:uname -a\n");

    // The other user's block turns passwords off for them only; their key still logs in, unforced.
    const refused = await passwordLogin(fx, other.name, other.password, "id -un");
    assert.equal(refused.status, 255, nsshd.stderr());
    assert.match(refused.stderr, /Permission denied/);
    other.authorize([other.publicKeyLine]);
    const byKey = await keyLogin(fx, other, "id -un");
    assert.equal(byKey.status, 0, byKey.stderr + nsshd.stderr());
    assert.equal(byKey.stdout, `${other.name}\n`);
  },
);

test(
  "nsshd: authorized_keys command= runs with SSH_ORIGINAL_COMMAND (no-pty); from= refuses other addresses",
  { skip },
  async (t) => {
    const { fx, nsshd } = await daemon(t);
    const u = user(t);
    u.authorize([`command="echo key-forced:$SSH_ORIGINAL_COMMAND",no-pty ${u.publicKeyLine}`]);
    const forced = await keyLogin(fx, u, "whoami");
    assert.equal(forced.status, 0, forced.stderr + nsshd.stderr());
    assert.equal(forced.stdout, "key-forced:whoami\n");
    const pty = await keyLogin(fx, u, "whoami", true);
    assert.match(pty.stderr, /PTY allocation request failed/);

    u.authorize([`from="10.0.0.0/8" ${u.publicKeyLine}`]);
    const elsewhere = await keyLogin(fx, u, "true");
    assert.equal(elsewhere.status, 255, nsshd.stderr());
    assert.match(elsewhere.stderr, /Permission denied/);
    await nsshd.waitForLog(/with correct key but not from a permitted host/);

    u.authorize([`from="127.0.0.1" ${u.publicKeyLine}`]);
    const here = await keyLogin(fx, u, "id -un");
    assert.equal(here.status, 0, here.stderr + nsshd.stderr());
    assert.equal(here.stdout, `${u.name}\n`);
  },
);

test(
  "nsshd: PermitRootLogin prohibit-password refuses a uid-0 account's right password; yes lets it in",
  { skip },
  async (t) => {
    const u = user(t);
    // A second account with uid 0 and its own password, so root's real password is never touched.
    const alias = `${u.name}0`;
    execFileSync("useradd", ["-o", "-u", "0", "-g", "0", "-M", "-d", "/root", "-s", "/bin/bash", alias], {
      stdio: "ignore",
    });
    // -f: the uid-0 alias shares uid 0 with running processes (userdel warns about them).
    t.after(() => void execFileSync("userdel", ["-f", alias], { stdio: "ignore" }));
    execFileSync("chpasswd", [], { input: `${alias}:${u.password}\n` });

    const refused = await daemon(t, ["PermitRootLogin=prohibit-password"]);
    const r1 = await passwordLogin(refused.fx, alias, u.password, "id -u");
    assert.equal(r1.status, 255, refused.nsshd.stderr());
    assert.equal(r1.stdout, "");
    assert.match(r1.stderr, /Permission denied/);
    await refused.nsshd.waitForLog(/ROOT LOGIN REFUSED FROM 127\.0\.0\.1 port \d+/);

    const allowed = await daemon(t, ["PermitRootLogin=yes"]);
    const r2 = await passwordLogin(allowed.fx, alias, u.password, "id -u");
    assert.equal(r2.status, 0, r2.stderr + allowed.nsshd.stderr());
    assert.equal(r2.stdout, "0\n");
  },
);
