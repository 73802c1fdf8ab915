/**
 * Account lookups read from /etc/passwd and /etc/group (when nsswitch.conf sends passwd and group to the
 * files): the same answer as getent(1) and id(1) give, and a change seen on the next lookup.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import {
  filesAnswerAlone,
  lookupAccount,
  lookupAccountByPrograms,
  lookupAccountInFiles,
  parseNsswitch,
  type SystemAccount,
} from "../../src/daemon/accounts.js";
import { parseGroupLine } from "../../src/sftp/systemAccountFiles.js";
import { createTestGroup, createTestUser, isRoot } from "../helpers/systemUsers.js";

/** Whether this host's nsswitch.conf lets the files answer alone (Debian's default does). */
const filesAnswer = lookupAccountInFiles("root") !== undefined;

function assertSameAccount(fromFiles: SystemAccount | null | undefined, fromPrograms: SystemAccount | null) {
  assert.ok(fromFiles, "the files answered");
  assert.ok(fromPrograms, "getent answered");
  assert.deepEqual(fromFiles, fromPrograms);
}

test("nsswitch.conf: files alone (or then systemd without userdb records) answer; anything else asks NSS", () => {
  const debian = parseNsswitch(
    "# comment\npasswd:         files systemd\ngroup:          files systemd\nhosts: files dns\n",
  );
  assert.deepEqual(debian.get("passwd"), ["files", "systemd"]);
  assert.equal(filesAnswerAlone(debian, false), true);
  assert.equal(filesAnswerAlone(debian, true), false, "a userdb drop-in may add memberships");
  assert.equal(filesAnswerAlone(parseNsswitch("passwd: files\ngroup: files\n"), true), true);
  assert.equal(filesAnswerAlone(parseNsswitch(""), false), true, "glibc's default is files");
  for (const text of [
    "passwd: files ldap\ngroup: files\n",
    "passwd: files\ngroup: sss files\n",
    "passwd: compat\ngroup: compat\n",
    "passwd: files [NOTFOUND=return] systemd\ngroup: files\n",
    "passwd: files\ngroup: files\ninitgroups: files ldap\n",
  ]) {
    assert.equal(filesAnswerAlone(parseNsswitch(text), false), false, text);
  }
});

test("parseGroupLine: four fields, members split on commas", () => {
  assert.deepEqual(parseGroupLine("audio:x:29:pulse,alice"), {
    name: "audio",
    gid: 29,
    members: ["pulse", "alice"],
  });
  assert.deepEqual(parseGroupLine("users:x:100:"), { name: "users", gid: 100, members: [] });
  assert.equal(parseGroupLine("users:x::"), null);
  assert.equal(parseGroupLine("users:x:abc:"), null);
  assert.equal(parseGroupLine("users:x:100"), null);
});

test(
  "root: the files give what getent and id give",
  { skip: !filesAnswer && "NSS is not files here" },
  async () => {
    assertSameAccount(lookupAccountInFiles("root"), await lookupAccountByPrograms("root"));
    assert.deepEqual(await lookupAccount("root"), lookupAccountInFiles("root"));
  },
);

test("a missing user: no account, from the files as from getent", async () => {
  const name = "nssh-no-such-user-files";
  // Not in the files: NSS's other modules are asked, and they know no such user either.
  assert.equal(lookupAccountInFiles(name), undefined);
  assert.equal(await lookupAccountByPrograms(name), null);
  assert.equal(await lookupAccount(name), null);
});

test(
  "a user with supplementary groups, then a membership change seen on the next lookup",
  { skip: (!isRoot && "needs root") || (!filesAnswer && "NSS is not files here") },
  async (t) => {
    const first = createTestGroup();
    const second = createTestGroup();
    const later = createTestGroup();
    const user = createTestUser({ prefix: "nssha", groups: [first.name, second.name] });
    t.after(() => {
      user.remove();
      for (const g of [first, second, later]) g.remove();
    });
    const before = lookupAccountInFiles(user.name);
    assertSameAccount(before, await lookupAccountByPrograms(user.name));
    assert.deepEqual(
      before!.groups.map((g) => g.name).sort(),
      [user.name, first.name, second.name].sort(),
      "the primary group and both supplementary ones",
    );
    assert.equal(before!.groups[0]!.gid, user.gid, "the primary group first");

    const added = spawnSync("usermod", ["-aG", later.name, user.name], { encoding: "utf8" });
    assert.equal(added.status, 0, added.stderr);
    const after = await lookupAccount(user.name);
    assert.ok(
      after?.groups.some((g) => g.name === later.name),
      "the new group is seen at once",
    );
    assertSameAccount(after, await lookupAccountByPrograms(user.name));

    const removed = spawnSync("gpasswd", ["-d", user.name, first.name], { encoding: "utf8" });
    assert.equal(removed.status, 0, removed.stderr);
    const last = await lookupAccount(user.name);
    assert.ok(!last?.groups.some((g) => g.name === first.name), "the group left is gone at once");
    assertSameAccount(last, await lookupAccountByPrograms(user.name));
  },
);
