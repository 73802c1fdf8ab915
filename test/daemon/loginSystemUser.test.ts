/**
 * The login process for system users, end to end: OpenSSH's ssh (and sshpass) logs in to the library's
 * server running createSystemAuthPolicy and startLoginSession, as a user made with useradd and chpasswd.
 * Root only (users, PAM, identity changes).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { nativeHelper } from "../../src/daemon/loginExec.js";
import { pamAvailable } from "../../src/daemon/pamTransaction.js";
import {
  createTestGroup,
  createTestUser,
  isRoot,
  sshTo,
  startLoginServer,
  type LoginServer,
  type TestUser,
} from "../helpers/systemUsers.js";

const skip = !isRoot
  ? "needs root"
  : !pamAvailable() || !nativeHelper("nssh-exec")
    ? "native helpers not built"
    : false;

type LoginSettings = Parameters<typeof startLoginServer>[0];

/** A throwaway user and a login server, both removed when the test ends. */
async function userWithServer(
  t: TestContext,
  settings?: LoginSettings,
): Promise<{ u: TestUser; srv: LoginServer }> {
  const u = createTestUser();
  const srv = await startLoginServer(settings);
  t.after(async () => {
    await srv.close();
    u.remove();
  });
  return { u, srv };
}

/** `ssh -o PreferredAuthentications=password user@127.0.0.1 command` with the password typed in. */
function passwordLogin(server: LoginServer, user: string, password: string, command: string) {
  return sshTo(server.port, { user, password, methods: "password", command });
}

/** ssh with the user's key, running `command`. */
function keyLogin(server: LoginServer, u: TestUser, command: string) {
  return sshTo(server.port, { user: u.name, identity: u.keyFile, command });
}

test(
  "password (PAM, yescrypt): the command runs as the user, in the home folder, with sshd's environment",
  { skip },
  async (t) => {
    const group = createTestGroup();
    const u = createTestUser({ groups: [group.name] });
    const srv = await startLoginServer();
    t.after(async () => {
      await srv.close();
      u.remove();
      group.remove();
    });
    const r = await passwordLogin(
      srv,
      u.name,
      u.password,
      'id -un; echo "$HOME|$SHELL|$USER|$LOGNAME|$MAIL|$PATH"; echo "$SSH_CONNECTION"; id -Gn; pwd',
    );
    assert.equal(r.status, 0, r.stderr);
    const [name, vars, conn, groups, cwd] = r.stdout.split("\n");
    assert.equal(name, u.name);
    assert.equal(
      vars,
      `${u.home}|/bin/bash|${u.name}|${u.name}|/var/mail/${u.name}|/usr/local/bin:/usr/bin:/bin:/usr/games`,
    );
    assert.match(conn!, /^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+$/);
    assert.equal(conn!.split(" ")[3], String(srv.port));
    assert.ok(groups!.split(" ").includes(group.name), `initgroups gave the supplementary group: ${groups}`);
    assert.equal(cwd, u.home);
    assert.ok(
      srv.log.some((l) => l.startsWith(`info: Accepted password for ${u.name} from 127.0.0.1 port `)),
      srv.log.join("\n"),
    );
  },
);

test("a wrong password is refused and logged as sshd logs it", { skip }, async (t) => {
  const { u, srv } = await userWithServer(t);
  const r = await passwordLogin(srv, u.name, "not-" + u.password, "true");
  assert.equal(r.status, 255);
  assert.match(r.stderr, /Permission denied/);
  assert.ok(
    srv.log.includes(`error: PAM: Authentication failure for ${u.name} from 127.0.0.1`),
    srv.log.join("\n"),
  );
  assert.ok(srv.log.some((l) => l.startsWith(`info: Failed password for ${u.name} from 127.0.0.1 port `)));
  const invalid = await passwordLogin(srv, "nssh-nobody-here", "x", "true");
  assert.equal(invalid.status, 255);
  assert.ok(
    srv.log.some((l) =>
      l.startsWith("info: Failed password for invalid user nssh-nobody-here from 127.0.0.1 port "),
    ),
  );
});

test("a locked account (usermod -L) is refused with its right password", { skip }, async (t) => {
  const { u, srv } = await userWithServer(t);
  execFileSync("usermod", ["-L", u.name]);
  const r = await passwordLogin(srv, u.name, u.password, "true");
  assert.equal(r.status, 255);
  assert.match(r.stderr, /Permission denied/);
});

