/**
 * Reaching the server: ConnectTimeout bounds the wait for the server's version line (a blackhole that
 * accepts and says nothing gets ssh's "Connection timed out during banner exchange", exit 255, word for word
 * what OpenSSH's ssh prints), and BindAddress / -b choose the local address (sshd's SSH_CONNECTION shows it).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { nsshSkip, runNssh, startNsshWorld, type NsshWorld } from "../helpers/nsshFixtures.js";
import { runProgram, type ProgramRun } from "../helpers/processes.js";

/** OpenSSH's ssh with the same arguments, collected the same way. */
function runSsh(args: string[], env: NodeJS.ProcessEnv): Promise<ProgramRun> {
  return runProgram("ssh", args, { env, timeoutMs: 20_000 });
}

describe("nssh: ConnectTimeout and BindAddress against real peers", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  let blackhole: net.Server;
  const held: net.Socket[] = [];
  before(async () => {
    w = await startNsshWorld([]);
    // Accepts and never says a word: the server's version line never comes.
    blackhole = net.createServer((s) => {
      held.push(s);
      s.on("error", () => {}); // the client going away is the expected end
    });
    await new Promise<void>((resolve) => blackhole.listen(0, "127.0.0.1", resolve));
  });
  after(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => blackhole?.close(resolve));
    await w?.stop();
  });

  test("a server that never sends its version: ssh's banner exchange timeout message, exit 255", async () => {
    const port = String((blackhole.address() as net.AddressInfo).port);
    const args = [
      "-F",
      "none",
      "-o",
      "ConnectTimeout=1",
      "-o",
      "BatchMode=yes",
      "-p",
      port,
      "127.0.0.1",
      "true",
    ];
    const ours = await runNssh(args, { env: w.env() });
    assert.equal(ours.timedOut, false);
    assert.equal(ours.status, 255);
    assert.equal(
      ours.stderr,
      `Connection timed out during banner exchange\r\nConnection to 127.0.0.1 port ${port} timed out\r\n`,
    );
    const theirs = await runSsh(args, w.env());
    assert.equal(theirs.status, 255);
    assert.equal(ours.stderr, theirs.stderr, "the same words as OpenSSH's ssh");
  });

  test("ConnectTimeout does not cut a login that answers in time", async () => {
    const r = await runNssh(w.baseArgs(["-o", "ConnectTimeout=2"]).concat("127.0.0.1", "echo in-time"), {
      env: w.env(),
    });
    assert.equal(r.stdout, "in-time\n", r.stderr);
    assert.equal(r.status, 0);
  });

  test("-b and BindAddress connect from that address: sshd's SSH_CONNECTION shows it", async () => {
    for (const bind of [
      ["-b", "127.0.0.2"],
      ["-o", "BindAddress=127.0.0.3"],
    ]) {
      const args = w.baseArgs(bind).concat("127.0.0.1", "echo $SSH_CONNECTION");
      const ours = await runNssh(args, { env: w.env() });
      assert.equal(ours.status, 0, ours.stderr);
      const from = ours.stdout.split(" ")[0];
      assert.equal(from, bind[1]!.replace("BindAddress=", ""));
      assert.equal(ours.stdout.split(" ")[2], "127.0.0.1");
      const theirs = await runSsh(args, w.env());
      assert.equal(theirs.stdout.split(" ")[0], from, "OpenSSH's ssh binds the same address");
    }
  });

  test("a BindAddress that is not ours: ssh's bind error, exit 255", async () => {
    const args = w.baseArgs(["-b", "192.0.2.1"]).concat("127.0.0.1", "true");
    const ours = await runNssh(args, { env: w.env() });
    assert.equal(ours.status, 255);
    const theirs = await runSsh(args, w.env());
    assert.equal(theirs.status, 255);
    assert.equal(ours.stderr, theirs.stderr.replace(/^ssh:/m, "nssh:"));
    assert.match(ours.stderr, /^bind 192\.0\.2\.1: Cannot assign requested address\r\n/);
  });
});
