/**
 * When key exchange finds no common algorithm, nssh prints ssh's one line (packet.c sshpkt_fatal): "Unable
 * to negotiate with HOST port N: no matching cipher found. Their offer: ...", nothing else, exit 255.
 * Each case runs the real ssh and nssh with the same options against the same Debian sshd and compares
 * their stderr. nsshd, on the other side of such a failure, still logs it, once.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { Duplex } from "node:stream";
import { connect } from "../../src/client/index.js";
import { NegotiationError } from "../../src/transport/index.js";
import { after, before, describe, test } from "node:test";
import { makeNsshdFixture, NSSHD, startNsshd, type NsshdFixture } from "../helpers/nsshdProcess.js";
import { NSSH } from "../helpers/nsshFixtures.js";
import { opensshAvailable, startOpenSshServer } from "../helpers/opensshServer.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";

const skip = opensshAvailable() ? false : "OpenSSH is not installed";

/** No config, no known_hosts, no prompts: the failure comes before anything else could. */
function clientArgs(port: number, options: string[]): string[] {
  return [
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-p",
    String(port),
    ...options.flatMap((o) => ["-o", o]),
    "nobody@127.0.0.1",
    "true",
  ];
}

const CASES: Array<{ what: string; sshd: string[]; client: string[] }> = [
  {
    what: "key exchange method",
    sshd: ["KexAlgorithms curve25519-sha256"],
    client: ["KexAlgorithms=diffie-hellman-group14-sha256"],
  },
  {
    what: "host key type",
    sshd: ["HostKeyAlgorithms ssh-ed25519"],
    client: ["HostKeyAlgorithms=rsa-sha2-256"],
  },
  { what: "cipher", sshd: ["Ciphers aes128-ctr"], client: ["Ciphers=aes256-gcm@openssh.com"] },
  { what: "MAC", sshd: ["Ciphers aes128-ctr", "MACs hmac-sha2-256"], client: ["MACs=hmac-sha1"] },
  // Two kinds fail at once: ssh names the key exchange, which it chooses first (kex.c kex_choose_conf).
  {
    what: "key exchange method",
    sshd: ["KexAlgorithms curve25519-sha256", "Ciphers aes128-ctr"],
    client: ["KexAlgorithms=diffie-hellman-group14-sha256", "Ciphers=aes256-gcm@openssh.com"],
  },
];

describe("nssh: no common algorithm", { skip }, () => {
  for (const c of CASES) {
    test(`no matching ${c.what} (${c.client.join(", ")}): the same one line as ssh`, async (t) => {
      const sshd = await startOpenSshServer(c.sshd);
      t.after(() => sshd.stop());
      const args = clientArgs(sshd.port, c.client);
      const env = envWithoutAgent();
      const ssh = await runProgram("ssh", args, { env, timeoutMs: 15_000 });
      const nssh = await runProgram(process.execPath, [NSSH, ...args], { env, timeoutMs: 15_000 });
      assert.equal(ssh.status, 255, ssh.stderr);
      assert.match(
        ssh.stderr,
        new RegExp(
          `^Unable to negotiate with 127\\.0\\.0\\.1 port ${sshd.port}: no matching ${c.what} found\\. Their offer: \\S+\\r\\n$`,
        ),
      );
      assert.equal(nssh.stderr, ssh.stderr);
      assert.equal(nssh.status, 255);
    });
  }
});

describe("nsshd: no common algorithm", { skip }, () => {
  let fx: NsshdFixture;
  before(async () => {
    fx = await makeNsshdFixture(["KexAlgorithms curve25519-sha256", "LogLevel INFO"]);
  });
  after(() => fx.remove());

  test("ssh gets ssh's line, nsshd logs the failure once, as sshd does", async () => {
    const nsshd = await startNsshd(fx);
    const args = clientArgs(fx.port, ["KexAlgorithms=diffie-hellman-group14-sha256"]);
    const ssh = await runProgram("ssh", args, { env: envWithoutAgent(), timeoutMs: 15_000 });
    assert.equal(ssh.status, 255, ssh.stderr);
    assert.match(ssh.stderr, /no matching key exchange method found\. Their offer: curve25519-sha256/);
    await nsshd.waitForLog(/no matching key exchange method found/);
    // Give a second line, if any, time to arrive: it would come from the same failure, right after.
    await new Promise((r) => setTimeout(r, 300));
    const lines = nsshd
      .stderr()
      .split("\n")
      .filter((l) => l.includes("no matching key exchange method"));
    assert.equal(lines.length, 1, nsshd.stderr());
    // sshd's line (packet.c sshpkt_fatal): the client's whole offer, markers included.
    assert.match(
      lines[0]!,
      /^Unable to negotiate with 127\.0\.0\.1 port \d+: no matching key exchange method found\. Their offer: diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh\.com \[preauth\]$/,
    );
  });

  test("nsshd -i (the transport in the process that logs): the same line, once", async () => {
    // The library client over the daemon's stdin/stdout: unlike ssh, it does not kill its ProxyCommand
    // as it exits, so the daemon gets to log.
    const daemon = spawn(process.execPath, [NSSHD, "-i", "-e", "-f", fx.configFile], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stderr = "";
    daemon.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = once(daemon, "exit");
    const err = await connect({
      host: "127.0.0.1",
      sock: Duplex.from({ readable: daemon.stdout, writable: daemon.stdin }),
      username: "nobody",
      kex: ["diffie-hellman-group14-sha256"],
      verifyHostKey: () => true,
    }).then(
      (c) => (c.close(), null),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NegotiationError, String(err));
    const timer = setTimeout(() => daemon.kill(), 10_000);
    await exited;
    clearTimeout(timer);
    const lines = stderr.split("\n").filter((l) => l.includes("no matching key exchange method"));
    assert.deepEqual(lines, [
      "Unable to negotiate with UNKNOWN port 65535: no matching key exchange method found. Their offer: diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com [preauth]",
    ]);
  });
});