test(
  "an expired password (chage -d 0): the session is a forced change, refused without a tty",
  { skip },
  async (t) => {
    const { u, srv } = await userWithServer(t);
    execFileSync("chage", ["-d", "0", u.name]);
    const r = await passwordLogin(srv, u.name, u.password, "id");
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.match(
      r.stderr,
      /WARNING: Your password has expired\.\nPassword change required but no TTY available\./,
    );
    // With a key and a tty, the session is passwd: the old password, then the new one twice.
    u.authorize([u.publicKeyLine]);
    const newPassword = `N3w-${u.password}`;
    const tty = await sshTo(srv.port, {
      user: u.name,
      identity: u.keyFile,
      tty: true,
      answers: [
        { prompt: /Current password: $/, send: `${u.password}\n` },
        { prompt: /New password: $/, send: `${newPassword}\n` },
        { prompt: /Retype new password: $/, send: `${newPassword}\n` },
      ],
    });
    assert.match(tty.stdout, /You must change your password now and login again!/);
    assert.match(tty.stdout, /password updated successfully/);
    const after = await passwordLogin(srv, u.name, newPassword, "id -un");
    assert.equal(after.status, 0, after.stderr);
    assert.equal(after.stdout, `${u.name}\n`);
  },
);

test("keyboard-interactive runs the PAM conversation", { skip }, async (t) => {
  const { u, srv } = await userWithServer(t);
  const r = await sshTo(srv.port, {
    user: u.name,
    password: u.password,
    methods: "keyboard-interactive",
    command: "id -un",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${u.name}\n`);
  assert.ok(
    srv.log.some((l) => l.startsWith(`info: Accepted keyboard-interactive for ${u.name} from 127.0.0.1`)),
  );
});

test(
  "ssh -tt: a login shell (-bash) on a tty owned by the user, group tty, mode 620; Last login; last and lastlog",
  { skip },
  async (t) => {
    const { u, srv } = await userWithServer(t, { printLastLog: true });
    const cmd = await sshTo(srv.port, {
      user: u.name,
      password: u.password,
      methods: "password",
      tty: true,
      command: 'stat -c "%U %G %a" "$(tty)"; echo "tty=$SSH_TTY"',
    });
    assert.equal(cmd.status, 0, cmd.stderr);
    const [owner, ttyLine] = cmd.stdout.split("\r\n");
    assert.equal(owner, `${u.name} tty 620`);
    assert.match(ttyLine!, /^tty=\/dev\/pts\/\d+$/);
    const shell = await sshTo(srv.port, {
      user: u.name,
      password: u.password,
      methods: "password",
      tty: true,
      input: "echo ARGV0=$0; exit 7\n",
    });
    assert.equal(shell.status, 7, shell.stderr);
    assert.match(shell.stdout, /ARGV0=-bash/);
    assert.match(shell.stdout, /Last login: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} from 127\.0\.0\.1/);
    const lastlog = execFileSync("lastlog", ["-u", u.name], { encoding: "utf8" });
    assert.match(lastlog, new RegExp(`${u.name}\\s+pts/\\d+\\s+127\\.0\\.0\\.1`));
    const last = execFileSync("last", ["-w", u.name], { encoding: "utf8" });
    assert.equal(
      last.split("\n").filter((l) => l.startsWith(`${u.name} `) && l.includes("127.0.0.1")).length,
      2,
      last,
    );
  },
);

test("DenyUsers and AllowGroups refuse the user, with sshd's log line", { skip }, async (t) => {
  const group = createTestGroup();
  const u = createTestUser();
  t.after(() => {
    u.remove();
    group.remove();
  });
  const deny = await startLoginServer({ denyUsers: [`${u.name}@127.0.0.1`] });
  t.after(() => deny.close());
  const r1 = await passwordLogin(deny, u.name, u.password, "true");
  assert.equal(r1.status, 255);
  assert.ok(
    deny.log.includes(`info: User ${u.name} from 127.0.0.1 not allowed because listed in DenyUsers`),
    deny.log.join("\n"),
  );
  assert.ok(
    deny.log.some((l) => l.startsWith(`info: Failed password for invalid user ${u.name} from 127.0.0.1`)),
  );

  const allow = await startLoginServer({ allowGroups: [group.name] });
  t.after(() => allow.close());
  const r2 = await passwordLogin(allow, u.name, u.password, "true");
  assert.equal(r2.status, 255);
  assert.ok(
    allow.log.includes(
      `info: User ${u.name} from 127.0.0.1 not allowed because none of user's groups are listed in AllowGroups`,
    ),
  );
  execFileSync("usermod", ["-a", "-G", group.name, u.name]);
  const r3 = await passwordLogin(allow, u.name, u.password, "id -un");
  assert.equal(r3.status, 0, r3.stderr);
  assert.equal(r3.stdout, `${u.name}\n`);
});

