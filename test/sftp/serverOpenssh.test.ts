/**
 * The real OpenSSH `sftp` and `scp` against our library server's "sftp" subsystem (serveSftp on the real
 * disk): a batch script that uses every request and extension OpenSSH's client sends, with its results
 * checked on disk (sha256 of contents, modes, times kept by -p, symlinks, hard links, renames, df), scp
 * in its default SFTP mode up and down (one file, a tree of 1,000 files, a large file), and a read-only
 * server refusing every write with the message a user sees.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { opensshAvailable } from "../helpers/opensshServer.js";
import {
  runScp,
  runSftpBatch,
  sha256File,
  startSftpTestServer,
  writeRandomFile,
  type SftpTestServer,
} from "../helpers/sftpServerFixtures.js";

const skip = !opensshAvailable() ? "OpenSSH is not installed" : false;
const MiB = 1024 * 1024;

async function serverWithFolders(
  t: { after(fn: () => Promise<void>): void },
  options: Parameters<typeof startSftpTestServer>[0] = {},
): Promise<{ srv: SftpTestServer; local: string; remote: string }> {
  const srv = await startSftpTestServer(options);
  t.after(() => srv.close());
  const local = path.join(srv.dir, "local");
  const remote = path.join(srv.dir, "remote");
  fs.mkdirSync(local);
  fs.mkdirSync(remote);
  return { srv, local, remote };
}

describe("OpenSSH sftp against our SFTP server", { skip }, () => {
  test(
    "a batch script using every request and extension; results checked on disk",
    { timeout: 28_000 },
    async (t) => {
      const { srv, local, remote } = await serverWithFolders(t);
      await writeRandomFile(path.join(local, "data.bin"), 3 * MiB + 17);
      fs.chmodSync(path.join(local, "data.bin"), 0o640);
      fs.utimesSync(path.join(local, "data.bin"), 1_000_000_000, 1_234_567_890);
      fs.writeFileSync(path.join(remote, "old.txt"), "old contents\n");
      fs.writeFileSync(path.join(local, "part.txt"), "0123456789");
      const localHash = await sha256File(path.join(local, "data.bin"));
      const script = [
        `cd ${remote}`,
        "pwd",
        "put -p -f data.bin up.bin", // OPEN(WRITE|CREAT|TRUNC), WRITE, FSETSTAT (mode, times), fsync@
        "get -p up.bin down.bin", // STAT, OPEN(READ), READ, FSTAT
        "mkdir dir1", // MKDIR
        "rename up.bin dir1/moved.bin", // posix-rename@
        "ln -s dir1/moved.bin link1", // SYMLINK (OpenSSH's argument order)
        "ln dir1/moved.bin hard1", // hardlink@
        "chmod 600 hard1", // SETSTAT
        "chmod -h 604 old.txt", // lsetstat@
        "copy dir1/moved.bin copied.bin", // copy-data
        "ls -la", // OPENDIR, READDIR, users-groups-by-id@
        "ls -l link1", // LSTAT
        "df", // statvfs@
        "df -h",
        "put part.txt part.txt",
        "rm old.txt", // REMOVE
        "mkdir gone",
        "rmdir gone", // RMDIR
        "-rm does-not-exist",
        "-rmdir dir1",
        "-get nothing-here",
        "version",
      ].join("\n");
      const r = await runSftpBatch(srv, script + "\n", { cwd: local });
      assert.equal(r.status, 0, `sftp failed:\n${r.stdout}\n${r.stderr}\n${srv.log.join("\n")}`);
      // Contents, modes and times on disk.
      assert.equal(await sha256File(path.join(remote, "dir1", "moved.bin")), localHash);
      assert.equal(await sha256File(path.join(local, "down.bin")), localHash);
      assert.equal(await sha256File(path.join(remote, "copied.bin")), localHash);
      const moved = fs.statSync(path.join(remote, "dir1", "moved.bin"));
      assert.equal(moved.mtimeMs / 1000, 1_234_567_890, "put -p kept the modification time");
      assert.equal(fs.statSync(path.join(local, "down.bin")).mtimeMs / 1000, 1_234_567_890, "get -p too");
      // hard1 is the same inode as moved.bin, chmod 600 applies to both.
      assert.equal(fs.statSync(path.join(remote, "hard1")).ino, moved.ino);
      assert.equal(moved.mode & 0o777, 0o600);
      assert.equal(moved.nlink, 2);
      assert.equal(fs.readlinkSync(path.join(remote, "link1")), "dir1/moved.bin");
      assert.equal(fs.existsSync(path.join(remote, "up.bin")), false);
      assert.equal(fs.existsSync(path.join(remote, "old.txt")), false);
      assert.equal(fs.existsSync(path.join(remote, "gone")), false);
      assert.equal(fs.readFileSync(path.join(remote, "part.txt"), "utf8"), "0123456789");
      // What the user saw.
      assert.match(r.stdout, new RegExp(`Remote working directory: ${remote}\\n`));
      assert.match(r.stdout, /lrwxrwxrwx .* link1/);
      assert.match(r.stdout, /-rw------- .* hard1/);
      assert.match(r.stdout, /Size\s+Used\s+Avail\s+\(root\)\s+%Capacity/);
      assert.match(r.stdout, /SFTP protocol version 3/);
      assert.match(r.stderr, /does-not-exist.*No such file/);
      assert.match(r.stderr, /Couldn't rmdir|remote rmdir "[^"]*dir1": Failure/);
      assert.match(r.stderr, /nothing-here.*not found|No such file/);
      assert.ok(srv.log.some((l) => l.includes("copy-data from")));
      assert.ok(srv.log.some((l) => l.includes("lsetstat")));
    },
  );

  test("a read-only server (-R) refuses every write, reads still work", { timeout: 28_000 }, async (t) => {
    const { srv, local, remote } = await serverWithFolders(t, { readOnly: true });
    fs.writeFileSync(path.join(remote, "keep.txt"), "keep\n");
    fs.writeFileSync(path.join(local, "up.txt"), "up\n");
    const script = [
      `cd ${remote}`,
      "-put up.txt up.txt",
      "-mkdir newdir",
      "-rm keep.txt",
      "-rename keep.txt moved.txt",
      "-chmod 777 keep.txt",
      "-ln -s keep.txt sl",
      "-ln keep.txt hl",
      "get keep.txt got.txt",
      "ls",
    ].join("\n");
    const r = await runSftpBatch(srv, script + "\n", { cwd: local });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(fs.readdirSync(remote), ["keep.txt"]);
    assert.equal(fs.statSync(path.join(remote, "keep.txt")).mode & 0o777, 0o644);
    assert.equal(fs.readFileSync(path.join(local, "got.txt"), "utf8"), "keep\n");
    const denied = r.stderr.match(/Permission denied/g) ?? [];
    assert.ok(denied.length >= 7, `each write refused:\n${r.stderr}`);
  });

  test("a chroot-like root: paths with .. stay inside it", { timeout: 28_000 }, async (t) => {
    const srv = await startSftpTestServer(() => ({ root: path.join(srv.dir, "jail") }));
    t.after(() => srv.close());
    fs.mkdirSync(path.join(srv.dir, "jail", "sub"), { recursive: true });
    fs.writeFileSync(path.join(srv.dir, "jail", "inside.txt"), "inside\n");
    fs.writeFileSync(path.join(srv.dir, "outside.txt"), "outside\n");
    const script = [
      "pwd",
      "cd ../../..",
      "pwd",
      "ls -1",
      "-get ../../outside.txt got1",
      "-get /../outside.txt got2",
      "put /etc/hostname ../../../escaped.txt",
      "cd /sub/../..",
      "pwd",
    ].join("\n");
    const r = await runSftpBatch(srv, script + "\n", { cwd: srv.dir });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.match(/Remote working directory: \/\n/g)?.length, 3);
    assert.match(r.stdout, /sftp> ls -1\ninside\.txt\nsub\n/, "only the root's own names");
    assert.equal(fs.existsSync(path.join(srv.dir, "got1")), false);
    assert.equal(fs.existsSync(path.join(srv.dir, "got2")), false);
    assert.equal(fs.existsSync(path.join(srv.dir, "escaped.txt")), false);
    assert.equal(fs.existsSync(path.join(srv.dir, "jail", "escaped.txt")), true, "landed inside the root");
  });

  test(
    "scp to ~/ paths uses expand-path@openssh.com and lands in the session's home",
    { timeout: 28_000 },
    async (t) => {
      const srv = await startSftpTestServer(() => ({
        root: path.join(srv.dir, "jail"),
        homeDirectory: "/home/me",
      }));
      t.after(() => srv.close());
      fs.mkdirSync(path.join(srv.dir, "jail", "home", "me"), { recursive: true });
      fs.writeFileSync(path.join(srv.dir, "up.txt"), "to the home\n");
      const r = await runScp(srv, ["up.txt", "remote:~/up.txt"], { cwd: srv.dir });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(
        fs.readFileSync(path.join(srv.dir, "jail", "home", "me", "up.txt"), "utf8"),
        "to the home\n",
      );
      const back = await runScp(srv, ["remote:~/up.txt", "back.txt"], { cwd: srv.dir });
      assert.equal(back.status, 0, back.stderr);
      assert.equal(fs.readFileSync(path.join(srv.dir, "back.txt"), "utf8"), "to the home\n");
    },
  );
});

describe("OpenSSH scp (SFTP mode) against our SFTP server", { skip }, () => {
  test(
    "one file up and down with -p, and a missing file is an error with exit status 1",
    { timeout: 28_000 },
    async (t) => {
      const { srv, local, remote } = await serverWithFolders(t);
      await writeRandomFile(path.join(local, "f.bin"), 5 * MiB + 3);
      fs.utimesSync(path.join(local, "f.bin"), 1_500_000_000, 1_600_000_000);
      const up = await runScp(srv, ["-p", "f.bin", `remote:${remote}/f.bin`], { cwd: local });
      assert.equal(up.status, 0, up.stderr);
      const down = await runScp(srv, [`remote:${remote}/f.bin`, "back.bin"], { cwd: local });
      assert.equal(down.status, 0, down.stderr);
      const h = await sha256File(path.join(local, "f.bin"));
      assert.equal(await sha256File(path.join(remote, "f.bin")), h);
      assert.equal(await sha256File(path.join(local, "back.bin")), h);
      assert.equal(fs.statSync(path.join(remote, "f.bin")).mtimeMs / 1000, 1_600_000_000);
      const missing = await runScp(srv, [`remote:${remote}/missing`, "x"], { cwd: local });
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /No such file/);
    },
  );

  test("a tree of 1,000 small files up and back down (-r)", { timeout: 28_000 }, async (t) => {
    const { srv, local, remote } = await serverWithFolders(t);
    const tree = path.join(local, "tree");
    const expected = new Map<string, string>();
    for (let d = 0; d < 10; d++) {
      fs.mkdirSync(path.join(tree, `d${d}`, "deeper"), { recursive: true });
      for (let f = 0; f < 100; f++) {
        const rel = path.join(`d${d}`, f % 2 ? "deeper" : "", `f${f}.txt`);
        const content = `file ${d}/${f} ${"x".repeat(f * 7)}\n`;
        fs.writeFileSync(path.join(tree, rel), content);
        expected.set(rel, content);
      }
    }
    const up = await runScp(srv, ["-r", "tree", `remote:${remote}/`], { cwd: local });
    assert.equal(up.status, 0, up.stderr);
    const down = await runScp(srv, ["-r", `remote:${remote}/tree`, "back"], { cwd: local });
    assert.equal(down.status, 0, down.stderr);
    for (const [rel, content] of expected) {
      assert.equal(fs.readFileSync(path.join(remote, "tree", rel), "utf8"), content);
      assert.equal(fs.readFileSync(path.join(local, "back", rel), "utf8"), content);
    }
  });

  test("a large file up and down with equal sha256", { timeout: 30_000 }, async (t) => {
    const { srv, local, remote } = await serverWithFolders(t);
    // 1 GiB is for the bench; this size keeps the test well inside its time on a busy machine.
    const size = 128 * MiB + 12345;
    await writeRandomFile(path.join(local, "big.bin"), size);
    const h = await sha256File(path.join(local, "big.bin"));
    const up = await runScp(srv, ["big.bin", `remote:${remote}/big.bin`], { cwd: local, timeoutMs: 13_000 });
    assert.equal(up.status, 0, up.stderr);
    assert.equal(await sha256File(path.join(remote, "big.bin")), h);
    fs.rmSync(path.join(local, "big.bin"));
    const down = await runScp(srv, [`remote:${remote}/big.bin`, "big.bin"], {
      cwd: local,
      timeoutMs: 13_000,
    });
    assert.equal(down.status, 0, down.stderr);
    assert.equal(fs.statSync(path.join(local, "big.bin")).size, size);
    assert.equal(await sha256File(path.join(local, "big.bin")), h);
  });
});
