/**
 * The library's connect() against a real OpenSSH sshd, authentication: key files of every type (RSA
 * signing rsa-sha2-512, as sshd's log shows), keys held by OpenSSH's own ssh-agent, and, with a PAM
 * sshd and a throwaway system user, password, keyboard-interactive and a wrong password (AUTH_FAILED).
 * Needs root.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, SshError, type ConnectOptions, type SshClient } from "../../src/index.js";
import {
  createSystemUser,
  isRoot,
  makeUserKey,
  startAuthSshd,
  type AuthSshd,
  type KeyFile,
  type SystemUser,
} from "../helpers/authHelpers.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";
import { until } from "../helpers/scriptedPeer.js";

const skip = !opensshAvailable() ? "OpenSSH is not installed" : !isRoot ? "needs root (useradd, PAM)" : false;

/** sshd's log lines reach us through its monitor, in their own time: wait for one. */
async function logged(log: () => string, what: string | RegExp): Promise<void> {
  const seen = (): boolean => (typeof what === "string" ? log().includes(what) : what.test(log()));
  await until(seen, 5000, `sshd to log ${what}`).catch(() =>
    assert.fail(`sshd did not log ${what}:\n${log()}`),
  );
}

function kind(type: string): string {
  return type === "ssh-rsa" ? "RSA" : type === "ssh-ed25519" ? "ED25519" : "ECDSA";
}

/** OpenSSH's ssh-agent in the foreground on its own socket. */
async function startAgent(dir: string): Promise<{ socket: string; stop(): Promise<void> }> {
  const socket = path.join(dir, "agent.sock");
  const child: ChildProcess = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited;
    }
  };
  try {
    await until(() => fs.existsSync(socket), 5000, "ssh-agent's socket");
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, stop };
}

