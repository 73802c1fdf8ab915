/**
 * The real OpenSSH 9.2 `ssh` client against our server authentication (over our server Transport):
 * publickey with every key type (host-bound and not), password and keyboard-interactive typed by
 * sshpass, "AuthenticationMethods publickey,password", a banner ssh prints, MaxAuthTries. There is no
 * connection layer here: after USERAUTH_SUCCESS the test server refuses ssh's channel, so ssh exits 255
 * after logging "Authenticated to …", which is what the tests look for.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { constantTimeEqual, type ServerAuthOptions } from "../../src/auth/index.js";
import type { PublicKey } from "../../src/keys/index.js";
import {
  makeUserKey,
  runSsh,
  sshpassAvailable,
  startAuthServer,
  type AuthServer,
  type KeyFile,
  type SshRun,
} from "../helpers/authHelpers.js";
import { opensshAvailable } from "../helpers/opensshServer.js";
import { testHostKeys } from "../helpers/transportServer.js";

const skip = opensshAvailable() ? false : "OpenSSH is not installed";
const skipPass = skip || (sshpassAvailable() ? false : "sshpass is not installed");
const USER = "nssh-test";
const PASSWORD = "correct horse battery staple";

describe("OpenSSH ssh against our server authentication", { skip, concurrency: 6 }, () => {
  let keyDir: string;
  const keys: Record<string, KeyFile> = {};
  const servers: AuthServer[] = [];

  before(() => {
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-auth-keys-"));
    for (const [name, type, bits] of [
      ["ed25519", "ed25519", undefined],
      ["ecdsa256", "ecdsa", 256],
      ["ecdsa384", "ecdsa", 384],
      ["ecdsa521", "ecdsa", 521],
      ["rsa", "rsa", 2048],
      ["stranger1", "ed25519", undefined],
      ["stranger2", "ed25519", undefined],
      ["stranger3", "ed25519", undefined],
    ] as const) {
      keys[name] = makeUserKey(keyDir, name, type, bits);
    }
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
  });

  const allowKeys =
    (...allowed: PublicKey[]) =>
    ({ username, key }: { username: string; key: PublicKey }) =>
      username === USER && allowed.some((k) => k.equals(key));
  const checkPassword = ({ username, password }: { username: string; password: string }) =>
    username === USER && constantTimeEqual(password, PASSWORD);

  async function serve(options: Omit<ServerAuthOptions, "log" | "failureDelayMs">): Promise<AuthServer> {
    // The transport signs with testHostKeys(); authenticateServer picks the one of this kex (hostbound).
    const s = await startAuthServer(() => ({ failureDelayMs: 5, hostKeys: testHostKeys(), ...options }));
    servers.push(s);
    return s;
  }

  /** The single connection's auth outcome, and its server log. */
  async function outcome(s: AuthServer) {
    assert.equal(s.connections.length, 1);
    const c = s.connections[0]!;
    const r = await c.result;
    return { ...r, log: c.log };
  }

  function assertAuthenticated(run: SshRun, port: number, method: string): void {
    assert.equal(run.timedOut, false);
    assert.ok(
      run.stderr.includes(`Authenticated to 127.0.0.1 ([127.0.0.1]:${port}) using "${method}".`),
      run.stderr,
    );
  }

  for (const name of ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"]) {
    test(`publickey ${name}`, { timeout: 20_000 }, async () => {
      const key = keys[name]!.key.publicKey;
      const s = await serve({
        policy: { checkPublicKey: allowKeys(key) },
      });
      const run = await runSsh(s.server.port, {
        user: USER,
        identities: [keys.stranger1!.file, keys[name]!.file],
      });
      assertAuthenticated(run, s.server.port, "publickey");
      // ssh signs RSA with rsa-sha2-512, which our server-sig-algs offers first.
      const alg = name === "rsa" ? "rsa-sha2-512" : key.type;
      assert.ok(run.stderr.includes(`signing using ${alg} ${key.fingerprintSha256()}`));
      assert.match(
        run.stderr,
        new RegExp(`using publickey-hostbound-v00@openssh.com with \\S+ ${escape(key.fingerprintSha256())}`),
      );
      assert.match(
        run.stderr,
        new RegExp(
          `Server accepts key: \\S+ ${key.type === "ssh-rsa" ? "RSA" : key.type === "ssh-ed25519" ? "ED25519" : "ECDSA"} `,
        ),
      );
      const o = await outcome(s);
      assert.equal(o.error, null);
      assert.equal(o.user!.username, USER);
      assert.deepEqual(o.user!.methods, ["publickey"]);
      assert.ok(o.user!.publicKey!.equals(key));
      assert.ok(
        o.log.some(
          (l) =>
            /^info: Accepted publickey for nssh-test from 127\.0\.0\.1 port \d+ ssh2: /.test(l) &&
            l.endsWith(key.fingerprintSha256()),
        ),
      );
      assert.ok(
        o.log.some((l) => l.startsWith("verbose: Failed publickey for nssh-test")),
        o.log.join("\n"),
      );
    });
  }

  test("publickey, not host-bound (PubkeyAuthentication=unbound)", { timeout: 20_000 }, async () => {
    const key = keys.ecdsa256!.key.publicKey;
    const s = await serve({ policy: { checkPublicKey: allowKeys(key) } });
    const run = await runSsh(s.server.port, {
      user: USER,
      identities: [keys.ecdsa256!.file],
      options: { PubkeyAuthentication: "unbound" },
    });
    assertAuthenticated(run, s.server.port, "publickey");
    assert.match(run.stderr, /using publickey with ECDSA/);
    assert.ok((await outcome(s)).user!.publicKey!.equals(key));
  });

  test("password (sshpass)", { timeout: 20_000, skip: skipPass }, async () => {
    const s = await serve({ policy: { checkPassword } });
    const run = await runSsh(s.server.port, {
      user: USER,
      password: PASSWORD,
      options: { PreferredAuthentications: "password" },
    });
    assertAuthenticated(run, s.server.port, "password");
    const o = await outcome(s);
    assert.deepEqual(o.user, { username: USER, methods: ["password"] });
    assert.ok(o.log.some((l) => l.startsWith("info: Accepted password for nssh-test from 127.0.0.1 port ")));
  });

  test("a wrong password: ssh is denied", { timeout: 20_000, skip: skipPass }, async () => {
    const s = await serve({ policy: { checkPassword } });
    const run = await runSsh(s.server.port, {
      user: USER,
      password: "wrong",
      options: { PreferredAuthentications: "password", NumberOfPasswordPrompts: "1" },
    });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /Permission denied \(password\)/);
    const o = await outcome(s);
    assert.equal(o.user, null);
    assert.ok(o.log.some((l) => l.startsWith("info: Failed password for nssh-test from 127.0.0.1 port ")));
  });

  test("keyboard-interactive (sshpass)", { timeout: 20_000, skip: skipPass }, async () => {
    const s = await serve({
      policy: {
        keyboardInteractive: async ({ username }, ask) => {
          const [answer] = await ask({ instructions: "", prompts: [{ prompt: "Password: ", echo: false }] });
          return username === USER && constantTimeEqual(answer!, PASSWORD);
        },
      },
    });
    const run = await runSsh(s.server.port, {
      user: USER,
      password: PASSWORD,
      options: { PreferredAuthentications: "keyboard-interactive" },
    });
    assertAuthenticated(run, s.server.port, "keyboard-interactive");
    const o = await outcome(s);
    assert.deepEqual(o.user, { username: USER, methods: ["keyboard-interactive"] });
  });

  test("AuthenticationMethods publickey,password", { timeout: 20_000, skip: skipPass }, async () => {
    const key = keys.ed25519!.key.publicKey;
    const s = await serve({
      policy: { checkPublicKey: allowKeys(key), checkPassword },
      authenticationMethods: [["publickey", "password"]],
    });
    const run = await runSsh(s.server.port, {
      user: USER,
      identities: [keys.ed25519!.file],
      password: PASSWORD,
    });
    assert.match(run.stderr, /Authenticated using "publickey" with partial success\./);
    assertAuthenticated(run, s.server.port, "password");
    const o = await outcome(s);
    assert.deepEqual(o.user!.methods, ["publickey", "password"]);
    assert.ok(o.user!.publicKey!.equals(key));
    assert.ok(o.log.some((l) => l.startsWith("info: Partial publickey for nssh-test")));
  });

  test("a banner, shown by ssh", { timeout: 20_000 }, async () => {
    const key = keys.ed25519!.key.publicKey;
    const s = await serve({
      policy: { checkPublicKey: allowKeys(key) },
      banner: "Authorized use only: nssh banner test\n",
    });
    const run = await runSsh(s.server.port, { user: USER, identities: [keys.ed25519!.file] });
    assert.ok(run.stderr.includes("Authorized use only: nssh banner test"));
    assertAuthenticated(run, s.server.port, "publickey");
  });

  test("MaxAuthTries: too many keys refused", { timeout: 20_000 }, async () => {
    const s = await serve({
      policy: { checkPublicKey: allowKeys(keys.ed25519!.key.publicKey) },
      maxAuthTries: 2,
    });
    const run = await runSsh(s.server.port, {
      user: USER,
      identities: [keys.stranger1!.file, keys.stranger2!.file, keys.stranger3!.file, keys.ed25519!.file],
    });
    assert.equal(run.status, 255);
    assert.match(
      run.stderr,
      /Received disconnect from 127\.0\.0\.1 port \d+:2: Too many authentication failures/,
    );
    assert.ok(!run.stderr.includes("Authenticated to"));
    const o = await outcome(s);
    assert.equal(o.user, null);
    assert.equal(o.error!.code, "AUTH_FAILED");
    assert.ok(
      o.log.some((l) => l.startsWith("error: maximum authentication attempts exceeded for nssh-test")),
    );
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
