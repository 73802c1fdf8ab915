/**
 * `nsftp-server` as OpenSSH sshd's `Subsystem sftp`, driven by OpenSSH's sftp and scp: sshd starts it as
 * the logged-in user with the flags of its Subsystem line (-d start directory with %d/%u tokens, -R
 * read-only, -u umask, -P/-p request lists, -e -l logging), and the files it writes are checked on disk.
 * Also -Q requests and -h as sftp-server prints them.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { makeUserKey, type KeyFile } from "../helpers/authHelpers.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";
import { runTool, sha256File, USER, writeRandomFile } from "../helpers/sftpServerFixtures.js";

const skip = !opensshAvailable() ? "OpenSSH is not installed" : false;
const SERVER_JS = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../src/cli/nsftp-server.cjs",
);

interface Sshd {
  sshd: OpenSshServer;
  args: string[];
}

let dir: string;
let key: KeyFile;

async function sshdWithSubsystem(
  t: { after(fn: () => Promise<void>): void },
  subsystemFlags: string,
): Promise<Sshd> {
  const sshd = await startOpenSshServer([
    `Subsystem sftp ${process.execPath} ${SERVER_JS} ${subsystemFlags}`,
  ]);
  t.after(() => sshd.stop());
  sshd.setAuthorizedKeys([key.key.publicKey.toLine()]);
  const knownHosts = path.join(sshd.dir, "client_known_hosts");
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKeys.get("ed25519")}\n`);
  const args = [
    "-F",
    "/dev/null",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "HostKeyAlgorithms=ssh-ed25519",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
    "-i",
    key.file,
    "-P",
    String(sshd.port),
  ];
  return { sshd, args };
}

function sftpBatch(s: Sshd, script: string, cwd: string) {
  const file = path.join(cwd, `.batch-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(file, script + "\n");
  return runTool("sftp", [...s.args, "-b", file, `${USER}@127.0.0.1`], { cwd });
}

describe("nsftp-server as OpenSSH sshd's sftp subsystem", { skip }, () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-sftpd-"));
    fs.chmodSync(dir, 0o755);
    key = makeUserKey(dir, "id_ed25519", "ed25519");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test(
    "sftp and scp through sshd: files, modes, times, links, df; -d and -u applied",
    { timeout: 28_000 },
    async (t) => {
      const work = fs.mkdtempSync(path.join(dir, "work-"));
      const remote = path.join(work, "remote");
      fs.mkdirSync(remote);
      const s = await sshdWithSubsystem(t, `-d ${remote} -u 027 -e -l info`);
      await writeRandomFile(path.join(work, "data.bin"), 2 * 1024 * 1024 + 5);
      fs.utimesSync(path.join(work, "data.bin"), 1_100_000_000, 1_200_000_000);
      const h = await sha256File(path.join(work, "data.bin"));
      const r = await sftpBatch(
        s,
        [
          "pwd",
          `lcd ${work}`,
          "put -p data.bin kept.bin",
          "put data.bin plain.bin",
          "get kept.bin back.bin",
          "mkdir sub",
          "ln -s kept.bin sl",
          "ln kept.bin hl",
          "rename plain.bin sub/plain.bin",
          "df",
          "ls -l",
        ].join("\n"),
        work,
      );
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}\n${s.sshd.log().slice(-3000)}`);
      assert.match(
        r.stdout,
        new RegExp(`Remote working directory: ${remote}\\n`),
        "-d is the start directory",
      );
      assert.equal(await sha256File(path.join(remote, "kept.bin")), h);
      assert.equal(await sha256File(path.join(remote, "sub", "plain.bin")), h);
      assert.equal(await sha256File(path.join(work, "back.bin")), h);
      assert.equal(fs.statSync(path.join(remote, "kept.bin")).mtimeMs / 1000, 1_200_000_000);
      assert.equal(fs.statSync(path.join(remote, "sub", "plain.bin")).mode & 0o777, 0o640, "umask 027");
      assert.equal(fs.statSync(path.join(remote, "sub")).mode & 0o777, 0o750, "umask 027 on mkdir");
      assert.equal(fs.readlinkSync(path.join(remote, "sl")), "kept.bin");
      assert.equal(fs.statSync(path.join(remote, "hl")).ino, fs.statSync(path.join(remote, "kept.bin")).ino);
      const scp = await runTool(
        "scp",
        [...s.args, "-q", "-r", `${USER}@127.0.0.1:${remote}/sub`, "scpback"],
        {
          cwd: work,
        },
      );
      assert.equal(scp.status, 0, scp.stderr);
      assert.equal(await sha256File(path.join(work, "scpback", "plain.bin")), h);
    },
  );

  test("-R refuses every write through sshd; -P denies a request", { timeout: 28_000 }, async (t) => {
    const work = fs.mkdtempSync(path.join(dir, "work-"));
    fs.writeFileSync(path.join(work, "keep.txt"), "keep\n");
    const ro = await sshdWithSubsystem(t, `-R -d ${work}`);
    const r = await sftpBatch(
      ro,
      [
        "-put /etc/hostname new.txt",
        "-mkdir d",
        "-rm keep.txt",
        "-rename keep.txt k2",
        "get keep.txt got.txt",
      ].join("\n"),
      work,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok((r.stderr.match(/Permission denied/g) ?? []).length >= 4, r.stderr);
    assert.deepEqual(
      fs
        .readdirSync(work)
        .filter((n) => !n.startsWith("."))
        .sort(),
      ["got.txt", "keep.txt"],
    );
    const denied = await sshdWithSubsystem(t, `-P mkdir,remove -d ${work}`);
    const d = await sftpBatch(
      denied,
      ["-mkdir d", "-rm got.txt", "put /etc/hostname host.txt"].join("\n"),
      work,
    );
    assert.equal(d.status, 0, d.stderr);
    assert.equal(fs.existsSync(path.join(work, "d")), false);
    assert.equal(fs.existsSync(path.join(work, "got.txt")), true);
    assert.equal(fs.existsSync(path.join(work, "host.txt")), true);
  });
});

describe("nsftp-server's own flags", () => {
  test("-Q requests lists what -P/-p take, as sftp-server does", async () => {
    const r = await runTool(process.execPath, [SERVER_JS, "-Q", "requests"]);
    assert.equal(r.status, 0);
    const ours = r.stdout.trim().split("\n");
    assert.ok(ours.includes("posix-rename") && ours.includes("users-groups-by-id") && ours.includes("open"));
    const theirs = await runTool("/usr/lib/openssh/sftp-server", ["-Q", "requests"]).catch(() => null);
    if (theirs && theirs.status === 0) assert.deepEqual(ours, theirs.stdout.trim().split("\n"));
  });

  test("-h and bad flags print the usage and exit 1; a bad umask or request name is refused", async () => {
    const h = await runTool(process.execPath, [SERVER_JS, "-h"]);
    assert.equal(h.status, 1);
    assert.match(h.stderr, /^usage: nsftp-server \[-ehR\] \[-d start_directory\]/);
    const bad = await runTool(process.execPath, [SERVER_JS, "-Z"]);
    assert.equal(bad.status, 1);
    const umask = await runTool(process.execPath, [SERVER_JS, "-u", "999"]);
    assert.equal(umask.status, 1);
    assert.match(umask.stderr, /Invalid umask "999"/);
    const name = await runTool(process.execPath, [SERVER_JS, "-P", "frobnicate"]);
    assert.equal(name.status, 1);
    assert.match(name.stderr, /Unknown request "frobnicate"/);
  });
});
