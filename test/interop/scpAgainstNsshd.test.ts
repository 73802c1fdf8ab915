import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { makeNsshdFixture, sshArgs, startNsshd, type NsshdFixture } from "../helpers/nsshdProcess.js";
import { sha256File, writeRandomFile } from "../helpers/sftpServerFixtures.js";
import { runProgram } from "../helpers/processes.js";

// Issue 7: OpenSSH's scp in both modes against nsshd. The default speaks SFTP to internal-sftp; -O runs the
// legacy protocol, for which nsshd starts `scp -t` / `scp -f` as the command, as sshd does.

describe("OpenSSH's scp against nsshd, SFTP and legacy (-O) modes", () => {
  let fx: NsshdFixture;
  let source: string;
  let expected: string;
  const user = os.userInfo().username;

  before(async () => {
    fx = await makeNsshdFixture(["Subsystem sftp internal-sftp"]);
    await startNsshd(fx);
    source = path.join(fx.dir, "file");
    await writeRandomFile(source, 3 * 1024 * 1024 + 17);
    fs.chmodSync(source, 0o640);
    fs.utimesSync(source, 946_684_800, 946_684_800);
    expected = await sha256File(source);
  });
  after(() => fx?.remove());

  // sshArgs ends with "-p PORT", which is ssh's port but scp's "preserve".
  const scp = (args: string[]) =>
    runProgram("scp", [...sshArgs(fx).slice(0, -2), "-P", String(fx.port), ...args], { timeoutMs: 20_000 });

  for (const [mode, flags] of [
    ["SFTP", []],
    ["legacy -O", ["-O"]],
  ] as const) {
    test(`${mode}: up and down with -p, content, mode and times kept`, async () => {
      const up = path.join(fx.dir, `up-${flags.length}`);
      const down = path.join(fx.dir, `down-${flags.length}`);
      const r1 = await scp([...flags, "-p", source, `${user}@127.0.0.1:${up}`]);
      assert.equal(r1.status, 0, r1.stderr);
      const r2 = await scp([...flags, "-p", `${user}@127.0.0.1:${up}`, down]);
      assert.equal(r2.status, 0, r2.stderr);
      for (const f of [up, down]) {
        assert.equal(await sha256File(f), expected, f);
        const st = fs.statSync(f);
        assert.equal(st.mode & 0o777, 0o640, f);
        assert.equal(Math.round(st.mtimeMs / 1000), 946_684_800, f);
      }
    });

    test(`${mode}: a missing remote file is an error, exit 1`, async () => {
      const r = await scp([
        ...flags,
        `${user}@127.0.0.1:${path.join(fx.dir, "nope")}`,
        path.join(fx.dir, "x"),
      ]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /No such file or directory/);
    });
  }
});
