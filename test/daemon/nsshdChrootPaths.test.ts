/**
 * ChrootDirectory's path (sshd_config(5) TOKENS; session.c safely_chroot): tokens and `~` are expanded for
 * the user, and each component must be a root-owned directory not writable by group or others, with
 * sshd's messages naming the directory or component that is not.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { checkChrootDirectory, chrootConfigured, resolveChrootDirectory } from "../../src/daemon/chroot.js";
import { makeChrootBase } from "../helpers/chrootFixtures.js";
import { isRoot } from "../helpers/systemUsers.js";

const account = { name: "alice", uid: 1234, home: "/home/alice" };

test("ChrootDirectory tokens: %h %u %U %i %% and ~, none, unknown tokens", () => {
  assert.equal(resolveChrootDirectory("/srv/%u", account), "/srv/alice");
  assert.equal(resolveChrootDirectory("/srv/%U/%i", account), "/srv/1234/1234");
  assert.equal(resolveChrootDirectory("%h/jail", account), "/home/alice/jail");
  assert.equal(resolveChrootDirectory("~/jail", account), "/home/alice/jail");
  assert.equal(resolveChrootDirectory("/srv/100%%", account), "/srv/100%");
  assert.equal(resolveChrootDirectory("none", account), null);
  assert.equal(resolveChrootDirectory("NONE", account), null);
  assert.equal(resolveChrootDirectory(undefined, account), null);
  assert.equal(chrootConfigured("none"), false);
  assert.equal(chrootConfigured("/srv/%u"), true);
  assert.throws(
    () => resolveChrootDirectory("/srv/%x", account),
    (e: Error & { code?: string }) =>
      e.code === "CONFIG" && /ChrootDirectory: unknown key %x/.test(e.message),
  );
});

test(
  "ChrootDirectory checks: sshd's messages for each way a path is refused",
  { skip: !isRoot && "needs root" },
  async (t) => {
    const base = makeChrootBase();
    t.after(() => base.remove());
    const jail = path.join(base.dir, "jail");
    fs.mkdirSync(jail, { mode: 0o755 });
    await checkChrootDirectory(jail);
    await checkChrootDirectory(jail + "/");

    await assert.rejects(checkChrootDirectory("relative/jail"), /chroot path does not begin at root/);
    await assert.rejects(
      checkChrootDirectory(path.join(base.dir, "missing")),
      new RegExp(`stat\\("${base.dir}/missing"\\): No such file or directory`),
    );
    fs.chmodSync(jail, 0o775);
    await assert.rejects(
      checkChrootDirectory(jail),
      new RegExp(`bad ownership or modes for chroot directory "${jail}"`),
    );
    fs.chmodSync(jail, 0o757);
    await assert.rejects(checkChrootDirectory(jail), /bad ownership or modes for chroot directory "/);
    fs.chmodSync(jail, 0o755);
    fs.chownSync(jail, 1, 1);
    await assert.rejects(checkChrootDirectory(jail), /bad ownership or modes for chroot directory "/);
    fs.chownSync(jail, 0, 0);
    // /tmp is world-writable (1777): no chroot can be under it.
    await assert.rejects(
      checkChrootDirectory("/tmp/anything"),
      /bad ownership or modes for chroot directory component "\/tmp\/"/,
    );
    const file = path.join(jail, "file");
    fs.writeFileSync(file, "", { mode: 0o644 });
    await assert.rejects(checkChrootDirectory(file), new RegExp(`chroot path "${file}" is not a directory`));
    await assert.rejects(
      checkChrootDirectory(path.join(file, "below")),
      /chroot path component ".*\/file\/" is not a directory|Not a directory/,
    );
  },
);