test(
  "ForceCommand runs instead of the client's command, which is in SSH_ORIGINAL_COMMAND",
  { skip },
  async (t) => {
    const { u, srv } = await userWithServer(t, { forceCommand: 'echo "forced:$SSH_ORIGINAL_COMMAND"' });
    const r = await passwordLogin(srv, u.name, u.password, "uname -a");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "forced:uname -a\n");
  },
);

test(
  "PermitRootLogin prohibit-password refuses a uid-0 account's right password; yes lets it in",
  { skip },
  async (t) => {
    const u = createTestUser({ prefix: "nsshr" });
    t.after(() => u.remove());
    // A second account with uid 0 and its own password, so root's real password is never touched.
    const alias = `${u.name}0`;
    execFileSync("useradd", ["-o", "-u", "0", "-g", "0", "-M", "-d", "/root", "-s", "/bin/bash", alias]);
    t.after(() => execFileSync("userdel", ["-f", alias]));
    execFileSync("chpasswd", [], { input: `${alias}:${u.password}\n` });
    const refused = await startLoginServer({ permitRootLogin: "prohibit-password" });
    t.after(() => refused.close());
    const r1 = await passwordLogin(refused, alias, u.password, "id -u");
    assert.equal(r1.status, 255);
    assert.ok(
      refused.log.some((l) => /^info: ROOT LOGIN REFUSED FROM 127\.0\.0\.1 port \d+$/.test(l)),
      refused.log.join("\n"),
    );
    const allowed = await startLoginServer({ permitRootLogin: "yes" });
    t.after(() => allowed.close());
    const r2 = await passwordLogin(allowed, alias, u.password, "id -u");
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(r2.stdout, "0\n");
  },
);

test(
  "publickey: the user's authorized_keys, read with StrictModes; a group-writable ~/.ssh is refused",
  { skip },
  async (t) => {
    const { u, srv } = await userWithServer(t);
    u.authorize([u.publicKeyLine]);
    const ok = await keyLogin(srv, u, "id -un");
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout, `${u.name}\n`);
    assert.ok(
      srv.log.some((l) =>
        new RegExp(
          `^info: Accepted publickey for ${u.name} from 127\\.0\\.0\\.1 port \\d+ ssh2: ED25519 SHA256:`,
        ).test(l),
      ),
      srv.log.join("\n"),
    );
    fs.chmodSync(path.join(u.home, ".ssh"), 0o770);
    const refused = await keyLogin(srv, u, "id -un");
    assert.equal(refused.status, 255);
    assert.ok(
      srv.log.includes(`info: Authentication refused: bad ownership or modes for directory ${u.home}/.ssh`),
      srv.log.join("\n"),
    );
  },
);

test(
  "authorized_keys options: command= runs with SSH_ORIGINAL_COMMAND; from= refuses other addresses; no-pty",
  { skip },
  async (t) => {
    const { u, srv } = await userWithServer(t);
    u.authorize([`command="echo key-forced:$SSH_ORIGINAL_COMMAND",no-pty ${u.publicKeyLine}`]);
    const forced = await keyLogin(srv, u, "whoami");
    assert.equal(forced.status, 0, forced.stderr);
    assert.equal(forced.stdout, "key-forced:whoami\n");
    const pty = await sshTo(srv.port, {
      user: u.name,
      identity: u.keyFile,
      command: "whoami",
      tty: true,
      options: { LogLevel: "INFO" },
    });
    assert.match(pty.stderr, /PTY allocation request failed/);

    u.authorize([`from="10.0.0.0/8" ${u.publicKeyLine}`]);
    const elsewhere = await keyLogin(srv, u, "true");
    assert.equal(elsewhere.status, 255);
    assert.ok(
      srv.log.some((l) => l.includes("with correct key but not from a permitted host")),
      srv.log.join("\n"),
    );
    u.authorize([`from="127.0.0.1" ${u.publicKeyLine}`]);
    const here = await keyLogin(srv, u, "id -un");
    assert.equal(here.status, 0, here.stderr);
  },
);
