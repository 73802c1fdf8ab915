/**
 * How a user's session process (privilege separation, nsshd as root) starts a command: as sshd's child
 * does, whether it goes through nssh-exec (an rc file, a home folder it cannot enter) or is spawned
 * directly (the session process is the user already): in the home folder, with the user's groups, the
 * rc file first when there is one, and sshd's message when the home folder is missing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { makeNsshdFixture, startNsshd } from "../../helpers/nsshdProcess.js";
import { createTestGroup, createTestUser, isRoot, sshTo } from "../../helpers/systemUsers.js";
import { nativeHelper } from "../../../src/daemon/loginExec.js";

const skip = !isRoot ? "needs root" : !nativeHelper("nssh-exec") ? "nssh-exec is not built" : false;

test(
  "a session process runs commands in the home folder with the user's groups, rc first, as sshd",
  { skip },
  async (t) => {
    const fx = await makeNsshdFixture();
    t.after(() => fx.remove());
    // The home's own file, and one outside it (for the login after the home is gone).
    const nsshd = await startNsshd(fx, [
      "-o",
      `AuthorizedKeysFile=.ssh/authorized_keys ${path.join(fx.dir, "keys_%u")}`,
    ]);
    const group = createTestGroup();
    t.after(() => group.remove());
    const user = createTestUser({ prefix: "nsshs", groups: [group.name] });
    t.after(() => user.remove());
    user.authorize([user.publicKeyLine]);
    const run = (command: string) => sshTo(fx.port, { user: user.name, identity: user.keyFile, command });

    // Nothing to do but exec: the working directory and groups are those sshd's child gives.
    const plain = await run('pwd; id -Gn; echo "$HOME"');
    assert.equal(plain.status, 0, plain.stderr + nsshd.stderr());
    const [cwd, groups, home] = plain.stdout.trim().split("\n");
    assert.equal(cwd, user.home);
    assert.ok(groups!.split(" ").includes(group.name), `groups: ${groups}`);
    assert.equal(home, user.home);

    // ~/.ssh/rc runs first, as the user, in the home folder (sshd's do_rc_files).
    const rc = path.join(user.home, ".ssh", "rc");
    fs.writeFileSync(rc, 'echo "rc in $(pwd)" >&2\n');
    fs.chownSync(rc, user.uid, user.gid);
    const withRc = await run("echo command");
    assert.equal(withRc.status, 0, withRc.stderr + nsshd.stderr());
    assert.equal(withRc.stdout.trim(), "command");
    assert.match(withRc.stderr, new RegExp(`rc in ${user.home}`));
    fs.rmSync(rc);

    // A home folder that is gone: sshd's message, and "/" as working directory.
    fs.renameSync(user.home, `${user.home}.away`);
    t.after(() => fs.existsSync(`${user.home}.away`) && fs.renameSync(`${user.home}.away`, user.home));
    // Its authorized_keys went with it: the key is in the file outside the home.
    fs.writeFileSync(path.join(fx.dir, `keys_${user.name}`), user.publicKeyLine + "\n", { mode: 0o644 });
    const homeless = await run("pwd");
    assert.equal(homeless.status, 0, homeless.stderr + nsshd.stderr());
    assert.equal(homeless.stdout.trim(), "/");
    assert.match(
      homeless.stderr,
      new RegExp(`Could not chdir to home directory ${user.home}: No such file or directory`),
    );
  },
);