describe("connect() against OpenSSH sshd: authentication", { skip, concurrency: 1 }, () => {
  let sshd: OpenSshServer;
  let pamSshd: AuthSshd;
  let user: SystemUser;
  let keyDir: string;
  let agent: { socket: string; stop(): Promise<void> } | undefined;
  const keys: Record<string, KeyFile> = {};

  before(async () => {
    keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-interop-keys-"));
    for (const [name, type, bits] of [
      ["ed25519", "ed25519", undefined],
      ["ecdsa256", "ecdsa", 256],
      ["ecdsa384", "ecdsa", 384],
      ["ecdsa521", "ecdsa", 521],
      ["rsa", "rsa", 3072],
      ["agent-unlisted", "ed25519", undefined],
      ["agent-rsa", "rsa", 2048],
    ] as const) {
      keys[name] = makeUserKey(keyDir, name, type, bits);
    }
    user = createSystemUser()!;
    [sshd, pamSshd] = await Promise.all([startOpenSshServer(), startAuthSshd([`AllowUsers ${user.name}`])]);
    const authorized = Object.entries(keys)
      .filter(([name]) => name !== "agent-unlisted")
      .map(([, k]) => k.key.publicKey.toLine(k.key.comment));
    fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), authorized.join("\n") + "\n");
    pamSshd.setAuthorizedKeys([]);
  });

  after(async () => {
    try {
      await agent?.stop();
    } finally {
      await Promise.all([sshd?.stop(), pamSshd?.stop()]);
      user?.remove();
      if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
    }
  });

  function rootOptions(extra: Partial<ConnectOptions>): ConnectOptions {
    const hostKeys = [...sshd.hostPublicKeys.values()].map((l) => l.split(" ").slice(0, 2).join(" "));
    return {
      host: "127.0.0.1",
      port: sshd.port,
      username: "root",
      agent: false,
      verifyHostKey: (key) => hostKeys.includes(key.toLine()),
      ...extra,
    };
  }

  function userOptions(extra: Partial<ConnectOptions>): ConnectOptions {
    const hostKey = pamSshd.hostPublicKey.split(" ").slice(0, 2).join(" ");
    return {
      host: "127.0.0.1",
      port: pamSshd.port,
      username: user.name,
      agent: false,
      verifyHostKey: (key) => key.toLine() === hostKey,
      ...extra,
    };
  }

  /** Connect, check who we are on the server, close. */
  async function loginAs(options: ConnectOptions, expectUser: string): Promise<SshClient> {
    const c = await connect(options);
    try {
      const r = await c.exec("id -un");
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `${expectUser}\n`);
      return c;
    } finally {
      await c.close();
    }
  }

  for (const name of ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa"]) {
    test(`publickey ${name} from a key file`, { timeout: 30_000 }, async () => {
      const { file, key } = keys[name]!;
      const c = await loginAs(rootOptions({ identity: file }), "root");
      assert.equal(c.authentication.method, "publickey");
      const fp = key.publicKey.fingerprintSha256();
      const alg = name === "rsa" ? "rsa-sha2-512" : key.publicKey.type;
      await logged(sshd.log, `test pkalg ${alg} pkblob ${kind(key.publicKey.type)} ${fp}`);
      await logged(sshd.log, `Accepted publickey for root from 127.0.0.1`);
    });
  }

  test("publickey through OpenSSH's ssh-agent, no identity given", { timeout: 30_000 }, async () => {
    const { socket } = (agent = await startAgent(keyDir));
    for (const name of ["agent-unlisted", "agent-rsa"]) {
      const add: SpawnSyncReturns<string> = spawnSync("ssh-add", [keys[name]!.file], {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
        encoding: "utf8",
      });
      assert.equal(add.status, 0, add.stderr);
    }
    const log: string[] = [];
    const c = await loginAs(
      rootOptions({ agent: socket, log: (level, message) => log.push(`${level}: ${message}`) }),
      "root",
    );
    assert.equal(c.authentication.method, "publickey");
    const unlisted = keys["agent-unlisted"]!.key.publicKey.fingerprintSha256();
    const rsa = keys["agent-rsa"]!.key.publicKey.fingerprintSha256();
    assert.ok(log.some((l) => l.includes("Offering public key") && l.includes(unlisted)));
    assert.ok(log.some((l) => l.includes("Server accepts key") && l.includes(rsa)));
    // The agent signed with SHA-512 (SSH_AGENT_RSA_SHA2_512), as sshd saw.
    await logged(sshd.log, `test pkalg rsa-sha2-512 pkblob RSA ${rsa}`);
    await logged(sshd.log, new RegExp(`Accepted publickey for root .* RSA ${rsa.replace(/[+/]/g, "\\$&")}`));
    await agent.stop();
    agent = undefined;
  });

  test("password (PAM sshd, throwaway user)", { timeout: 30_000 }, async () => {
    const c = await loginAs(userOptions({ password: user.password, authMethods: ["password"] }), user.name);
    assert.deepEqual(c.authentication, { method: "password", methods: ["password"] });
    await logged(pamSshd.log, `Accepted password for ${user.name}`);
  });

  test("keyboard-interactive (PAM sshd, throwaway user)", { timeout: 30_000 }, async () => {
    const prompts: string[] = [];
    const c = await loginAs(
      userOptions({
        authMethods: ["keyboard-interactive"],
        keyboardInteractive: (challenge) => {
          prompts.push(...challenge.prompts.map((p) => p.prompt));
          return challenge.prompts.map(() => user.password);
        },
      }),
      user.name,
    );
    assert.equal(c.authentication.method, "keyboard-interactive");
    assert.deepEqual(prompts, ["Password: "]);
    await logged(pamSshd.log, `Accepted keyboard-interactive/pam for ${user.name}`);
  });

  test("a wrong password: SshError AUTH_FAILED", { timeout: 30_000 }, async () => {
    let err: unknown;
    try {
      await connect(userOptions({ password: "not-the-password", authMethods: ["password"] }));
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof SshError, `not an SshError: ${String(err)}`);
    assert.equal(err.code, "AUTH_FAILED");
    assert.match(err.message, /^Permission denied \(/);
    await logged(pamSshd.log, `Failed password for ${user.name}`);
  });
});
