/**
 * A key exchange with no common algorithm fails with a NegotiationError (src/transport/negotiationError.ts):
 * the same code and message as before, plus the kind that failed and the peer's whole offer for it as its
 * KEXINIT sent it, which is what ssh prints ("Their offer: ..."). Both directions, against real OpenSSH:
 * our client against Debian's sshd, and OpenSSH's ssh against our server.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import { Transport } from "../../src/transport/index.js";
import { NegotiationError } from "../../src/transport/negotiationError.js";
import { SshError } from "../../src/wire/index.js";
import { opensshAvailable, startOpenSshServer } from "../helpers/opensshServer.js";
import { runProgram } from "../helpers/processes.js";
import { startTransportServer } from "../helpers/transportServer.js";

const skip = opensshAvailable() ? false : "OpenSSH is not installed";

/** Our client against a socket; resolves with the error that ended it. */
async function clientFailure(
  port: number,
  options: { kex?: string[]; ciphers?: string[] },
): Promise<{ err: unknown; log: string[] }> {
  const socket = net.connect(port, "127.0.0.1");
  const log: string[] = [];
  const t = new Transport({
    role: "client",
    socket,
    verifyHostKey: () => true,
    ...options,
    log: (level, message) => log.push(`${level}: ${message}`),
  });
  const err = await new Promise((resolve) => t.once("close", resolve));
  socket.destroy();
  return { err, log };
}

describe("no common algorithm", { skip }, () => {
  test("client against sshd: the kind and sshd's kex offer, markers included", async (t) => {
    const sshd = await startOpenSshServer(["KexAlgorithms curve25519-sha256"]);
    t.after(() => sshd.stop());
    const { err, log } = await clientFailure(sshd.port, { kex: ["diffie-hellman-group14-sha256"] });
    assert.ok(err instanceof NegotiationError, String(err));
    // The client's line names the server's offer, as ssh's does.
    assert.deepEqual(
      log.filter((l) => l.includes("no matching")),
      [
        "error: no matching key exchange method found. Their offer: curve25519-sha256,kex-strict-s-v00@openssh.com",
      ],
    );
    assert.ok(err instanceof SshError);
    assert.equal(err.code, "KEX_FAILED");
    assert.equal(err.algorithmKind, "key exchange method");
    assert.deepEqual(err.serverOffer, ["curve25519-sha256", "kex-strict-s-v00@openssh.com"]);
    assert.equal(
      err.message,
      "no matching key exchange method found: client diffie-hellman-group14-sha256 server curve25519-sha256",
    );
  });

  test("client against sshd: a cipher mismatch names sshd's ciphers", async (t) => {
    const sshd = await startOpenSshServer(["Ciphers aes128-ctr,aes192-ctr"]);
    t.after(() => sshd.stop());
    const { err } = await clientFailure(sshd.port, { ciphers: ["aes256-gcm@openssh.com"] });
    assert.ok(err instanceof NegotiationError, String(err));
    assert.equal(err.algorithmKind, "cipher");
    assert.deepEqual(err.serverOffer, ["aes128-ctr", "aes192-ctr"]);
  });

  test("ssh against our server: the error carries ssh's offer, ssh prints ours", async (t) => {
    const server = await startTransportServer({ kex: ["curve25519-sha256"] });
    t.after(() => server.close());
    const ssh = await runProgram(
      "ssh",
      [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "KexAlgorithms=diffie-hellman-group14-sha256",
        "-p",
        String(server.port),
        "nobody@127.0.0.1",
        "true",
      ],
      { timeoutMs: 15_000 },
    );
    assert.equal(ssh.status, 255);
    assert.match(
      ssh.stderr,
      /no matching key exchange method found\. Their offer: curve25519-sha256,ext-info-s,kex-strict-s-v00@openssh\.com/,
    );
    const conn = server.connections[0]!;
    const err = await conn.closed;
    assert.ok(err instanceof NegotiationError, String(err));
    assert.equal(err.algorithmKind, "key exchange method");
    assert.deepEqual(err.clientOffer, [
      "diffie-hellman-group14-sha256",
      "ext-info-c",
      "kex-strict-c-v00@openssh.com",
    ]);
    // The server logs the failure once, at error level, in sshd's words (less the peer: the daemon's, which
    // also logs it at INFO as sshd does).
    assert.deepEqual(
      conn.log.filter((l) => l.includes("no matching")),
      [
        "error: no matching key exchange method found. Their offer: diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com",
      ],
    );
  });
});
