/**
 * sshd_config against the real sshd (Debian's OpenSSH 9.2):
 * (1) `-t`: every broken config in test/fixtures/sshdConfig/broken gives one clear error naming its file and
 *     line, and `sshd -t -f` refuses the same file at the same line;
 * (2) `-T`: for the sample config (Include, Match, most keywords), formatSshdConfigDump prints what
 *     `sshd -T -f sample [-C spec]` prints, for several connection specs that exercise Match blocks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  checkSshdConfig,
  formatSshdConfigDump,
  loadSshdConfig,
  missingTestSpecField,
  parseConnectionSpec,
} from "../../src/config/sshdConfig.js";
import { runProgram } from "../helpers/processes.js";

const SSHD = "/usr/sbin/sshd";
const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/sshdConfig/", import.meta.url));
const NSSHD = fileURLToPath(new URL("../../src/cli/nsshd.js", import.meta.url));
const haveSshd = existsSync(SSHD);

/** Copy a fixture tree to a temp dir, replacing @DIR@ in every file with that dir. */
async function stage(t: { after: (fn: () => Promise<void>) => void }, from: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "nssh-sshdcfg-interop-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(from, dir, { recursive: true });
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) await walk(p);
      else await writeFile(p, (await readFile(p, "utf8")).replaceAll("@DIR@", dir));
    }
  };
  await walk(dir);
  return dir;
}

test("-t: 26 broken configs, each one error naming file and line; sshd -t refuses them too", async (t) => {
  const dir = await stage(t, join(FIXTURES, "broken"));
  const names = (await readdir(dir)).filter((n) => n.endsWith(".conf")).sort();
  assert.ok(names.length >= 20);
  for (const name of names) {
    const file = join(dir, name);
    const text = await readFile(file, "utf8");
    const expectLine = /^# expect-line: (.+)$/m.exec(text)![1]!;
    const expectText = /^# expect: (.+)$/m.exec(text)![1]!;
    // "inc/x.conf:2" names an included file; a bare number is a line of the fixture itself.
    const [where, line] = expectLine.includes(":") ? expectLine.split(":") : [name, expectLine];
    const whereFile = join(dir, where!);
    const check = await checkSshdConfig({ file, includeDir: dir });
    assert.equal(check.config, null, `${name} must be refused`);
    assert.equal(check.errors.length, 1, `${name}: ${check.messages.join(" | ")}`);
    const err = check.errors[0]!;
    assert.equal(err.file, whereFile, name);
    assert.equal(err.line, Number(line), name);
    assert.ok(err.message.startsWith(`${whereFile} line ${line}: `), err.message);
    assert.ok(err.message.includes(expectText), `${name}: "${err.message}" lacks "${expectText}"`);
    // The nsshd program says the same, and exits 1.
    const ours = await runProgram(process.execPath, [NSSHD, "-t", "-f", file], { timeoutMs: 10_000 });
    assert.equal(ours.status, 1, `nsshd -t: ${name}: ${ours.stderr}`);
    assert.ok(ours.stderr.includes(`${whereFile} line ${line}: `), `nsshd -t: ${name}: ${ours.stderr}`);
    if (haveSshd) {
      const run = await runProgram(SSHD, ["-t", "-f", file], { timeoutMs: 10_000 });
      assert.equal(run.status, 255, `sshd -t accepted ${name}`);
      assert.match(run.stderr, new RegExp(`line ${line}\\b`), `${name}: sshd said ${run.stderr}`);
    }
  }
});

/** Lines of our dump that OpenSSH 9.2 does not print (keywords added in later releases). */
const NEWER_THAN_92 = /^(persourcepenalties|persourcepenaltyexemptlist|refuseconnection|sshdsessionpath) /;

const SPECS = [
  "user=alice,host=a.example.com,addr=192.168.1.5,laddr=127.0.0.1,lport=2223",
  "user=root,host=x.test,addr=192.168.1.5,laddr=127.0.0.1,lport=22",
  "user=dave,host=x.test,addr=192.168.66.1,laddr=127.0.0.2,lport=22",
  "user=carol,host=b.example.com,addr=10.1.2.3,laddr=127.0.0.2,lport=2223",
  "user=root,host=x.test,addr=fd00::1,laddr=127.0.0.2,lport=1",
  "user=bob,host=a.example.com,addr=192.168.1.1,laddr=127.0.0.2,lport=2223",
];

