import { test } from "node:test";
import assert from "node:assert/strict";
import { makeNsshdFixture, startNsshd } from "../../helpers/nsshdProcess.js";
import { createTestUser, isRoot, sshTo } from "../../helpers/systemUsers.js";
import { nativeHelper } from "../../../src/daemon/loginExec.js";

// The daemon as root with its processes split, end to end with OpenSSH's ssh: a system user made with useradd
// and chpasswd logs in by key, by password (PAM, yescrypt) and by keyboard-interactive (the PAM conversation
// relayed from the worker to the monitor), gets a tty that is theirs, and a wrong password is refused and
// logged as sshd logs it.

const skip = !isRoot
  ? "needs root"
  : !nativeHelper("nssh-pam-helper")
    ? "the PAM helper is not built"
    : false;

test(
  "nsshd (split processes): key, password and keyboard-interactive logins of a system user",
  { skip },
  async (t) => {
    const fx = await makeNsshdFixture();
    t.after(() => fx.remove());
    // Command-line options come first, so they win over the fixture's file (UsePAM no, its own key file).
    const nsshd = await startNsshd(fx, ["-o", "AuthorizedKeysFile=.ssh/authorized_keys", "-o", "UsePAM=yes"]);
    const user = createTestUser({ prefix: "nsshu" });
    t.after(() => user.remove());
    user.authorize([user.publicKeyLine]);

    const byKey = await sshTo(fx.port, {
      user: user.name,
      identity: user.keyFile,
      command: 'id -un; echo "$HOME $SHELL"; echo "$SSH_CONNECTION"',
    });
    assert.equal(byKey.status, 0, byKey.stderr + nsshd.stderr());
    const [name, homeShell, conn] = byKey.stdout.trim().split("\n");
    assert.equal(name, user.name);
    assert.equal(homeShell, `${user.home} /bin/bash`);
    assert.match(conn!, new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${fx.port}$`));

    const byPassword = await sshTo(fx.port, {
      user: user.name,
      password: user.password,
      methods: "password",
      command: "id -un",
    });
    assert.equal(byPassword.status, 0, byPassword.stderr + nsshd.stderr());
    assert.equal(byPassword.stdout.trim(), user.name);

    const byKbdInt = await sshTo(fx.port, {
      user: user.name,
      password: user.password,
      methods: "keyboard-interactive",
      command: "id -un",
    });
    assert.equal(byKbdInt.status, 0, byKbdInt.stderr + nsshd.stderr());
    assert.equal(byKbdInt.stdout.trim(), user.name);

    const tty = await sshTo(fx.port, {
      user: user.name,
      identity: user.keyFile,
      tty: true,
      command: "stat -c '%U %G %a' $(tty)",
    });
    assert.equal(tty.status, 0, tty.stderr);
    assert.equal(tty.stdout.trim(), `${user.name} tty 620`);

    const wrong = await sshTo(fx.port, {
      user: user.name,
      password: "not-the-password",
      methods: "password",
      command: "true",
    });
    assert.equal(wrong.status, 255);
    await nsshd.waitForLog(
      new RegExp(`Failed password for ${user.name} from 127\\.0\\.0\\.1 port \\d+ ssh2`),
    );
    await nsshd.waitForLog(
      new RegExp(`Accepted password for ${user.name} from 127\\.0\\.0\\.1 port \\d+ ssh2`),
    );
    await nsshd.waitForLog(
      new RegExp(
        `Accepted keyboard-interactive/pam for ${user.name}|Accepted keyboard-interactive for ${user.name}`,
      ),
    );
  },
);
