/**
 * Transfers cut half-way against our SFTP server: OpenSSH's sftp killed with SIGKILL during a put and
 * during a get, and the server itself closed during a put. What is left is a partial file (never one
 * that looks complete), and `reput` / `reget` (OPEN without TRUNC, FSTAT, READ/WRITE from the partial
 * size) complete it to the right sha256.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { opensshAvailable } from "../helpers/opensshServer.js";
import { envWithoutAgent } from "../helpers/processes.js";
import {
  runSftpBatch,
  sha256File,
  startSftpTestServer,
  USER,
  writeRandomFile,
  type SftpTestServer,
} from "../helpers/sftpServerFixtures.js";

const skip = !opensshAvailable() ? "OpenSSH is not installed" : false;
const MiB = 1024 * 1024;
const SIZE = 96 * MiB + 4321;

/** Start `sftp -b` with one command; resolves once `file` holds at least `bytes`, then kills what `kill` does. */
async function cutWhenGrown(
  srv: SftpTestServer,
  command: string,
  cwd: string,
  file: string,
  bytes: number,
  kill: (child: ReturnType<typeof spawn>) => Promise<void>,
): Promise<void> {
  const script = path.join(srv.dir, `cut-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(script, command + "\n");
  const child = spawn("sftp", [...srv.sshOptions, "-b", script, `${USER}@127.0.0.1`], {
    cwd,
    env: envWithoutAgent(),
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
      if (size >= bytes) break;
      if (Date.now() > deadline) throw new Error(`${file} never reached ${bytes} bytes`);
      await sleep(10);
    }
    await kill(child);
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

describe("transfers cut half-way, then resumed", { skip }, () => {
  test(
    "sftp killed during put and during get: reput and reget complete the files",
    { timeout: 28_000 },
    async (t) => {
      const srv = await startSftpTestServer();
      t.after(() => srv.close());
      const local = path.join(srv.dir, "local");
      const remote = path.join(srv.dir, "remote");
      fs.mkdirSync(local);
      fs.mkdirSync(remote);
      await writeRandomFile(path.join(local, "big.bin"), SIZE);
      const h = await sha256File(path.join(local, "big.bin"));
      const sigkill = async (child: ReturnType<typeof spawn>): Promise<void> => {
        child.kill("SIGKILL");
      };
      await cutWhenGrown(
        srv,
        `put big.bin ${remote}/big.bin`,
        local,
        path.join(remote, "big.bin"),
        8 * MiB,
        sigkill,
      );
      await sleep(200); // the server sees the channel close and closes its handle
      const partial = fs.statSync(path.join(remote, "big.bin")).size;
      assert.ok(partial < SIZE, `the upload was cut (${partial} of ${SIZE})`);
      const reput = await runSftpBatch(srv, `reput big.bin ${remote}/big.bin\n`, { cwd: local });
      assert.equal(reput.status, 0, reput.stderr);
      assert.equal(await sha256File(path.join(remote, "big.bin")), h);

      await cutWhenGrown(
        srv,
        `get ${remote}/big.bin down.bin`,
        local,
        path.join(local, "down.bin"),
        8 * MiB,
        sigkill,
      );
      const partialDown = fs.statSync(path.join(local, "down.bin")).size;
      assert.ok(partialDown < SIZE, `the download was cut (${partialDown} of ${SIZE})`);
      const reget = await runSftpBatch(srv, `reget ${remote}/big.bin down.bin\n`, { cwd: local });
      assert.equal(reget.status, 0, reget.stderr);
      assert.equal(await sha256File(path.join(local, "down.bin")), h);
    },
  );

  test(
    "the server closed during a put: a new server's reput completes the file",
    { timeout: 28_000 },
    async (t) => {
      const first = await startSftpTestServer();
      let firstClosed = false;
      t.after(async () => {
        if (!firstClosed) await first.close();
      });
      const second = await startSftpTestServer();
      t.after(() => second.close());
      const local = path.join(second.dir, "local");
      const remote = path.join(second.dir, "remote");
      fs.mkdirSync(local);
      fs.mkdirSync(remote);
      await writeRandomFile(path.join(local, "big.bin"), SIZE);
      const h = await sha256File(path.join(local, "big.bin"));
      await cutWhenGrown(
        first,
        `put big.bin ${remote}/big.bin`,
        local,
        path.join(remote, "big.bin"),
        8 * MiB,
        async (child) => {
          firstClosed = true;
          await first.close();
          await new Promise<void>((resolve) =>
            child.exitCode !== null ? resolve() : child.once("exit", () => resolve()),
          );
        },
      );
      const partial = fs.statSync(path.join(remote, "big.bin")).size;
      assert.ok(partial < SIZE, `the upload was cut (${partial} of ${SIZE})`);
      const reput = await runSftpBatch(second, `reput big.bin ${remote}/big.bin\n`, { cwd: local });
      assert.equal(reput.status, 0, reput.stderr);
      assert.equal(await sha256File(path.join(remote, "big.bin")), h);
    },
  );
});
