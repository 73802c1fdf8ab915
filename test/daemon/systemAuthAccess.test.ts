/**
 * The system policy's rules without a network: allowed_user (shell, DenyUsers/AllowUsers with user@host,
 * DenyGroups/AllowGroups), PermitRootLogin per method, StrictModes path checks in sshd's words, token
 * expansion and AuthorizedKeysCommand word splitting.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import type { SystemAccount } from "../../src/daemon/accounts.js";
import {
  authorizedKeysPaths,
  expandTokens,
  securePathProblem,
  splitCommandLine,
} from "../../src/daemon/authorizedKeysAccess.js";
import { defaultLoginSettings, type LoginSettings } from "../../src/daemon/loginSettings.js";
import { notAllowedReason, rootLoginAllowed } from "../../src/daemon/systemAuthAccess.js";

const uid = process.geteuid!();
const alice: SystemAccount = {
  name: "alice",
  uid,
  gid: 100,
  gecos: "",
  home: "/home/alice",
  shell: "/bin/sh",
  groups: [
    { gid: 100, name: "users" },
    { gid: 27, name: "sudo" },
  ],
};

function settings(s: Partial<LoginSettings>): LoginSettings {
  return { ...defaultLoginSettings(), ...s };
}

test("allowed_user: DenyUsers and AllowUsers with user@host patterns", async () => {
  assert.equal(await notAllowedReason(alice, settings({}), "127.0.0.1"), null);
  assert.equal(
    await notAllowedReason(alice, settings({ denyUsers: ["bob", "al*@127.0.0.0/8"] }), "127.0.0.1"),
    "User alice from 127.0.0.1 not allowed because listed in DenyUsers",
  );
  assert.equal(await notAllowedReason(alice, settings({ denyUsers: ["alice@10.*"] }), "127.0.0.1"), null);
  assert.equal(
    await notAllowedReason(alice, settings({ allowUsers: ["bob", "alice@10.0.0.1"] }), "127.0.0.1"),
    "User alice from 127.0.0.1 not allowed because not listed in AllowUsers",
  );
  assert.equal(
    await notAllowedReason(alice, settings({ allowUsers: ["alice@127.0.0.1"] }), "127.0.0.1"),
    null,
  );
});

test("allowed_user: DenyGroups and AllowGroups look at every group of the user", async () => {
  assert.equal(
    await notAllowedReason(alice, settings({ denyGroups: ["su*"] }), "127.0.0.1"),
    "User alice from 127.0.0.1 not allowed because a group is listed in DenyGroups",
  );
  assert.equal(
    await notAllowedReason(alice, settings({ allowGroups: ["wheel"] }), "127.0.0.1"),
    "User alice from 127.0.0.1 not allowed because none of user's groups are listed in AllowGroups",
  );
  assert.equal(await notAllowedReason(alice, settings({ allowGroups: ["sudo"] }), "127.0.0.1"), null);
});

test("allowed_user: a missing or non-executable shell", async () => {
  assert.equal(
    await notAllowedReason({ ...alice, shell: "/nonexistent/shell" }, settings({}), "127.0.0.1"),
    "User alice not allowed because shell /nonexistent/shell does not exist",
  );
  assert.equal(
    await notAllowedReason({ ...alice, shell: "/etc/passwd" }, settings({}), "127.0.0.1"),
    "User alice not allowed because shell /etc/passwd is not executable",
  );
});

test("PermitRootLogin per method", () => {
  const table: [LoginSettings["permitRootLogin"], string, boolean, boolean][] = [
    ["yes", "password", false, true],
    ["yes", "publickey", false, true],
    ["prohibit-password", "password", false, false],
    ["prohibit-password", "keyboard-interactive", false, false],
    ["prohibit-password", "publickey", false, true],
    ["forced-commands-only", "publickey", false, false],
    ["forced-commands-only", "publickey", true, true],
    ["forced-commands-only", "password", true, false],
    ["no", "publickey", true, false],
  ];
  for (const [prl, method, forced, expected] of table) {
    assert.equal(
      rootLoginAllowed({ permitRootLogin: prl }, method as "password", forced),
      expected,
      `${prl} ${method} ${forced}`,
    );
  }
});

test("StrictModes: the file and each folder up to the home folder, in sshd's words", async (t) => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-strict-"));
  t.after(() => fs.rmSync(home, { recursive: true, force: true }));
  fs.chmodSync(home, 0o755);
  const ssh = path.join(home, ".ssh");
  fs.mkdirSync(ssh, { mode: 0o700 });
  const file = path.join(ssh, "authorized_keys");
  fs.writeFileSync(file, "", { mode: 0o600 });
  assert.equal(await securePathProblem(file, home, uid), null);
  fs.chmodSync(ssh, 0o770);
  assert.equal(await securePathProblem(file, home, uid), `bad ownership or modes for directory ${ssh}`);
  fs.chmodSync(ssh, 0o700);
  fs.chmodSync(file, 0o666);
  assert.equal(await securePathProblem(file, home, uid), `bad ownership or modes for file ${file}`);
  fs.chmodSync(file, 0o600);
  // Without the home folder as a stop, the walk reaches the world-writable /tmp and refuses.
  assert.equal(
    await securePathProblem(file, "/nonexistent", uid),
    `bad ownership or modes for directory ${path.dirname(home)}`,
  );
  if (uid === 0) {
    fs.chownSync(file, 12345, 12345);
    assert.equal(await securePathProblem(file, home, uid), `bad ownership or modes for file ${file}`);
    // Folders owned by root are trusted for any user; one owned by a third user is not.
    assert.equal(await securePathProblem(file, home, 12345), null);
    fs.chownSync(ssh, 54321, 54321);
    assert.equal(await securePathProblem(file, home, 12345), `bad ownership or modes for directory ${ssh}`);
  }
});

test("AuthorizedKeysFile tokens: %h %u %U %%, relative paths under the home folder, none", () => {
  assert.deepEqual(
    authorizedKeysPaths([".ssh/authorized_keys", "/etc/ssh/keys/%u_%U", "%h/k%%", "none"], alice),
    ["/home/alice/.ssh/authorized_keys", `/etc/ssh/keys/alice_${uid}`, "/home/alice/k%"],
  );
  assert.throws(() => expandTokens("/keys/%x", { u: "a" }), /unknown token %x/);
});

test("AuthorizedKeysCommand words: blanks, quotes and backslashes as sshd's argv_split", () => {
  assert.deepEqual(splitCommandLine(`/usr/bin/keys %u "a b" 'c d' e\\ f`), [
    "/usr/bin/keys",
    "%u",
    "a b",
    "c d",
    "e f",
  ]);
  assert.throws(() => splitCommandLine(`/bin/x "open`), /unterminated/);
});
