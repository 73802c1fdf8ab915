/**
 * nscp against OpenSSH's sshd through `-S /usr/bin/ssh`, in both modes (SFTP by default, -O legacy), up
 * and down, -r trees and -p times/modes, remote-to-remote (through this host and -R), exit status 1 with
 * OpenSSH's messages; our `nscp -t`/`nscp -f` as the far end of OpenSSH's scp -O; a malicious legacy
 * source sending "../evil" or an unrequested name is refused (CVE-2019-6111); setuid bits dropped.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { runProgram } from "../helpers/processes.js";
import {
  CLI_DIR,
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

function makeTree(root: string): void {
  fs.mkdirSync(path.join(root, "sub/deeper"), { recursive: true });
  fs.writeFileSync(path.join(root, "one.txt"), "one\n", { mode: 0o640 });
  fs.writeFileSync(path.join(root, "sub/two.txt"), "two\n");
  fs.writeFileSync(path.join(root, "sub/deeper/three.bin"), Buffer.alloc(70_000, 3));
  fs.utimesSync(path.join(root, "one.txt"), 1_400_000_000, 1_400_000_000);
  fs.utimesSync(path.join(root, "sub/two.txt"), 1_300_000_000, 1_300_000_000);
}

function assertTree(root: string, preserved: boolean): void {
  assert.equal(fs.readFileSync(path.join(root, "one.txt"), "utf8"), "one\n");
  assert.equal(fs.readFileSync(path.join(root, "sub/two.txt"), "utf8"), "two\n");
  assert.ok(fs.readFileSync(path.join(root, "sub/deeper/three.bin")).equals(Buffer.alloc(70_000, 3)));
  if (preserved) {
    assert.equal(fs.statSync(path.join(root, "one.txt")).mtimeMs, 1_400_000_000_000);
    assert.equal(fs.statSync(path.join(root, "one.txt")).mode & 0o777, 0o640);
    assert.equal(fs.statSync(path.join(root, "sub/two.txt")).mtimeMs, 1_300_000_000_000);
  }
}

describe("nscp against OpenSSH's sshd", { skip: transferSkip, concurrency: 1 }, () => {
  let server: TransferServer;
  let local: string;
  let remote: string;
  let world: TransferWorld | undefined;

  before(async () => {
    world = await startTransferWorld("nscp");
    ({ server, local, remote } = world);
  });

  after(() => world?.stop());

  function flags(...extra: string[]): string[] {
    return ["-S", "/usr/bin/ssh", "-P", String(server.sshd.port), ...server.sshOptions, ...extra];
  }

  for (const mode of ["SFTP", "legacy"] as const) {
    const m = mode === "legacy" ? ["-O"] : [];

    test(`${mode}: a 30 MiB file up and down keeps its sha256`, { timeout: 30_000 }, async () => {
      const src = path.join(local, `big-${mode}.bin`);
      const sum = writeRandomFile(src, 30 * MiB);
      const up = await runCli("nscp", [...flags(...m), src, `root@127.0.0.1:${remote}/`]);
      assert.equal(up.status, 0, up.stderr);
      assert.equal(sha256File(path.join(remote, `big-${mode}.bin`)), sum);
      const back = path.join(local, `back-${mode}.bin`);
      const down = await runCli("nscp", [...flags(...m), `root@127.0.0.1:${remote}/big-${mode}.bin`, back]);
      assert.equal(down.status, 0, down.stderr);
      assert.equal(sha256File(back), sum);
      assert.equal(down.stdout, "", "no progress meter when stdout is not a terminal");
    });

    test(`${mode}: -r -p trees both ways keep contents, times and modes`, { timeout: 30_000 }, async () => {
      const tree = path.join(local, `tree-${mode}`);
      makeTree(tree);
      const up = await runCli("nscp", [...flags(...m, "-r", "-p"), tree, `root@127.0.0.1:${remote}`]);
      assert.equal(up.status, 0, up.stderr);
      assertTree(path.join(remote, `tree-${mode}`), true);
      const into = path.join(local, `down-${mode}`);
      fs.mkdirSync(into);
      const down = await runCli("nscp", [
        ...flags(...m, "-r", "-p"),
        `root@127.0.0.1:${remote}/tree-${mode}`,
        into,
      ]);
      assert.equal(down.status, 0, down.stderr);
      assertTree(path.join(into, `tree-${mode}`), true);
    });

    test(
      `${mode}: a missing file: exit 1 and scp's message; the others still copied`,
      { timeout: 30_000 },
      async () => {
        fs.writeFileSync(path.join(local, `ok-${mode}.txt`), "fine");
        const dir = path.join(remote, `multi-${mode}`);
        fs.mkdirSync(dir);
        const r = await runCli("nscp", [
          ...flags(...m),
          path.join(local, "nope.txt"),
          path.join(local, `ok-${mode}.txt`),
          `127.0.0.1:${dir}`,
        ]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /nope\.txt"?: No such file or directory/);
        assert.equal(fs.readFileSync(path.join(dir, `ok-${mode}.txt`), "utf8"), "fine");
        const d = await runCli("nscp", [...flags(...m), `127.0.0.1:${remote}/absent.bin`, local]);
        assert.equal(d.status, 1);
        assert.match(d.stderr, /scp: .*absent\.bin: No such file or directory/);
      },
    );

    test(`${mode}: setuid is dropped without -p, kept with -p`, { timeout: 30_000 }, async () => {
      const src = path.join(remote, `suid-${mode}`);
      fs.writeFileSync(src, "#!/bin/sh\n");
      fs.chmodSync(src, 0o4755);
      const plain = path.join(local, `suid-plain-${mode}`);
      const kept = path.join(local, `suid-kept-${mode}`);
      const a = await runCli("nscp", [...flags(...m), `127.0.0.1:${src}`, plain]);
      assert.equal(a.status, 0, a.stderr);
      const b = await runCli("nscp", [...flags(...m, "-p"), `127.0.0.1:${src}`, kept]);
      assert.equal(b.status, 0, b.stderr);
      assert.equal(fs.statSync(plain).mode & 0o7000, 0);
      assert.equal(fs.statSync(kept).mode & 0o7777, 0o4755);
    });
  }

  test("remote to remote through this host, and -R directly", { timeout: 30_000 }, async () => {
    const src = path.join(remote, "r2r.bin");
    const sum = writeRandomFile(src, 2 * MiB);
    const r = await runCli("nscp", [...flags(), `127.0.0.1:${src}`, `127.0.0.1:${remote}/r2r-copy.bin`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(sha256File(path.join(remote, "r2r-copy.bin")), sum);
    const r3 = await runCli("nscp", [...flags("-3"), `127.0.0.1:${src}`, `127.0.0.1:${remote}/r2r-3.bin`]);
    assert.equal(r3.status, 0, r3.stderr);
    assert.equal(sha256File(path.join(remote, "r2r-3.bin")), sum);
    // -R: the origin host's scp (OpenSSH's here) copies straight to the destination with our flags.
    const rr = await runCli("nscp", [...flags("-R"), `127.0.0.1:${src}`, `127.0.0.1:${remote}/r2r-R.bin`]);
    assert.equal(rr.status, 0, rr.stderr);
    assert.equal(sha256File(path.join(remote, "r2r-R.bin")), sum);
  });

  test(
    "a download killed half-way leaves an exact prefix; nsftp reget completes it",
    { timeout: 30_000 },
    async () => {
      const src = path.join(remote, "killed.bin");
      const sum = writeRandomFile(src, 80 * MiB);
      const dst = path.join(local, "killed.bin");
      const child = spawnCli("nscp", [...flags(), `127.0.0.1:${src}`, dst], local);
      try {
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && !(fs.existsSync(dst) && fs.statSync(dst).size > 4 * MiB)) {
          await new Promise((r) => setTimeout(r, 10));
        }
      } finally {
        child.kill("SIGKILL");
        await new Promise((r) => child.once("close", r));
      }
      const partial = fs.statSync(dst).size;
      const head = fs.readFileSync(dst);
      assert.ok(
        head.equals(fs.readFileSync(src).subarray(0, partial)),
        "the partial file is an exact prefix",
      );
      const batch = path.join(local, "reget-batch");
      fs.writeFileSync(batch, `reget ${src} ${dst}\n`);
      const r = await runCli("nsftp", [...flags("-b", batch), "127.0.0.1"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(sha256File(dst), sum);
    },
  );

  test("with the default ssh program, our nssh, in both modes", { timeout: 30_000 }, async (t) => {
    if (!fs.existsSync(path.join(CLI_DIR, "nssh.cjs"))) return t.skip("nssh is not built");
    const src = path.join(local, "via-nssh.bin");
    const sum = writeRandomFile(src, 3 * MiB);
    const base = ["-P", String(server.sshd.port), ...server.sshOptions];
    for (const m of [[], ["-O"]]) {
      const dst = path.join(remote, `via-nssh${m.join("")}.bin`);
      const up = await runCli("nscp", [...base, ...m, src, `root@127.0.0.1:${dst}`]);
      assert.equal(up.status, 0, up.stderr);
      assert.equal(sha256File(dst), sum);
      const back = path.join(local, `via-nssh-back${m.join("")}.bin`);
      const down = await runCli("nscp", [...base, ...m, `root@127.0.0.1:${dst}`, back]);
      assert.equal(down.status, 0, down.stderr);
      assert.equal(sha256File(back), sum);
    }
  });

  test("OpenSSH's scp -O against our nscp -t and nscp -f", { timeout: 30_000 }, async () => {
    // An -S program that runs the remote command here, with "scp" meaning our nscp.
    const fakeSsh = path.join(local, "local-ssh.sh");
    fs.writeFileSync(
      fakeSsh,
      `#!/bin/sh\n# the last argument is the remote command\nfor a; do cmd="$a"; done\n` +
        `exec sh -c "$(printf '%s' "$cmd" | sed 's#^scp #${process.execPath} ${CLI_DIR}/nscp.cjs #')"\n`,
      { mode: 0o755 },
    );
    const tree = path.join(local, "ours-src");
    makeTree(tree);
    const dest = path.join(local, "ours-dst");
    fs.mkdirSync(dest);
    const up = await runProgram("scp", ["-O", "-S", fakeSsh, "-r", "-p", tree, `anyhost:${dest}`], {
      timeoutMs: 25_000,
    });
    assert.equal(up.status, 0, up.stderr);
    assertTree(path.join(dest, "ours-src"), true);
    const back = path.join(local, "ours-back");
    fs.mkdirSync(back);
    const down = await runProgram(
      "scp",
      ["-O", "-S", fakeSsh, "-r", "-p", `anyhost:${dest}/ours-src`, back],
      {
        timeoutMs: 25_000,
      },
    );
    assert.equal(down.status, 0, down.stderr);
    assertTree(path.join(back, "ours-src"), true);
  });

  test("legacy: a malicious source's names are refused (CVE-2019-6111)", { timeout: 30_000 }, async () => {
    const work = path.join(local, "evil");
    fs.mkdirSync(work);
    for (const [label, name] of [
      ["dotdot", "../evil"],
      ["slash", "sub/evil"],
      ["unrequested", "other.txt"],
      ["dot", ".."],
    ] as const) {
      const fake = path.join(work, `fake-${label}.sh`);
      // Wait for the sink's zero byte, then offer a file by the hostile name.
      fs.writeFileSync(
        fake,
        `#!/bin/sh\nhead -c 1 >/dev/null\nprintf 'C0644 5 ${name}\\n'\nhead -c 1 >/dev/null\nprintf 'evil\\n\\0'\nsleep 1\n`,
        { mode: 0o755 },
      );
      const into = path.join(work, `into-${label}`);
      fs.mkdirSync(into);
      const r = await runCli("nscp", ["-O", "-S", fake, "host:wanted.txt", into]);
      assert.equal(r.status, 1, label);
      assert.match(r.stderr, /unexpected filename|filename does not match request/, label);
      assert.deepEqual(fs.readdirSync(into), [], label);
      assert.equal(fs.existsSync(path.join(work, "evil")), false, label);
    }
  });
});
