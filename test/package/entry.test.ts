/**
 * `import ... from "nssh"` loads one bundled ES module (dist/src/bundle/nssh.js, made by
 * scripts/bundle-commands.mjs) rather than tsc's ~120 modules. The other tests import tsc's modules, so
 * here the bundle itself is held to the same behaviour where bundling could break it: the same exports,
 * the package it requires (bcrypt-pbkdf, for an encrypted key), the KEMs it loads on first use
 * (sntrup761 lazily, ML-KEM-768's WebAssembly), against OpenSSH's ssh and sshd and itself.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type * as Nssh from "../../src/index.js";
import { createSystemUser, isRoot, type SystemUser } from "../helpers/authHelpers.js";
import { runOpenSshClient } from "../helpers/opensshClient.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";

const skip = !opensshAvailable() ? "OpenSSH is not installed" : !isRoot ? "needs root (sshd as root)" : false;

/** The package's own name resolves through package.json "exports" from inside the package. */
const load = (): Promise<typeof Nssh> => import("nssh") as Promise<typeof Nssh>;

test('"nssh" resolves to the bundled ES module', () => {
  const resolved = fileURLToPath(import.meta.resolve("nssh"));
  assert.match(resolved, /[/]dist[/]src[/]bundle[/]nssh\.js$/);
  assert.ok(fs.existsSync(resolved));
});

test("the bundle exports what src/index.ts exports, as values of the same kinds", async () => {
  const bundle = await load();
  const direct = await import("../../src/index.js");
  assert.deepEqual(Object.keys(bundle).sort(), Object.keys(direct).sort());
  for (const name of Object.keys(direct)) {
    const value = (direct as Record<string, unknown>)[name];
    const bundled = (bundle as Record<string, unknown>)[name];
    assert.equal(typeof bundled, typeof value, name);
    // Classes and functions keep their names (what util.inspect and stack traces show).
    if (typeof value === "function") assert.equal((bundled as () => void).name, value.name, name);
  }
  // One copy of each class: not tsc's module's.
  assert.notEqual(bundle.SshClient, direct.SshClient);
});

describe("the bundle against OpenSSH and itself", { skip, concurrency: 1 }, () => {
  let nssh: typeof Nssh;
  let server: Nssh.SshServer;
  let port = 0;
  let sshd: OpenSshServer;
  let user: SystemUser;
  let dir = "";
  const clients: Nssh.SshClient[] = [];

  before(async () => {
    nssh = await load();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-entry-"));
    const userKey = nssh.PrivateKey.generate("ssh-ed25519");
    server = nssh.createServer({
      hostKeys: [nssh.PrivateKey.generate("ssh-ed25519")],
      failureDelayMs: 0,
      auth: { checkPublicKey: ({ key }) => key.equals(userKey.publicKey) },
      onSession: (session, connection) => {
        session.on("start", (start, accept, reject) => {
          if (start.kind !== "exec") return reject();
          accept();
          void session.run({ shell: "/bin/sh", cwd: "/", env: nssh.defaultSessionEnv(connection) });
        });
      },
    });
    port = (await server.listen(0, "127.0.0.1")).port;
    fs.writeFileSync(path.join(dir, "id_ed25519"), nssh.serializeOpenSshPrivateKey(userKey), { mode: 0o600 });

    const made = createSystemUser();
    if (!made) throw new Error("createSystemUser() made no user (it needs root)");
    user = made;
    sshd = await startOpenSshServer([`AllowUsers ${user.name}`]);
  });

  after(async () => {
    // Each step whatever the one before did: a client that fails to close must not leave the server,
    // sshd, the user or the folder behind.
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled([server?.close(), sshd?.stop()]);
    user?.remove();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test("OpenSSH's ssh runs a command on the bundle's server (sntrup761x25519, loaded on first use)", async () => {
    const r = await runOpenSshClient(port, {
      options: {
        IdentityFile: path.join(dir, "id_ed25519"),
        IdentitiesOnly: "yes",
        KexAlgorithms: "sntrup761x25519-sha512@openssh.com",
      },
      command: "echo from-bundle; exit 3",
    });
    assert.equal(r.stdout, "from-bundle\n", r.stderr.slice(-2000));
    assert.equal(r.status, 3);
    assert.match(r.stderr, /kex: algorithm: sntrup761x25519-sha512@openssh.com/);
  });

  test("OpenSSH's ssh -C: the bundle's server compresses (node:zlib, loaded on first use)", async () => {
    const text = "compressed through the bundle ".repeat(4000);
    const r = await runOpenSshClient(port, {
      options: { IdentityFile: path.join(dir, "id_ed25519"), IdentitiesOnly: "yes", Compression: "yes" },
      command: `printf '%s' '${text}'`,
    });
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    assert.equal(r.stdout, text);
    assert.match(r.stderr, /kex: server->client cipher: \S+ MAC: \S+ compression: zlib@openssh\.com/);
  });

  test("the bundle's connect() logs in to sshd with a passphrase-protected key from ssh-keygen", async () => {
    const keyFile = path.join(dir, "encrypted");
    const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "secret words", "-f", keyFile]);
    assert.equal(made.status, 0, String(made.stderr));
    assert.throws(() => nssh.parsePrivateKey(fs.readFileSync(keyFile), "wrong words"));
    const key = nssh.parsePrivateKey(fs.readFileSync(keyFile), "secret words");
    sshd.setAuthorizedKeys([fs.readFileSync(keyFile + ".pub", "utf8").trim()]);
    const hostKeys = [...sshd.hostPublicKeys.values()].map((l) => l.split(" ").slice(0, 2).join(" "));
    const client = await nssh.connect({
      host: "127.0.0.1",
      port: sshd.port,
      username: user.name,
      identity: key,
      agent: false,
      verifyHostKey: (k) => hostKeys.includes(k.toLine()),
    });
    clients.push(client);
    const r = await client.exec("echo $((6 * 7))");
    assert.equal(r.stdout, "42\n");
    assert.equal(r.code, 0);
  });

  test("the bundle's connect() and createServer() agree on mlkem768x25519-sha256, the default", async () => {
    const key = nssh.parsePrivateKey(fs.readFileSync(path.join(dir, "id_ed25519")));
    const client = await nssh.connect({
      host: "127.0.0.1",
      port,
      username: "anyone",
      identity: key,
      agent: false,
      verifyHostKey: () => true,
    });
    clients.push(client);
    assert.equal(client.negotiated.kex, "mlkem768x25519-sha256");
    const r = await client.exec("printf 'a\\nb\\n' | wc -l");
    assert.equal(r.stdout.trim(), "2");
  });
});
