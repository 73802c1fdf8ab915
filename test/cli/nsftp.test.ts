/**
 * nsftp against OpenSSH's sshd (internal-sftp), reached through `-S /usr/bin/ssh`: a batch script using
 * every command, its results checked on disk; batch abort and the `-` prefix; an interrupted put
 * completed by reput, and reget of a truncated download.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  runCli,
  spawnCli,
  sha256File,
  startTransferWorld,
  writeRandomFile,
  transferSkip,
  type TransferServer,
  type TransferWorld,
} from "../helpers/transferFixtures.js";

const MiB = 1024 * 1024;

describe("nsftp against OpenSSH's sshd", { skip: transferSkip, concurrency: 1 }, () => {
  let server: TransferServer;
  let local: string;
  let remote: string;
  let world: TransferWorld | undefined;

  before(async () => {
    world = await startTransferWorld("nsftp");
    ({ server, local, remote } = world);
  });

  after(() => world?.stop());

  function args(...extra: string[]): string[] {
    return [
      "-S",
      "/usr/bin/ssh",
      "-P",
      String(server.sshd.port),
      ...server.sshOptions,
      ...extra,
      "root@127.0.0.1",
    ];
  }

  test("a batch script with every command, checked on disk", { timeout: 30_000 }, async () => {
    fs.writeFileSync(path.join(local, "up.txt"), "uploaded\n");
    fs.mkdirSync(path.join(local, "tree/sub"), { recursive: true });
    fs.writeFileSync(path.join(local, "tree/a.txt"), "A");
    fs.writeFileSync(path.join(local, "tree/sub/b.txt"), "B");
    fs.utimesSync(path.join(local, "tree/a.txt"), 1_500_000_000, 1_500_000_000);
    fs.writeFileSync(path.join(remote, "down1.log"), "one");
    fs.writeFileSync(path.join(remote, "down2.log"), "two");
    const uid = 4242;
    const script = [
      `cd ${remote}`,
      "pwd",
      `lcd ${local}`,
      "lpwd",
      "version",
      "progress",
      "mkdir d1",
      "put up.txt d1/up.txt",
      "put -r tree",
      "put -p tree/a.txt kept.txt",
      "chmod 600 d1/up.txt",
      `chown ${uid} d1/up.txt`,
      `chgrp ${uid} d1/up.txt`,
      "rename d1/up.txt d1/moved.txt",
      "ln -s moved.txt d1/sym",
      "ln d1/moved.txt d1/hard",
      "ls -1",
      "ls -l d1",
      "ls -la *.log",
      "lmkdir got",
      "get *.log got",
      "get -r d1 got/d1copy",
      "df",
      "df -h",
      "lumask 022",
      "lls got",
      "!echo shell-ran",
      "mkdir gone",
      "rmdir gone",
      "rm down2.log",
      "-rm no-such-file",
      "help",
      "bye",
    ];
    fs.writeFileSync(path.join(local, "batch"), script.join("\n") + "\n");
    // -N: batch mode without its implied quiet, so the progress lines ("Uploading ...") show.
    const r = await runCli("nsftp", args("-N", "-b", path.join(local, "batch")), { cwd: local });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, new RegExp(`Remote working directory: ${remote}`));
    assert.match(out, new RegExp(`Local working directory: ${local}`));
    assert.match(out, /SFTP protocol version 3/);
    assert.match(out, /Progress meter (enabled|disabled)/);
    assert.match(out, /sftp> put up.txt d1\/up.txt/);
    assert.match(out, /Uploading up.txt to .*\/d1\/up.txt/);
    assert.match(out, /Fetching .*down1.log to got\/down1.log/);
    assert.match(out, /Local umask: 022/);
    assert.match(out, /shell-ran/);
    assert.match(out, /Size +Used +Avail +\(root\) +%Capacity/);
    assert.match(out, /Removing .*down2.log/);
    assert.match(out, /Available commands:/);
    assert.match(r.stderr, /remote delete .*no-such-file: No such file or directory/);
    // On the remote disk.
    assert.equal(fs.readFileSync(path.join(remote, "d1/moved.txt"), "utf8"), "uploaded\n");
    const st = fs.statSync(path.join(remote, "d1/moved.txt"));
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, uid);
    assert.equal(st.gid, uid);
    assert.equal(fs.readlinkSync(path.join(remote, "d1/sym")), "moved.txt");
    assert.equal(fs.statSync(path.join(remote, "d1/hard")).ino, st.ino);
    assert.equal(fs.readFileSync(path.join(remote, "tree/sub/b.txt"), "utf8"), "B");
    assert.equal(fs.statSync(path.join(remote, "kept.txt")).mtimeMs, 1_500_000_000_000);
    assert.equal(fs.existsSync(path.join(remote, "gone")), false);
    assert.equal(fs.existsSync(path.join(remote, "down2.log")), false);
    // ls output.
    assert.match(out, /^moved\.txt$|-rw------- .* moved\.txt/m);
    assert.match(out, /^tree$/m);
    assert.match(out, /down1\.log/);
    // On the local disk.
    assert.equal(fs.readFileSync(path.join(local, "got/down1.log"), "utf8"), "one");
    assert.equal(fs.readFileSync(path.join(local, "got/down2.log"), "utf8"), "two");
    assert.equal(fs.readFileSync(path.join(local, "got/d1copy/moved.txt"), "utf8"), "uploaded\n");
  });

  test("-D speaks to OpenSSH's sftp-server directly, no ssh", { timeout: 30_000 }, async (t) => {
    if (!fs.existsSync("/usr/lib/openssh/sftp-server")) return t.skip("no /usr/lib/openssh/sftp-server");
    fs.writeFileSync(path.join(remote, "direct.txt"), "direct");
    const r = await runCli("nsftp", ["-D", "/usr/lib/openssh/sftp-server", "-b", "-"], {
      cwd: local,
      input: `get ${remote}/direct.txt\nversion\n`,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /SFTP protocol version 3/);
    assert.equal(fs.readFileSync(path.join(local, "direct.txt"), "utf8"), "direct");
  });

  test("batch mode aborts at the first failing command, exit 1", { timeout: 30_000 }, async () => {
    const batch = path.join(local, "abort");
    fs.writeFileSync(batch, `cd ${remote}\nget missing.bin\nmkdir never\n`);
    const r = await runCli("nsftp", args("-b", batch), { cwd: local });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`File "${remote}/missing.bin" not found.`));
    assert.equal(fs.existsSync(path.join(remote, "never")), false);
  });

  test("batch from stdin with @ and - prefixes", { timeout: 30_000 }, async () => {
    const r = await runCli("nsftp", args("-b", "-"), {
      cwd: local,
      input: `@cd ${remote}\n-@rmdir nothing\npwd\n`,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /sftp> cd/);
    assert.match(r.stdout, /sftp> pwd/);
    assert.match(r.stderr, /remote rmdir ".*nothing": No such file or directory/);
  });

  test(
    "an interrupted put is completed by reput; a truncated get by reget",
    { timeout: 30_000 },
    async () => {
      const src = path.join(local, "big.bin");
      const sum = writeRandomFile(src, 20 * MiB);
      // A partial upload, as a killed put leaves it: an exact prefix.
      fs.writeFileSync(path.join(remote, "big.bin"), fs.readFileSync(src).subarray(0, 7 * MiB + 3));
      fs.writeFileSync(path.join(local, "part.bin"), fs.readFileSync(src).subarray(0, 5 * MiB + 1));
      const batch = path.join(local, "resume");
      fs.writeFileSync(batch, `cd ${remote}\nlcd ${local}\nreput big.bin\nreget big.bin part.bin\n`);
      const r = await runCli("nsftp", args("-N", "-b", batch), { cwd: local });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Resuming upload of big.bin to /);
      assert.match(r.stdout, /Resuming .*big.bin to part.bin/);
      assert.equal(sha256File(path.join(remote, "big.bin")), sum);
      assert.equal(sha256File(path.join(local, "part.bin")), sum);
    },
  );

  test("a put killed half-way leaves a prefix that reput completes", { timeout: 30_000 }, async () => {
    const src = path.join(local, "kill.bin");
    const sum = writeRandomFile(src, 60 * MiB);
    const batch = path.join(local, "kill-batch");
    fs.writeFileSync(batch, `cd ${remote}\nlcd ${local}\nput kill.bin\n`);
    const put = spawnCli("nsftp", args("-b", batch), local);
    const target = path.join(remote, "kill.bin");
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !(fs.existsSync(target) && fs.statSync(target).size > 5 * MiB)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    put.kill("SIGKILL");
    await new Promise((r) => put.once("close", r));
    const partial = fs.statSync(target).size;
    if (partial < 60 * MiB) {
      const head = fs.readFileSync(target);
      assert.ok(
        head.equals(fs.readFileSync(src).subarray(0, partial)),
        "the partial file is an exact prefix",
      );
    }
    fs.writeFileSync(batch, `cd ${remote}\nlcd ${local}\nreput kill.bin\n`);
    const r = await runCli("nsftp", args("-b", batch), { cwd: local });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(sha256File(target), sum);
  });
});
