/**
 * The library's SftpClient over a connect() channel to OpenSSH's sshd (internal-sftp): every fs-like call
 * checked on disk, pipelined get/put of ~200 MiB with equal sha256, progress events, resume of a truncated
 * partial file both ways, typed errors, streams.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, type SshClient } from "../../src/index.js";
import { SftpError, type SftpClient, type TransferOptions } from "../../src/sftp/client.js";
import { isRoot } from "../helpers/authHelpers.js";
import { opensshAvailable } from "../helpers/opensshServer.js";
import {
  sha256File,
  startTransferServer,
  writeRandomFile,
  type TransferServer,
} from "../helpers/transferFixtures.js";

const MiB = 1024 * 1024;
const skip = !opensshAvailable() ? "OpenSSH is not installed" : !isRoot ? "needs root (sshd as root)" : false;

describe("SftpClient against OpenSSH's sftp-server", { skip, concurrency: 1 }, () => {
  let server: TransferServer;
  let conn: SshClient;
  let sftp: SftpClient;
  let dir: string;
  const BIG = 200 * MiB;
  let bigSum = "";

  before(async () => {
    server = await startTransferServer();
    conn = await connect(server.connectOptions());
    sftp = await conn.sftp();
    dir = fs.mkdtempSync(path.join(server.work, "files-"));
  });

  after(async () => {
    try {
      await sftp?.end();
      await conn?.close();
    } finally {
      await server?.stop();
    }
  });

  test("VERSION 3 with OpenSSH's extensions; limits give 255 KiB blocks", () => {
    assert.equal(sftp.version, 3);
    assert.ok(sftp.extensions.has("posix-rename@openssh.com"));
    assert.ok(sftp.limits);
    assert.equal(sftp.blockSize("read"), 255 * 1024);
  });

  test("fs-like calls, checked on disk", { timeout: 30_000 }, async () => {
    const d = path.join(dir, "ops");
    await sftp.mkdir(d, { mode: 0o750 });
    assert.equal(fs.statSync(d).mode & 0o777, 0o750);
    await sftp.writeFile(`${d}/a.txt`, "hello sftp\n");
    assert.equal(fs.readFileSync(`${d}/a.txt`, "utf8"), "hello sftp\n");
    assert.equal((await sftp.readFile(`${d}/a.txt`)).toString(), "hello sftp\n");
    const st = await sftp.stat(`${d}/a.txt`);
    assert.equal(st.size, 11);
    await sftp.chmod(`${d}/a.txt`, 0o600);
    assert.equal(fs.statSync(`${d}/a.txt`).mode & 0o777, 0o600);
    await sftp.utimes(`${d}/a.txt`, 1_000_000_000, 1_200_000_000);
    assert.equal(fs.statSync(`${d}/a.txt`).mtimeMs, 1_200_000_000_000);
    await sftp.symlink("a.txt", `${d}/link`);
    assert.equal(fs.readlinkSync(`${d}/link`), "a.txt");
    assert.equal(await sftp.readlink(`${d}/link`), "a.txt");
    const l = await sftp.lstat(`${d}/link`);
    assert.equal((l.mode ?? 0) & 0o170000, 0o120000);
    await sftp.hardlink(`${d}/a.txt`, `${d}/hard`);
    assert.equal(fs.statSync(`${d}/hard`).ino, fs.statSync(`${d}/a.txt`).ino);
    fs.writeFileSync(`${d}/b.txt`, "bee");
    await sftp.rename(`${d}/b.txt`, `${d}/a.txt`); // posix-rename replaces the target
    assert.equal(fs.readFileSync(`${d}/a.txt`, "utf8"), "bee");
    const names = (await sftp.readdir(d)).map((e) => e.filename).sort();
    assert.deepEqual(names, [".", "..", "a.txt", "hard", "link"]);
    assert.equal(await sftp.realpath(`${dir}/../${path.basename(dir)}/ops/.`), d);
    const vfs = await sftp.statvfs(d);
    assert.ok(vfs.blocks > 0 && vfs.bsize > 0);
    await sftp.unlink(`${d}/hard`);
    await sftp.unlink(`${d}/link`);
    await sftp.unlink(`${d}/a.txt`);
    await sftp.rmdir(d);
    assert.equal(fs.existsSync(d), false);
  });

  test("errors carry the status code", { timeout: 30_000 }, async () => {
    await assert.rejects(sftp.stat(`${dir}/missing`), (err: unknown) => {
      assert.ok(err instanceof SftpError);
      assert.equal(err.code, "NO_SUCH_FILE");
      assert.equal(err.status, 2);
      assert.equal(err.message, "No such file or directory");
      return true;
    });
    await assert.rejects(sftp.rmdir(`${dir}/missing`), SftpError);
  });

  test("streams: createWriteStream then createReadStream", { timeout: 30_000 }, async () => {
    const data = Buffer.alloc(3 * MiB + 123, 7);
    await new Promise<void>((resolve, reject) => {
      const ws = sftp.createWriteStream(`${dir}/stream.bin`);
      ws.on("error", reject);
      ws.on("finish", () => resolve());
      ws.end(data);
    });
    assert.ok(fs.readFileSync(`${dir}/stream.bin`).equals(data));
    const back = await sftp.readFile(`${dir}/stream.bin`);
    assert.ok(back.equals(data));
  });

  test("put of 200 MiB keeps the sha256; progress reaches the size", { timeout: 30_000 }, async (t) => {
    const local = path.join(dir, "big.bin");
    bigSum = writeRandomFile(local, BIG);
    const progress: number[] = [];
    const start = performance.now();
    await sftp.put(local, `${dir}/big.remote`, { onProgress: (p) => progress.push(p.transferred) });
    t.diagnostic(`put: ${(BIG / MiB / ((performance.now() - start) / 1000)).toFixed(0)} MiB/s`);
    assert.equal(sha256File(`${dir}/big.remote`), bigSum);
    assert.equal(progress.at(-1), BIG);
    assert.ok(progress.length > 100);
    fs.rmSync(local);
  });

  test("get of 200 MiB keeps the sha256", { timeout: 30_000 }, async (t) => {
    const start = performance.now();
    const got: number[] = [];
    await sftp.get(`${dir}/big.remote`, `${dir}/big.back`, { onProgress: (p) => got.push(p.transferred) });
    t.diagnostic(`get: ${(BIG / MiB / ((performance.now() - start) / 1000)).toFixed(0)} MiB/s`);
    assert.equal(sha256File(`${dir}/big.back`), bigSum);
    assert.equal(got.at(-1), BIG);
    for (const f of ["big.remote", "big.back"]) fs.rmSync(`${dir}/${f}`);
  });

  test("resume continues a truncated partial file, both ways", { timeout: 30_000 }, async () => {
    const src = path.join(dir, "src.bin");
    const sum = writeRandomFile(src, 5 * MiB + 777);
    fs.copyFileSync(src, `${dir}/partial.get`);
    fs.truncateSync(`${dir}/partial.get`, 2 * MiB + 5);
    const starts: number[] = [];
    await sftp.get(src, `${dir}/partial.get`, { resume: true, onProgress: (p) => starts.push(p.startedAt) });
    assert.equal(sha256File(`${dir}/partial.get`), sum);
    assert.equal(starts[0], 2 * MiB + 5);
    fs.copyFileSync(src, `${dir}/partial.put`);
    fs.truncateSync(`${dir}/partial.put`, 3 * MiB - 1);
    await sftp.put(src, `${dir}/partial.put`, { resume: true });
    assert.equal(sha256File(`${dir}/partial.put`), sum);
  });

  test("a bandwidth cap (sftp -l) still moves every byte, both ways", { timeout: 30_000 }, async () => {
    const src = path.join(dir, "capped.bin");
    const sum = writeRandomFile(src, 3 * MiB);
    await sftp.put(src, `${dir}/capped.up`, { bytesPerSecond: 8 * MiB, requests: 4 });
    await sftp.get(`${dir}/capped.up`, `${dir}/capped.down`, { bytesPerSecond: 8 * MiB });
    assert.equal(sha256File(`${dir}/capped.up`), sum);
    assert.equal(sha256File(`${dir}/capped.down`), sum);
  });

  test("a request whose fields do not encode fails alone: none waits on, and the session ends cleanly", async () => {
    // A second session, so that ending it leaves the suite's own.
    const own = await conn.sftp();
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown): void => void unhandled.push(r);
    process.on("unhandledRejection", onUnhandled);
    try {
      fs.writeFileSync(path.join(dir, "fields.bin"), "0123456789");
      const h = await own.open(`${dir}/fields.bin`);
      await assert.rejects(own.read(h, -1, 10), RangeError);
      assert.equal((await own.read(h, 2, 3))?.toString(), "234", "the session goes on");
      await own.end();
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(unhandled, [], "no request was left to fail when the session ended");
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  test("an abort ends a transfer the bandwidth cap holds back, both ways", { timeout: 30_000 }, async () => {
    // At 1 KiB/s the cap's wait after the first blocks is hours: the abort must not sit it out.
    const src = path.join(dir, "capped-abort.bin");
    writeRandomFile(src, 2 * MiB);
    const transfers = {
      get: (o: TransferOptions) => sftp.get(src, `${dir}/capped-abort.get`, o),
      put: (o: TransferOptions) => sftp.put(src, `${dir}/capped-abort.put`, o),
    };
    for (const [name, transfer] of Object.entries(transfers)) {
      const ac = new AbortController();
      await assert.rejects(
        transfer({
          bytesPerSecond: 1024,
          requests: 4,
          signal: ac.signal,
          onProgress: (p) => p.transferred > 0 && ac.abort(),
        }),
        { code: "ABORTED" },
        name,
      );
      assert.ok(fs.statSync(`${dir}/capped-abort.${name}`).size < 2 * MiB, name);
    }
  });

  test("an aborted get leaves an exact prefix that resume completes", { timeout: 30_000 }, async () => {
    const src = path.join(dir, "abort.bin");
    const sum = writeRandomFile(src, 40 * MiB);
    const ac = new AbortController();
    await assert.rejects(
      sftp.get(src, `${dir}/abort.get`, {
        signal: ac.signal,
        onProgress: (p) => p.transferred > 10 * MiB && ac.abort(),
      }),
      { code: "ABORTED" },
    );
    const partial = fs.statSync(`${dir}/abort.get`).size;
    assert.ok(partial > 0 && partial < 40 * MiB);
    const prefix = Buffer.alloc(partial);
    const fd = fs.openSync(src, "r");
    fs.readSync(fd, prefix, 0, partial, 0);
    fs.closeSync(fd);
    assert.ok(fs.readFileSync(`${dir}/abort.get`).equals(prefix));
    await sftp.get(src, `${dir}/abort.get`, { resume: true });
    assert.equal(sha256File(`${dir}/abort.get`), sum);
  });
});
