/**
 * nsshd -t, -T, -T -C, -G and bad flags, as sshd(8) answers them: exit codes, the file and line of a
 * broken configuration, the effective configuration printed with Match applied.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { makeNsshdFixture, runNsshd } from "../helpers/nsshdProcess.js";

test("nsshd -t: a good configuration exits 0 and prints nothing", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const r = await runNsshd(["-t", "-f", fx.configFile]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr, "");
});

test("nsshd -t: broken configurations exit 1 naming the file and line", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const cases: Array<[string, RegExp]> = [
    ["NoSuchKeyword yes", /Bad configuration option: NoSuchKeyword/],
    ["PermitRootLogin sometimes", /PermitRootLogin|sometimes/],
    ["MaxStartups 10:200:5", /MaxStartups/],
    ["Match User alice\nPort 2200", /Port/],
    ["LoginGraceTime forever", /LoginGraceTime|forever|time/i],
  ];
  for (const [line, message] of cases) {
    fx.writeConfig([line]);
    // The base config has 7 lines: the broken one is line 8.
    const r = await runNsshd(["-t", "-f", fx.configFile]);
    assert.equal(r.status, 1, `${line}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${fx.configFile.replace(/[.]/g, "\\.")} line (8|9)`), line);
    assert.match(r.stderr, message, line);
  }
});

test("nsshd -t: a missing host key is an error; deprecated keywords only a notice", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const text = fs.readFileSync(fx.configFile, "utf8").replace(/^HostKey .*$/m, `HostKey ${fx.dir}/absent`);
  fs.writeFileSync(fx.configFile, text);
  const r = await runNsshd(["-t", "-f", fx.configFile]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no hostkeys available/);
  // -h adds a key before the file's HostKey lines.
  const withH = await runNsshd(["-t", "-h", path.join(fx.dir, "host_ed25519"), "-f", fx.configFile]);
  assert.equal(withH.status, 0, withH.stderr);
  fx.writeConfig(["Protocol 2", "UsePrivilegeSeparation sandbox"]);
  const ok = await runNsshd(["-t", "-f", fx.configFile]);
  assert.equal(ok.status, 0, ok.stderr);
  // sshd ignores Protocol silently and gives a notice for UsePrivilegeSeparation (servconf.c).
  assert.match(ok.stderr, /sshd_config line 9: Deprecated option UsePrivilegeSeparation/);
  assert.doesNotMatch(ok.stderr, /Protocol/);
});

test("nsshd -T prints the effective configuration; -C applies Match blocks", async (t) => {
  const fx = await makeNsshdFixture([
    "Match User alice",
    "  PasswordAuthentication no",
    "  Banner /etc/issue",
  ]);
  t.after(() => fx.remove());
  const plain = await runNsshd(["-T", "-f", fx.configFile]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, new RegExp(`^port ${fx.port}$`, "m"));
  assert.match(plain.stdout, new RegExp(`^listenaddress 127\\.0\\.0\\.1:${fx.port}$`, "m"));
  assert.match(plain.stdout, /^passwordauthentication yes$/m);
  assert.match(plain.stdout, /^maxstartups 10:30:100$/m);
  const alice = await runNsshd(["-T", "-C", "user=alice,host=h,addr=127.0.0.1", "-f", fx.configFile]);
  assert.equal(alice.status, 0, alice.stderr);
  assert.match(alice.stdout, /^passwordauthentication no$/m);
  assert.match(alice.stdout, /^banner \/etc\/issue$/m);
  const bob = await runNsshd(["-T", "-Cuser=bob,host=h,addr=127.0.0.1", "-f", fx.configFile]);
  assert.match(bob.stdout, /^passwordauthentication yes$/m);
});

test("nsshd -T: -o and -p come before the file, as sshd's command line does", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const r = await runNsshd(["-T", "-f", fx.configFile, "-o", "MaxAuthTries=3", "-oLoginGraceTime=30"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^maxauthtries 3$/m);
  assert.match(r.stdout, /^logingracetime 30$/m);
});

test("nsshd: bad flags are refused with sshd's usage", async (t) => {
  const fx = await makeNsshdFixture();
  t.after(() => fx.remove());
  const r = await runNsshd(["-Z", "-f", fx.configFile]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /illegal option -- Z/);
  assert.match(r.stderr, /usage: nsshd/);
  const noArg = await runNsshd(["-f"]);
  assert.equal(noArg.status, 1);
  assert.match(noArg.stderr, /option requires an argument -- f/);
  const c = await runNsshd(["-C", "user=x", "-f", fx.configFile]);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /-C requires -T/);
  const missing = await runNsshd(["-t", "-f", path.join(fx.dir, "nope")]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope/);
});
