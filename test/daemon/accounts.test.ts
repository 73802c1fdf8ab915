/** System account lookups (getent, id) as sshd's getpwnam and getgrouplist see them. */
import assert from "node:assert/strict";
import os from "node:os";
import { test } from "node:test";
import { currentAccount, isSafeAccountName, lookupAccount } from "../../src/daemon/accounts.js";
import { parsePasswdLine } from "../../src/sftp/systemAccountFiles.js";

test("lookupAccount: root from NSS, with its groups", async () => {
  const root = await lookupAccount("root");
  assert.ok(root);
  assert.equal(root.uid, 0);
  assert.equal(root.gid, 0);
  assert.equal(root.home, "/root");
  assert.ok(root.groups.some((g) => g.gid === 0 && g.name === "root"));
});

test("lookupAccount: the current user matches os.userInfo()", async () => {
  const me = await currentAccount();
  const info = os.userInfo();
  assert.ok(me);
  assert.equal(me.name, info.username);
  assert.equal(me.uid, info.uid);
  assert.equal(me.home, info.homedir);
});

test("lookupAccount: unknown and unsafe names are no account", async () => {
  assert.equal(await lookupAccount("nssh-no-such-user-x"), null);
  for (const bad of ["-root", "a:b", "a/b", "", "a b", "x\nroot", "../etc"]) {
    assert.equal(isSafeAccountName(bad), false, bad);
    assert.equal(await lookupAccount(bad), null, bad);
  }
  assert.equal(isSafeAccountName("alice"), true);
  assert.equal(isSafeAccountName("machine$"), true);
});

test("parsePasswdLine: seven fields, numeric ids", () => {
  assert.deepEqual(parsePasswdLine("alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash"), {
    name: "alice",
    uid: 1000,
    gid: 1000,
    gecos: "Alice,,,",
    home: "/home/alice",
    shell: "/bin/bash",
  });
  assert.equal(parsePasswdLine("alice:x:1000:1000:/home/alice:/bin/bash"), null);
  assert.equal(parsePasswdLine("alice:x:abc:1000::/home/alice:/bin/bash"), null);
  assert.equal(parsePasswdLine("alice:x::1000::/home/alice:/bin/bash"), null);
});