test(
  "-T: the sample config's dump equals sshd -T for connection specs reaching every Match block",
  { skip: !haveSshd },
  async (t) => {
    const dir = await stage(t, join(FIXTURES, "sample"));
    for (const type of ["ed25519", "ecdsa", "rsa"]) {
      const key = join(dir, `ssh_host_${type}_key`);
      const made = await runProgram("ssh-keygen", ["-q", "-t", type, "-N", "", "-f", key], {
        timeoutMs: 20_000,
      });
      assert.equal(made.status, 0, made.stderr);
    }
    const file = join(dir, "sshd_config");
    const config = await loadSshdConfig({ file, includeDir: dir });
    assert.deepEqual(config.warnings, [`${file} line 89: Deprecated option UsePrivilegeSeparation`]);

    // Without -C (and with a spec missing lport) sshd 9.2 refuses because of `Match LocalPort`; so do we.
    const refused = await runProgram(SSHD, ["-T", "-f", file], { timeoutMs: 10_000 });
    assert.equal(refused.status, 255);
    assert.ok(refused.stderr.includes(missingTestSpecField(config, null)!), refused.stderr);

    const seen = new Set<string>();
    for (const spec of SPECS) {
      const run = await runProgram(SSHD, ["-T", "-f", file, "-C", spec], { timeoutMs: 10_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(missingTestSpecField(config, parseConnectionSpec(spec)), null);
      const ours = formatSshdConfigDump(config.forConnection(parseConnectionSpec(spec)))
        .split("\n")
        .filter((l) => !NEWER_THAN_92.test(l));
      assert.deepEqual(ours, run.stdout.split("\n"), `dump for -C ${spec}`);
      // The nsshd program prints that dump.
      const program = await runProgram(process.execPath, [NSSHD, "-T", "-f", file, "-C", spec], {
        timeoutMs: 10_000,
      });
      assert.equal(program.status, 0, program.stderr);
      assert.deepEqual(
        program.stdout.split("\n").filter((l) => !NEWER_THAN_92.test(l)),
        ours,
        `nsshd -T -C ${spec}`,
      );
      for (const l of ours) seen.add(l);
    }
    // The specs reach every Match block of the sample: each of these values appears in some dump.
    for (const line of [
      "passwordauthentication yes",
      "maxauthtries 2",
      "forcecommand /usr/bin/rsync --server",
      "permittty no",
      "banner none",
      "permitopen any",
      "chrootdirectory /srv/chroot/%u",
      "permitrootlogin no",
      "allowusers zed",
      "pubkeyauthentication no",
      "acceptenv EDITOR",
    ]) {
      assert.ok(seen.has(line), `no dump showed "${line}"`);
    }
  },
);

test("-o: command-line options in the dump equal sshd -T -o", { skip: !haveSshd }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "nssh-sshdcfg-o-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = join(dir, "hostkey");
  assert.equal(
    (await runProgram("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key], { timeoutMs: 20_000 }))
      .status,
    0,
  );
  const file = join(dir, "sshd_config");
  await writeFile(
    file,
    `HostKey ${key}\nPasswordAuthentication yes\nMaxAuthTries 3\nMatch User bob\n\tMaxAuthTries 5\nMatch All\n\tX11Forwarding yes\n`,
  );
  const options = ["PasswordAuthentication=no", "MaxAuthTries=9", "Port 2022", "X11Forwarding no"];
  for (const spec of [null, "user=bob,host=h,addr=10.0.0.1"]) {
    const argv = ["-T", "-f", file, ...options.flatMap((o) => ["-o", o]), ...(spec ? ["-C", spec] : [])];
    const run = await runProgram(SSHD, argv, { timeoutMs: 10_000 });
    assert.equal(run.status, 0, run.stderr);
    const config = await loadSshdConfig({ file, commandLineOptions: options });
    // sshd -T always runs the Match pass, with an empty connection when there is no -C: `Match All` blocks
    // then override -o values, unlike in the daemon's global settings.
    const settings = config.forConnection(spec ? parseConnectionSpec(spec) : {});
    const ours = formatSshdConfigDump(settings)
      .split("\n")
      .filter((l) => !NEWER_THAN_92.test(l) && !/^(ciphers|macs|kexalgorithms|hostkeyalgorithms) /.test(l));
    const theirs = run.stdout
      .split("\n")
      .filter((l) => !/^(ciphers|macs|kexalgorithms|hostkeyalgorithms) /.test(l));
    assert.deepEqual(ours, theirs, `-o dump for ${spec ?? "no -C"}`);
  }
});

test(
  "-T: sshd's defaults for every keyword (a config with only a HostKey)",
  { skip: !haveSshd },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "nssh-sshdcfg-defaults-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const key = join(dir, "hostkey");
    const made = await runProgram("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key], {
      timeoutMs: 20_000,
    });
    assert.equal(made.status, 0, made.stderr);
    const file = join(dir, "sshd_config");
    await writeFile(file, `HostKey ${key}\n`);
    const run = await runProgram(SSHD, ["-T", "-f", file], { timeoutMs: 10_000 });
    assert.equal(run.status, 0, run.stderr);
    const config = await loadSshdConfig({ file });
    // The transport's algorithm lists are nssh's own defaults (shared/ARCHITECTURE.md), not sshd 9.2's.
    const ours = formatSshdConfigDump(config.forConnection({})).split("\n");
    const transportLists = /^(ciphers|macs|kexalgorithms|hostkeyalgorithms) /;
    assert.deepEqual(
      ours.filter((l) => !NEWER_THAN_92.test(l) && !transportLists.test(l)),
      run.stdout.split("\n").filter((l) => !transportLists.test(l)),
    );
    assert.ok(ours.includes(`ciphers ${config.global.ciphers.join(",")}`));
    assert.equal(config.global.ciphers[0], "chacha20-poly1305@openssh.com");
  },
);
