/**
 * Our client authentication (over our client Transport) against a real OpenSSH 9.2 sshd with PAM, as a
 * throwaway system user: publickey with every key type (RSA signing rsa-sha2-512 from server-sig-algs,
 * bound to the host key with publickey-hostbound-v00), password, keyboard-interactive through PAM,
 * "AuthenticationMethods publickey,password" (partial success), a banner, and a wrong password ending in
 * AUTH_FAILED "Permission denied (…)". Needs root (useradd, sshd's password checks).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { authenticateClient, type ClientAuthOptions } from "../../src/auth/index.js";
import { SshError } from "../../src/wire/index.js";
import {
  connectClient,
  createSystemUser,
  isRoot,
  makeUserKey,
  startAuthSshd,
  type AuthSshd,
  type KeyFile,
  type SystemUser,
} from "../helpers/authHelpers.js";
import { opensshAvailable } from "../helpers/opensshServer.js";
import { until } from "../helpers/scriptedPeer.js";

/** sshd's log lines reach us through its monitor, in their own time: wait for one. */
async function sshdLogged(server: AuthSshd, what: string | RegExp): Promise<void> {
  const seen = () => (typeof what === "string" ? server.log().includes(what) : what.test(server.log()));
  await until(seen, 5000, `sshd to log ${what}`).catch(() =>
    assert.fail(`sshd did not log ${what}:\n${server.log()}`),
  );
}

const skip = !opensshAvailable() ? "OpenSSH is not installed" : !isRoot ? "needs root (useradd, PAM)" : false;

