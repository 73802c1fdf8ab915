/**
 * Flow control between the nssh command's stdio and a channel (src/cli/nssh/session.ts, RFC 4254 §5.2),
 * against a real OpenSSH sshd:
 *  - a stdout nobody reads holds the remote command back (the window is granted only for what was
 *    written out), and everything arrives intact once it is read;
 *  - stdin that is a file is sent in large reads into two reused buffers: many of them, intact; and a
 *    remote command that stops reading early ends the session instead of leaving nssh writing.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { NSSH, nsshSkip, startNsshWorld, type NsshWorld } from "../helpers/nsshFixtures.js";

const SIZE = 12 * 1024 * 1024;

describe("nssh: stdio flow control against sshd", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  /** A folder the throwaway remote user may read and write. */
  let shared: string;
  let file: string;
  let digest: string;

  before(async () => {
    w = await startNsshWorld();
    shared = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-flow-"));
    fs.chmodSync(shared, 0o777);
    file = path.join(shared, "data.bin");
    const data = randomBytes(SIZE);
    fs.writeFileSync(file, data, { mode: 0o644 });
    digest = createHash("sha256").update(data).digest("hex");
  });
  after(async () => {
    if (shared) fs.rmSync(shared, { recursive: true, force: true });
    await w?.stop();
  });

  /** nssh with the given stdin; the caller reads stdout; killed after 25 s. */
  function start(command: string, stdin: "ignore" | number) {
    const child = spawn(process.execPath, [NSSH, ...w.baseArgs(), "127.0.0.1", command], {
      env: w.env(),
      stdio: [stdin, "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
    const closed = once(child, "close").then(([code]) => {
      clearTimeout(timer);
      return { code: code as number | null, stderr };
    });
    return { child, closed };
  }

  test("a stdout nobody reads holds the remote command back; read later, it is intact", async () => {
    const marker = path.join(shared, "finished");
    const { child, closed } = start(`cat ${file} && touch ${marker}`, "ignore");
    // Nobody reads nssh's stdout for a second: without flow control 12 MiB would cross loopback by then.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(fs.existsSync(marker), false, "the remote command finished while its output was unread");
    const hash = createHash("sha256");
    let bytes = 0;
    child.stdout!.on("data", (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    const { code, stderr } = await closed;
    assert.equal(code, 0, stderr);
    assert.equal(bytes, SIZE);
    assert.equal(hash.digest("hex"), digest);
    assert.equal(fs.existsSync(marker), true);
  });

  test("stdin from a file larger than the read buffers arrives intact", async () => {
    const fd = fs.openSync(file, "r");
    try {
      const { child, closed } = start("sha256sum", fd);
      let out = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      const { code, stderr } = await closed;
      assert.equal(code, 0, stderr);
      assert.equal(out.split(" ")[0], digest);
    } finally {
      fs.closeSync(fd);
    }
  });

  test("a remote command that stops reading a file stdin ends the session with its status", async () => {
    const fd = fs.openSync(file, "r");
    try {
      const { child, closed } = start("head -c 1000 >/dev/null; echo read; exit 7", fd);
      let out = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      const { code, stderr } = await closed;
      assert.equal(code, 7, stderr);
      assert.equal(out, "read\n");
    } finally {
      fs.closeSync(fd);
    }
  });
});
