/**
 * authorized_keys read with the user's rights, remembered between the two reads of a login (the query and
 * the signature): every change to the file or to the folders above it (content, modes, owner) is seen on
 * the next read, and the answers are the user's own; then a real login through nsshd as that user.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { lookupAccount } from "../../src/daemon/accounts.js";
import { readAuthorizedKeysFile } from "../../src/daemon/authorizedKeysAccess.js";
import type { LoginLog } from "../../src/daemon/loginSettings.js";
import { makeNsshdFixture, runSsh, startNsshd } from "../helpers/nsshdProcess.js";
import { createTestUser, isRoot } from "../helpers/systemUsers.js";

const lines: string[] = [];
const log: LoginLog = {
  error: (m) => void lines.push(m),
  info: (m) => void lines.push(m),
  verbose: (m) => void lines.push(m),
  debug1: (m) => void lines.push(m),
  debug2: (m) => void lines.push(m),
  debug3: (m) => void lines.push(m),
};

test(
  "authorized_keys of another user: changes to it and to its folders count at the next read",
  { skip: !isRoot && "needs root to read as another user" },
  async (t) => {
    const user = createTestUser({ prefix: "nsshk" });
    t.after(() => user.remove());
    const account = await lookupAccount(user.name);
    assert.ok(account);
    user.authorize([user.publicKeyLine]);
    const sshDir = path.join(user.home, ".ssh");
    const file = path.join(sshDir, "authorized_keys");
    const read = async (): Promise<string | null> =>
      (await readAuthorizedKeysFile(file, account, { strictModes: true }, log))?.text ?? null;

    assert.equal(await read(), user.publicKeyLine + "\n");
    assert.equal(await read(), user.publicKeyLine + "\n", "the same file, the same answer");

    // Same size, same inode, other content.
    const other = user.publicKeyLine.replace(
      /ssh-ed25519 (.)/,
      (_m, c: string) => `ssh-ed25519 ${c === "A" ? "B" : "A"}`,
    );
    fs.writeFileSync(file, other + "\n");
    assert.equal(await read(), other + "\n");

    // Not readable by the user any more: as sshd, the keys are not read (root could read them).
    fs.chmodSync(file, 0o000);
    assert.equal(await read(), null);
    fs.chmodSync(file, 0o600);
    assert.equal(await read(), other + "\n");

    // A folder above it closed to the user.
    fs.chmodSync(sshDir, 0o000);
    assert.equal(await read(), null);
    fs.chmodSync(sshDir, 0o700);
    assert.equal(await read(), other + "\n");

    // Given to root: StrictModes accepts a root-owned file, which the user cannot read at mode 600.
    fs.chownSync(file, 0, 0);
    assert.equal(await read(), null);
    fs.chownSync(file, user.uid, user.gid);
    assert.equal(await read(), other + "\n");
  },
);

test(
  "nsshd: a key login of a system user, then the key removed refuses the next login",
  { skip: !isRoot && "privilege separation needs root" },
  async (t) => {
    const user = createTestUser({ prefix: "nsshk" });
    const fx = await makeNsshdFixture();
    t.after(async () => {
      await fx.remove();
      user.remove();
    });
    // The fixture's AuthorizedKeysFile (root's, mode 644, read with the user's rights): the user's key only.
    const keys = path.join(fx.dir, "authorized_keys");
    const authorize = (text: string): void => fs.writeFileSync(keys, text, { mode: 0o644 });
    authorize(user.publicKeyLine + "\n");
    await startNsshd(fx);
    const asUser = { user: user.name, sshOptions: ["-i", user.keyFile] };
    for (const word of ["one", "two"]) {
      const r = await runSsh(fx, `echo ${word}`, asUser);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), word);
    }
    authorize("# no keys\n");
    const refused = await runSsh(fx, "echo three", asUser);
    assert.equal(refused.status, 255);
    assert.match(refused.stderr, /Permission denied \(publickey/);
    authorize(user.publicKeyLine + "\n");
    const again = await runSsh(fx, "echo four", asUser);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout.trim(), "four");
  },
);
