/**
 * Our known_hosts verdicts next to OpenSSH's own: the real `ssh` connects to a real sshd with
 * StrictHostKeyChecking=yes and a known_hosts file we wrote; what ssh says (accepts, CHANGED, REVOKED,
 * unknown) must be what checkKnownHost says for the same file.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { PrivateKey, parsePublicKeyLine, type PublicKey } from "../../src/keys/index.js";
import {
  checkKnownHost,
  checkServerHostKey,
  formatKnownHostsLine,
  knownHostsName,
  type HostKeyCheck,
} from "../../src/keys/knownHosts.js";
import { runOpenSshClient } from "../helpers/opensshClient.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";
import { makeTempDir, removeTempDir } from "./sshKeygen.js";

const skip = !opensshAvailable() && "OpenSSH is not installed";

describe("known_hosts verdicts agree with OpenSSH's ssh", { skip }, () => {
  let server: OpenSshServer;
  let dir: string;
  let hostKey: PublicKey;
  let name: string;
  before(async () => {
    server = await startOpenSshServer();
    dir = makeTempDir("nssh-kh-ssh-");
    hostKey = parsePublicKeyLine(server.hostPublicKeys.get("ed25519")!).key;
    name = knownHostsName("127.0.0.1", server.port);
  });
  after(async () => {
    await server?.stop();
    if (dir) removeTempDir(dir);
  });

  /** Write the file, run ssh against it (host key ed25519 only) and run checkServerHostKey on it. */
  async function bothForServer(
    fileName: string,
    lines: string[],
  ): Promise<{ ssh: string; ours: HostKeyCheck & { matchedWithoutPort: boolean } }> {
    const { ssh } = await both(fileName, lines);
    const file = path.join(dir, fileName);
    return { ssh, ours: await checkServerHostKey([file], "127.0.0.1", server.port, hostKey) };
  }

  /** Write the file, run ssh against it (host key ed25519 only) and run our check on it. */
  async function both(fileName: string, lines: string[]): Promise<{ ssh: string; ours: HostKeyCheck }> {
    const file = path.join(dir, fileName);
    fs.writeFileSync(file, lines.join("\n") + "\n");
    const r = await runOpenSshClient(server.port, {
      options: {
        UserKnownHostsFile: file,
        StrictHostKeyChecking: "yes",
        HostKeyAlgorithms: "ssh-ed25519",
        PubkeyAuthentication: "no",
        PasswordAuthentication: "no",
        KbdInteractiveAuthentication: "no",
      },
      timeoutMs: 15_000,
    });
    assert.equal(r.timedOut, false);
    assert.notEqual(r.status, 0, "no authentication method is allowed, so ssh fails after the host key");
    return { ssh: r.stderr, ours: await checkKnownHost([file], [name], hostKey) };
  }

  test("a hashed line we wrote is accepted", async () => {
    const { ssh, ours } = await both("hashed", [formatKnownHostsLine([name], hostKey, true)]);
    assert.match(ssh, /Permission denied/);
    assert.doesNotMatch(ssh, /Host key verification failed/);
    assert.equal(ours.status, "known");
  });

  test("a plain wildcard line is accepted", async () => {
    const { ssh, ours } = await both("wildcard", [`[127.0.0.*]:${server.port} ${hostKey.toLine()}`]);
    assert.match(ssh, /Permission denied/);
    assert.equal(ours.status, "known");
  });

  test("another key of the same type: changed, same offending line", async () => {
    const other = PrivateKey.generate("ssh-ed25519").publicKey;
    const { ssh, ours } = await both("changed", [
      `unrelated.example ${hostKey.toLine()}`,
      formatKnownHostsLine([name], other, false),
    ]);
    assert.match(ssh, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
    assert.match(ssh, /Offending ED25519 key in .*changed:2/);
    assert.equal(ours.status, "changed");
    assert.equal(ours.status === "changed" && ours.entry.line, 2);
  });

  test("a key of another type only: ssh calls it changed, and so do we", async () => {
    const other = PrivateKey.generate("ecdsa-sha2-nistp256").publicKey;
    const { ssh, ours } = await both("othertype", [formatKnownHostsLine([name], other, true)]);
    assert.match(ssh, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
    assert.match(ssh, /Offending ECDSA key in .*othertype:1/);
    assert.equal(ours.status, "changed");
  });

  test("several other keys: the offending line is the last one, whatever its type", async () => {
    const sameType = PrivateKey.generate("ssh-ed25519").publicKey;
    const otherType = PrivateKey.generate("ecdsa-sha2-nistp384").publicKey;
    const { ssh, ours } = await both("several", [
      formatKnownHostsLine([name], sameType, false),
      formatKnownHostsLine([name], otherType, false),
    ]);
    assert.match(ssh, /Offending ECDSA key in .*several:2/);
    assert.equal(ours.status === "changed" && ours.entry.line, 2);
  });

  test("@revoked beats a plain line for the same key", async () => {
    const { ssh, ours } = await both("revoked", [
      `${name} ${hostKey.toLine()}`,
      `@revoked * ${hostKey.toLine()}`,
    ]);
    assert.match(ssh, /REVOKED HOST KEY DETECTED/);
    assert.match(ssh, /Host key verification failed/);
    assert.equal(ours.status, "revoked");
  });

  test("a negated name and an @cert-authority line leave the host unknown", async () => {
    const { ssh, ours } = await both("unknown", [
      `[127.0.0.*]:*,!${name} ${hostKey.toLine()}`,
      `@cert-authority ${name} ${hostKey.toLine()}`,
    ]);
    assert.match(ssh, /No ED25519 host key is known for/);
    assert.match(ssh, /Host key verification failed/);
    assert.equal(ours.status, "unknown");
  });

  test("off port 22, a matching port-less line is accepted (found matching key w/out port)", async () => {
    const { ssh, ours } = await bothForServer("portless", [`127.0.0.1 ${hostKey.toLine()}`]);
    assert.match(ssh, /found matching key w\/out port/);
    assert.match(ssh, /Permission denied/);
    assert.equal(ours.status, "known");
    assert.equal(ours.matchedWithoutPort, true);
  });

  test("off port 22, a different port-less key is not a change: the host stays unknown", async () => {
    const other = PrivateKey.generate("ssh-ed25519").publicKey;
    const { ssh, ours } = await bothForServer("portless-other", [`127.0.0.1 ${other.toLine()}`]);
    assert.match(ssh, /No ED25519 host key is known for/);
    assert.doesNotMatch(ssh, /HAS CHANGED/);
    assert.equal(ours.status, "unknown");
    assert.equal(ours.matchedWithoutPort, false);
  });
});
