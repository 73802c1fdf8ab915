import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeNsshdFixture, sshArgs, startNsshd, type NsshdFixture } from "../helpers/nsshdProcess.js";
import { sha256File, writeRandomFile } from "../helpers/sftpServerFixtures.js";
import { runProgram } from "../helpers/processes.js";

// Issue 7: 1 GiB up and down through nsshd's internal-sftp with OpenSSH's scp (SFTP mode), equal sha256.
// nsshd runs as its own processes, so scp and the server share the two cores as in real use.

const GIB = 1024 * 1024 * 1024;

describe("OpenSSH's scp and 1 GiB through nsshd", () => {
  let fx: NsshdFixture;
  let source: string;
  let expected: string;
  const user = os.userInfo().username;

  before(async () => {
    fx = await makeNsshdFixture(["Subsystem sftp internal-sftp"]);
    await startNsshd(fx);
    source = path.join(fx.dir, "big");
    await writeRandomFile(source, GIB);
    expected = await sha256File(source);
  });
  after(() => fx?.remove());

  const scp = (from: string, to: string) =>
    runProgram(
      "scp",
      // sshArgs ends with "-p PORT", which is ssh's port but scp's "preserve".
      [...sshArgs(fx).slice(0, -2), "-c", "aes128-gcm@openssh.com", "-P", String(fx.port), from, to],
      { timeoutMs: 28_000 },
    );

  test("up: the file arrives with the same sha256", { timeout: 30_000 }, async () => {
    const target = path.join(fx.dir, "up");
    const r = await scp(source, `${user}@127.0.0.1:${target}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.statSync(target).size, GIB);
    assert.equal(await sha256File(target), expected);
    fs.rmSync(target);
  });

  test("down: the file arrives with the same sha256", { timeout: 30_000 }, async () => {
    const target = path.join(fx.dir, "down");
    const r = await scp(`${user}@127.0.0.1:${source}`, target);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await sha256File(target), expected);
    fs.rmSync(target);
  });
});