describe("our client authentication against OpenSSH sshd", { skip, concurrency: 4 }, () => {
  let user: SystemUser;
  let sshd: AuthSshd;
  let chainSshd: AuthSshd;
  let keyDir: string;
  const keys: Record<string, KeyFile> = {};

  before(async () => {
    user = createSystemUser()!;
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-auth-keys-"));
    for (const [name, type, bits] of [
      ["ed25519", "ed25519", undefined],
      ["ecdsa256", "ecdsa", 256],
      ["ecdsa384", "ecdsa", 384],
      ["ecdsa521", "ecdsa", 521],
      ["rsa", "rsa", 2048],
      ["unbound", "ecdsa", 256],
      ["unlisted", "ed25519", undefined],
    ] as const) {
      keys[name] = makeUserKey(keyDir, name, type, bits);
    }
    const lines = Object.entries(keys)
      .filter(([n]) => n !== "unlisted")
      .map(([, k]) => k.key.publicKey.toLine());
    [sshd, chainSshd] = await Promise.all([
      startAuthSshd([`AllowUsers ${user.name}`, "Banner " + path.join(keyDir, "banner")]),
      startAuthSshd([`AllowUsers ${user.name}`, "AuthenticationMethods publickey,password"]),
    ]);
    fs.writeFileSync(path.join(keyDir, "banner"), "Welcome to the nssh auth test\n");
    sshd.setAuthorizedKeys(lines);
    chainSshd.setAuthorizedKeys(lines);
  });

  after(async () => {
    await Promise.all([sshd?.stop(), chainSshd?.stop()]);
    user?.remove();
    if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
  });

  async function login(server: AuthSshd, options: Omit<ClientAuthOptions, "username">) {
    const c = await connectClient(server.port);
    const log: string[] = [];
    try {
      const result = await authenticateClient(c.transport, {
        username: user.name,
        host: "localhost",
        log: (level, message) => log.push(`${level}: ${message}`),
        ...options,
      });
      assert.equal(c.transport.authenticated, true);
      return { result, log, transport: c.transport };
    } finally {
      c.transport.disconnect();
    }
  }

  for (const name of ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"]) {
    test(`publickey ${name}`, { timeout: 20_000 }, async () => {
      const key = keys[name]!.key;
      const { result, log } = await login(sshd, { keys: [keys.unlisted!.key, key] });
      assert.deepEqual(result, { method: "publickey", methods: ["publickey"] });
      const fp = key.publicKey.fingerprintSha256();
      assert.ok(log.some((l) => l.startsWith("debug1: Offering public key: unlisted ED25519 SHA256:")));
      assert.ok(log.some((l) => l.includes(`Server accepts key: ${name} `) && l.includes(fp)));
      assert.ok(
        log.includes(`verbose: Authenticated to localhost ([127.0.0.1]:${sshd.port}) using "publickey".`),
      );
      const expectAlg = name === "rsa" ? "rsa-sha2-512" : key.publicKey.type;
      // sshd logs the request it got: hostbound method, the algorithm we chose, and the accepted key.
      const kind =
        key.publicKey.type === "ssh-rsa" ? "RSA" : key.publicKey.type === "ssh-ed25519" ? "ED25519" : "ECDSA";
      await sshdLogged(
        sshd,
        `publickey-hostbound-v00@openssh.com test pkalg ${expectAlg} pkblob ${kind} ${fp}`,
      );
      await sshdLogged(
        sshd,
        new RegExp(
          `Accepted publickey for ${user.name} from 127\\.0\\.0\\.1 port \\d+ ssh2: ${kind} ${fp.replace(/[+/]/g, "\\$&")}`,
        ),
      );
    });
  }

  test("publickey without host binding (hostBound: false)", { timeout: 20_000 }, async () => {
    const key = keys.unbound!.key.publicKey;
    const { result } = await login(sshd, { keys: [keys.unbound!.key], hostBound: false });
    assert.equal(result.method, "publickey");
    const fp = key.fingerprintSha256();
    await sshdLogged(sshd, `userauth_pubkey: publickey test pkalg ecdsa-sha2-nistp256 pkblob ECDSA ${fp}`);
  });

  test("password, with the banner shown", { timeout: 20_000 }, async () => {
    const banners: string[] = [];
    const { result, log } = await login(sshd, {
      methods: ["password"],
      password: ({ attempt }) => (attempt === 1 ? user.password : null),
      onBanner: (m) => banners.push(m),
    });
    assert.deepEqual(result, { method: "password", methods: ["password"] });
    assert.deepEqual(banners, ["Welcome to the nssh auth test\n"]);
    assert.ok(log.includes("debug1: Next authentication method: password"));
  });

  test("keyboard-interactive through PAM", { timeout: 20_000 }, async () => {
    const challenges: string[] = [];
    const { result } = await login(sshd, {
      methods: ["keyboard-interactive"],
      keyboardInteractive: ({ prompts }) => {
        challenges.push(...prompts.map((p) => `${p.prompt}|${p.echo}`));
        return prompts.map(() => user.password);
      },
    });
    assert.deepEqual(result, { method: "keyboard-interactive", methods: ["keyboard-interactive"] });
    assert.deepEqual(challenges, ["Password: |false"]);
  });

  test("AuthenticationMethods publickey,password: partial success", { timeout: 20_000 }, async () => {
    const { result, log } = await login(chainSshd, {
      keys: [keys.ed25519!.key],
      password: user.password,
    });
    assert.deepEqual(result, { method: "password", methods: ["publickey", "password"] });
    assert.ok(log.includes('verbose: Authenticated using "publickey" with partial success.'));
    assert.ok(log.includes("debug1: Authentications that can continue: password"));
    await sshdLogged(chainSshd, `Partial publickey for ${user.name}`);
  });

  test("a wrong password: AUTH_FAILED, Permission denied", { timeout: 20_000 }, async () => {
    const c = await connectClient(sshd.port);
    const err = await authenticateClient(c.transport, {
      username: user.name,
      keys: [keys.unlisted!.key],
      password: "not-the-password",
    }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof SshError);
    assert.equal(err.code, "AUTH_FAILED");
    assert.equal(err.message, "Permission denied (publickey,password,keyboard-interactive).");
    assert.equal(c.transport.isClosed, true);
    await sshdLogged(sshd, `Failed password for ${user.name}`);
  });
});
