/**
 * Interoperability with the npm `ssh2` library (v1.17), both ways:
 *  - ssh2's Client against our createServer: its default algorithms negotiate (and each of its kex
 *    methods and ciphers on its own), exec output and exit codes, stderr apart from stdout, a command
 *    killed by a signal (exit-signal), a signal request, stdin and a large round trip, env, publickey
 *    (ed25519, ecdsa, rsa), password and keyboard-interactive, a refused login, a shell on a PTY.
 *  - our connect() against an ssh2 Server (host keys written by serializePrivateKey): exec output and exit
 *    codes, stderr, exit-signal, stdin, env, a PTY shell, password, publickey (ed25519, rsa) and
 *    keyboard-interactive, a refused login, and each of ssh2's ciphers.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import os from "node:os";
import { after, before, describe, test } from "node:test";
import ssh2 from "ssh2";
import type {
  AuthContext,
  ClientChannel,
  ConnectConfig,
  Connection as Ssh2Connection,
  ServerChannel,
} from "ssh2";
import { connect, type ConnectOptions, type SshClient } from "../../src/client/index.js";
import { PrivateKey, serializePrivateKey, type PublicKey } from "../../src/keys/index.js";
import { createServer, defaultSessionEnv, type SshServer } from "../../src/server/index.js";
import type { NegotiatedAlgorithms } from "../../src/transport/index.js";
import { SshError } from "../../src/wire/index.js";

const { Client: Ssh2Client, Server: Ssh2Server, utils: ssh2utils } = ssh2;

const USER = os.userInfo().username;
const PASSWORD = "correct horse battery staple";

const hostEd25519 = PrivateKey.generate("ssh-ed25519");
const hostEcdsa = PrivateKey.generate("ecdsa-sha2-nistp256");
const hostRsa = PrivateKey.generate("ssh-rsa", 2048);
const userEd25519 = PrivateKey.generate("ssh-ed25519");
const userRsa = PrivateKey.generate("ssh-rsa", 2048);
const userEcdsa = PrivateKey.generate("ecdsa-sha2-nistp256");
const stranger = PrivateKey.generate("ssh-ed25519");

/** A private key as ssh2 reads it: an unencrypted openssh-key-v1 file. */
const openssh = (k: PrivateKey): string => serializePrivateKey(k, { format: "openssh" });

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// ---- ssh2's Client against our createServer ------------------------------------------------------------

interface Ssh2ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: string | null;
}

/** Run a command with ssh2's client and collect everything its exec stream reports. */
function ssh2Exec(
  client: InstanceType<typeof Ssh2Client>,
  command: string,
  o: {
    stdin?: Buffer | string;
    env?: Record<string, string>;
    whileRunning?: (s: ClientChannel) => void;
  } = {},
): Promise<Ssh2ExecResult> {
  return withTimeout(
    new Promise<Ssh2ExecResult>((resolve, reject) => {
      client.exec(command, o.env ? { env: o.env } : {}, (err, stream) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | null = null;
        stream.on("data", (d: Buffer) => out.push(d));
        stream.stderr.on("data", (d: Buffer) => errOut.push(d));
        stream.on("exit", (c: number | null, s?: string) => {
          code = c ?? null;
          signal = s ?? null;
        });
        stream.on("close", () =>
          resolve({
            stdout: Buffer.concat(out).toString("utf8"),
            stderr: Buffer.concat(errOut).toString("utf8"),
            code,
            signal,
          }),
        );
        if (o.stdin !== undefined) stream.end(o.stdin);
        else if (!o.whileRunning) stream.end();
        o.whileRunning?.(stream);
      });
    }),
    20_000,
    `ssh2 exec of ${command}`,
  );
}

describe("ssh2's Client against our createServer", () => {
  let server: SshServer;
  let port: number;
  const clients = new Set<InstanceType<typeof Ssh2Client>>();
  /** What our server negotiated, by the client's local port. */
  const negotiated = new Map<number, NegotiatedAlgorithms>();
  const authMethods = new Map<number, string[]>();

  before(async () => {
    server = createServer({
      hostKeys: [hostEd25519, hostEcdsa, hostRsa],
      failureDelayMs: 0,
      auth: {
        checkPublicKey: ({ username, key }) =>
          username === USER && [userEd25519, userRsa, userEcdsa].some((k) => k.publicKey.equals(key)),
        checkPassword: ({ username, password }) => username === USER && password === PASSWORD,
        keyboardInteractive: async ({ username }, ask) => {
          const [a, b] = await ask({
            name: "challenge",
            instructions: "two questions",
            prompts: [
              { prompt: "Password: ", echo: false },
              { prompt: "Favourite colour: ", echo: true },
            ],
          });
          return username === USER && a === PASSWORD && b === "blue";
        },
      },
      onSession: (session, c) => {
        session.on("start", (start, accept, reject) => {
          if (start.kind === "subsystem") return reject();
          accept();
          if (start.kind === "exec" && start.command === "inproc") {
            // An in-process handler driving the channel itself.
            session.channel.write("from the handler\n");
            session.channel.stderrWriter.write("handler stderr\n");
            void session.exit(5);
            return;
          }
          session
            .run({ shell: "/bin/sh", cwd: os.tmpdir(), env: defaultSessionEnv(c) })
            .catch(() => session.channel.destroy());
        });
      },
    });
    server.on("connection", (c) => {
      negotiated.set(c.remotePort, c.transport.negotiated!);
      authMethods.set(c.remotePort, c.user.methods);
    });
    ({ port } = await server.listen(0, "127.0.0.1"));
  });

  after(async () => {
    for (const c of clients) c.end();
    await server.close();
  });

  /** Connect with ssh2 (publickey ed25519 unless told otherwise); resolves once authenticated. */
  function ssh2Connect(config: Partial<ConnectConfig> = {}): Promise<{
    client: InstanceType<typeof Ssh2Client>;
    localPort: number;
  }> {
    const client = new Ssh2Client();
    clients.add(client);
    client.on("close", () => clients.delete(client));
    return withTimeout(
      new Promise((resolve, reject) => {
        client.once("ready", () => {
          const sock = (client as unknown as { _sock: net.Socket })._sock;
          resolve({ client, localPort: sock.localPort! });
        });
        client.once("error", reject);
        client.connect({
          host: "127.0.0.1",
          port,
          username: USER,
          privateKey: openssh(userEd25519),
          hostVerifier: (key: Buffer) => key.equals(hostEd25519.publicKey.blob),
          readyTimeout: 15_000,
          ...config,
        } as ConnectConfig);
      }),
      20_000,
      "ssh2 to connect",
    );
  }

  test("ssh2's default algorithms negotiate; exec echo hi", async () => {
    const { client, localPort } = await ssh2Connect();
    const r = await ssh2Exec(client, "echo hi");
    assert.deepEqual(r, { stdout: "hi\n", stderr: "", code: 0, signal: null });
    const n = negotiated.get(localPort)!;
    // ssh2 1.17 prefers curve25519 and aes128-gcm; its host key verifier saw our ed25519 key.
    assert.match(n.kex, /^curve25519-sha256/);
    assert.equal(n.hostKey, "ssh-ed25519");
    assert.equal(n.cipherC2S, "aes128-gcm@openssh.com");
    assert.equal(n.cipherS2C, "aes128-gcm@openssh.com");
    client.end();
  });

  test("exit codes 0, 1 and 42; stderr apart from stdout", async () => {
    const { client } = await ssh2Connect();
    for (const code of [0, 1, 42]) {
      const r = await ssh2Exec(client, `echo out${code}; echo err${code} >&2; exit ${code}`);
      assert.deepEqual(r, { stdout: `out${code}\n`, stderr: `err${code}\n`, code, signal: null });
    }
    client.end();
  });

  test("several commands at once on one connection", async () => {
    const { client } = await ssh2Connect();
    const rs = await Promise.all([1, 2, 3, 4].map((i) => ssh2Exec(client, `echo ${i}; exit ${i}`)));
    assert.deepEqual(
      rs.map((r) => [r.stdout, r.code]),
      [1, 2, 3, 4].map((i) => [`${i}\n`, i]),
    );
    client.end();
  });

  test("a command killed by a signal: ssh2's exit event gives the signal name", async () => {
    const { client } = await ssh2Connect();
    const r = await ssh2Exec(client, "echo before; kill -TERM $$; echo after");
    assert.deepEqual(r, { stdout: "before\n", stderr: "", code: null, signal: "SIGTERM" });
    client.end();
  });

  test("ssh2's signal request reaches the program", async () => {
    const { client } = await ssh2Connect();
    const r = await ssh2Exec(client, "echo started; exec sleep 30", {
      whileRunning: (s) => s.once("data", () => s.signal("INT")),
    });
    assert.equal(r.stdout, "started\n");
    assert.equal(r.signal, "SIGINT");
    assert.equal(r.code, null);
    client.end();
  });

  test("stdin to the command, and 4 MiB through cat and back", async () => {
    const { client } = await ssh2Connect();
    const r = await ssh2Exec(client, "tr a-z A-Z", { stdin: "shout\n" });
    assert.deepEqual(r, { stdout: "SHOUT\n", stderr: "", code: 0, signal: null });
    const big = randomBytes(3 * 1024 * 1024).toString("base64"); // 4 MiB of text
    const echoed = await ssh2Exec(client, "cat", { stdin: big });
    assert.equal(echoed.code, 0);
    assert.equal(echoed.stdout.length, big.length);
    assert.ok(echoed.stdout === big, "cat returned different bytes");
    client.end();
  });

  test("env requests: LANG is taken, others refused (AcceptEnv default)", async () => {
    const { client } = await ssh2Connect();
    const r = await ssh2Exec(client, 'echo "$LANG/${NSSH_OTHER:-unset}"', {
      env: { LANG: "C.UTF-8", NSSH_OTHER: "x" },
    });
    assert.equal(r.stdout, "C.UTF-8/unset\n");
    client.end();
  });

  test("an in-process handler: output, stderr and exit status", async () => {
    const { client } = await ssh2Connect();
    const r = await ssh2Exec(client, "inproc");
    assert.deepEqual(r, { stdout: "from the handler\n", stderr: "handler stderr\n", code: 5, signal: null });
    client.end();
  });

  for (const [name, key] of [
    ["ed25519", userEd25519],
    ["rsa", userRsa],
    ["ecdsa", userEcdsa],
  ] as const) {
    test(`publickey (${name}) authentication`, async () => {
      const { client, localPort } = await ssh2Connect({ privateKey: openssh(key) });
      assert.deepEqual(authMethods.get(localPort), ["publickey"]);
      assert.equal((await ssh2Exec(client, "echo ok")).stdout, "ok\n");
      client.end();
    });
  }

  test("password authentication", async () => {
    const { client, localPort } = await ssh2Connect({ privateKey: undefined, password: PASSWORD });
    assert.deepEqual(authMethods.get(localPort), ["password"]);
    assert.equal((await ssh2Exec(client, "echo ok")).stdout, "ok\n");
    client.end();
  });

  test("keyboard-interactive authentication", async () => {
    const client = new Ssh2Client();
    clients.add(client);
    const prompts: string[] = [];
    client.on("keyboard-interactive", (_name, instructions, _lang, ps, finish) => {
      prompts.push(instructions, ...ps.map((p) => `${p.prompt}${p.echo ? " (echo)" : ""}`));
      finish([PASSWORD, "blue"]);
    });
    const ready = new Promise<void>((resolve, reject) => {
      client.once("ready", resolve);
      client.once("error", reject);
    });
    client.connect({
      host: "127.0.0.1",
      port,
      username: USER,
      tryKeyboard: true,
      hostVerifier: (key: Buffer) => key.equals(hostEd25519.publicKey.blob),
    });
    await withTimeout(ready, 20_000, "keyboard-interactive login");
    assert.deepEqual(prompts, ["two questions", "Password: ", "Favourite colour:  (echo)"]);
    assert.equal((await ssh2Exec(client, "echo ok")).stdout, "ok\n");
    client.end();
  });

  test("a wrong password and an unknown key are refused", async () => {
    await assert.rejects(
      ssh2Connect({ privateKey: undefined, password: "wrong" }),
      /authentication methods failed/,
    );
    await assert.rejects(ssh2Connect({ privateKey: openssh(stranger) }), /authentication methods failed/);
  });

  test("a shell on a PTY", async () => {
    const { client } = await ssh2Connect();
    const r = await withTimeout(
      new Promise<{ out: string; code: number | null }>((resolve, reject) => {
        client.shell({ term: "xterm-nssh", cols: 111, rows: 33 }, (err, stream) => {
          if (err) return reject(err);
          let out = "";
          let code: number | null = null;
          stream.on("data", (d: Buffer) => (out += d.toString("utf8")));
          stream.on("exit", (c: number | null) => (code = c));
          stream.on("close", () => resolve({ out, code }));
          stream.write('echo "T=$TERM"; stty size; test -t 0 && echo tty-yes; exit 7\n');
        });
      }),
      20_000,
      "the PTY shell",
    );
    assert.equal(r.code, 7);
    assert.match(r.out, /T=xterm-nssh/);
    assert.match(r.out, /33 111/);
    assert.match(r.out, /tty-yes/);
    client.end();
  });

  for (const kex of [
    "curve25519-sha256@libssh.org",
    "curve25519-sha256",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
  ]) {
    test(`ssh2 with kex ${kex} only`, async () => {
      const { client, localPort } = await ssh2Connect({ algorithms: { kex: [kex as never] } });
      assert.equal(negotiated.get(localPort)!.kex, kex);
      assert.equal((await ssh2Exec(client, "echo ok")).stdout, "ok\n");
      client.end();
    });
  }

  for (const cipher of [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "chacha20-poly1305@openssh.com",
  ]) {
    test(`ssh2 with cipher ${cipher} only`, async () => {
      const { client, localPort } = await ssh2Connect({ algorithms: { cipher: [cipher as never] } });
      const n = negotiated.get(localPort)!;
      assert.equal(n.cipherC2S, cipher);
      assert.equal(n.cipherS2C, cipher);
      assert.equal((await ssh2Exec(client, "head -c 100000 /dev/zero | wc -c")).stdout.trim(), "100000");
      client.end();
    });
  }

  for (const mac of [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
  ]) {
    test(`ssh2 with aes128-ctr and mac ${mac} only`, async () => {
      const { client, localPort } = await ssh2Connect({
        algorithms: { cipher: ["aes128-ctr"], hmac: [mac as never] },
      });
      assert.equal(negotiated.get(localPort)!.macC2S, mac);
      assert.equal((await ssh2Exec(client, "echo ok")).stdout, "ok\n");
      client.end();
    });
  }

  for (const [alg, key] of [
    ["ecdsa-sha2-nistp256", hostEcdsa],
    ["rsa-sha2-512", hostRsa],
    ["rsa-sha2-256", hostRsa],
  ] as const) {
    test(`ssh2 with host key algorithm ${alg} only`, async () => {
      const { client, localPort } = await ssh2Connect({
        algorithms: { serverHostKey: [alg] },
        hostVerifier: (k: Buffer) => k.equals(key.publicKey.blob),
      });
      assert.equal(negotiated.get(localPort)!.hostKey, alg);
      client.end();
    });
  }
});

// ---- our connect() against an ssh2 Server ---------------------------------------------------------------

/** Whether ssh2's publickey context carries `key` (and, with a signature, a valid one). */
function publicKeyAllowed(ctx: AuthContext, key: PublicKey): boolean {
  if (ctx.method !== "publickey") return false;
  if (!ctx.key.data.equals(key.blob)) return false;
  if (!ctx.signature) return true; // the query: "would this key do?"
  const parsed = ssh2utils.parseKey(key.toLine());
  if (parsed instanceof Error) throw parsed;
  return parsed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo);
}

describe("our connect() against an ssh2 Server", () => {
  const servers: Array<InstanceType<typeof Ssh2Server>> = [];
  const ourClients = new Set<SshClient>();
  /** What ssh2's server saw, for assertions. */
  const seen = { ptys: [] as unknown[], envs: [] as Array<[string, string]>, methods: [] as string[] };

  after(async () => {
    await Promise.all([...ourClients].map((c) => c.close()));
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  function onExec(command: string, stream: ServerChannel): void {
    const m = /^exit (\d+)$/.exec(command);
    if (m) {
      stream.write(`status ${m[1]}\n`);
      stream.exit(Number(m[1]));
      stream.end();
    } else if (command === "echo hi") {
      stream.write("hi\n");
      stream.exit(0);
      stream.end();
    } else if (command === "stderr") {
      stream.write("to stdout\n");
      stream.stderr.write("to stderr\n");
      stream.exit(3);
      stream.end();
    } else if (command.startsWith("signal ")) {
      stream.write("dying\n");
      stream.exit(command.slice(7), false, "killed for the test");
      stream.end();
    } else if (command === "cat") {
      // Echo stdin, then the exit status once the client has sent EOF.
      stream.on("data", (d: Buffer) => stream.write(d));
      stream.on("end", () => {
        stream.exit(0);
        stream.end();
      });
    } else {
      stream.stderr.write(`unknown command ${command}\n`);
      stream.exit(127);
      stream.end();
    }
  }

  async function startSsh2Server(
    hostKey: PrivateKey,
    format: "openssh" | "pem" = "openssh",
  ): Promise<number> {
    const server = new Ssh2Server(
      { hostKeys: [serializePrivateKey(hostKey, { format })] },
      (client: Ssh2Connection) => {
        client.on("error", () => {});
        client.on("authentication", (ctx) => {
          seen.methods.push(ctx.method);
          if (ctx.username === "silent") return; // never answered
          if (ctx.username !== USER) return ctx.reject();
          if (ctx.method === "password" && ctx.password === PASSWORD) return ctx.accept();
          if (
            ctx.method === "publickey" &&
            [userEd25519, userRsa].some((k) => publicKeyAllowed(ctx, k.publicKey))
          ) {
            return ctx.accept();
          }
          if (ctx.method === "keyboard-interactive") {
            return ctx.prompt([{ prompt: "Code: ", echo: true }], "verify", "enter the code", (answers) =>
              answers[0] === "1234" ? ctx.accept() : ctx.reject(),
            );
          }
          ctx.reject(["publickey", "password", "keyboard-interactive"]);
        });
        client.on("ready", () => {
          client.on("session", (accept) => {
            const session = accept();
            session.on("env", (acceptEnv, _reject, info) => {
              seen.envs.push([info.key, info.val]);
              acceptEnv?.();
            });
            session.on("pty", (acceptPty, _reject, info) => {
              seen.ptys.push(info);
              acceptPty?.();
            });
            session.on("exec", (acceptExec, _reject, info) => onExec(info.command, acceptExec()));
            session.on("shell", (acceptShell) => {
              const stream = acceptShell();
              stream.write("$ ");
              let line = "";
              stream.on("data", (d: Buffer) => {
                line += d.toString();
                if (line.includes("\n")) {
                  stream.write(`you said ${line.trim()}\n`);
                  stream.exit(9);
                  stream.end();
                }
              });
            });
          });
        });
      },
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as net.AddressInfo).port;
  }

  let port: number;
  let rsaPort: number;
  before(async () => {
    port = await startSsh2Server(hostEd25519);
    rsaPort = await startSsh2Server(hostRsa, "pem");
  });

  async function ourConnect(o: Partial<ConnectOptions> = {}): Promise<SshClient> {
    const client = await connect({
      host: "127.0.0.1",
      port,
      username: USER,
      agent: false,
      identity: userEd25519,
      verifyHostKey: (key) => key.equals(hostEd25519.publicKey),
      readyTimeout: 15_000,
      ...o,
    });
    ourClients.add(client);
    client.once("close", () => ourClients.delete(client));
    return client;
  }

  test("exec: output and exit codes 0, 1 and 42", async () => {
    const client = await ourConnect();
    assert.deepEqual(await client.exec("echo hi"), { code: 0, signal: null, stdout: "hi\n", stderr: "" });
    for (const code of [0, 1, 42]) {
      const r = await client.exec(`exit ${code}`);
      assert.deepEqual(r, { code, signal: null, stdout: `status ${code}\n`, stderr: "" });
    }
    await client.close();
  });

  test("stderr apart from stdout", async () => {
    const client = await ourConnect();
    assert.deepEqual(await client.exec("stderr"), {
      code: 3,
      signal: null,
      stdout: "to stdout\n",
      stderr: "to stderr\n",
    });
    await client.close();
  });

  test("exit-signal: the signal name, no status", async () => {
    const client = await ourConnect();
    for (const sig of ["TERM", "KILL", "SIGINT"]) {
      const r = await client.exec(`signal ${sig}`);
      assert.deepEqual(r, { code: null, signal: sig.replace(/^SIG/, ""), stdout: "dying\n", stderr: "" });
    }
    const session = await client.spawn("signal SEGV");
    session.channel.resume();
    const exit = await session.exit;
    assert.deepEqual(exit, { code: null, signal: "SEGV", coreDumped: false, message: "killed for the test" });
    await client.close();
  });

  test("stdin, and 4 MiB through ssh2's echo and back", async () => {
    const client = await ourConnect();
    assert.equal((await client.exec("cat", { stdin: "ping\n" })).stdout, "ping\n");
    const big = randomBytes(4 * 1024 * 1024);
    const r = await client.exec("cat", { stdin: big, encoding: "buffer" });
    assert.equal(r.code, 0);
    assert.ok(r.stdout.equals(big), "the bytes came back different");
    await client.close();
  });

  test("several commands at once", async () => {
    const client = await ourConnect();
    const rs = await Promise.all([1, 2, 3, 4, 5].map((i) => client.exec(`exit ${i}`)));
    assert.deepEqual(
      rs.map((r) => r.code),
      [1, 2, 3, 4, 5],
    );
    await client.close();
  });

  test("env and a PTY shell", async () => {
    const client = await ourConnect();
    const r = await client.exec("echo hi", { env: { LANG: "C.UTF-8" } });
    assert.equal(r.stdout, "hi\n");
    assert.deepEqual(seen.envs.at(-1), ["LANG", "C.UTF-8"]);
    const shell = await client.shell({ pty: { term: "vt220", cols: 100, rows: 40 } });
    let out = "";
    shell.channel.on("data", (d: Buffer) => (out += d.toString()));
    shell.channel.write("hello\n");
    const exit = await withTimeout(shell.exit, 10_000, "the shell to end");
    assert.equal(exit.code, 9);
    assert.equal(out, "$ you said hello\n");
    const pty = seen.ptys.at(-1) as { term: string; cols: number; rows: number };
    assert.deepEqual(
      { term: pty.term, cols: pty.cols, rows: pty.rows },
      { term: "vt220", cols: 100, rows: 40 },
    );
    await client.close();
  });

  test("password authentication", async () => {
    const client = await ourConnect({ identity: [], password: PASSWORD, authMethods: ["password"] });
    assert.equal(client.authentication.method, "password");
    assert.equal((await client.exec("echo hi")).stdout, "hi\n");
    await client.close();
  });

  test("publickey authentication (ed25519)", async () => {
    const client = await ourConnect({ identity: userEd25519, authMethods: ["publickey"] });
    assert.equal(client.authentication.method, "publickey");
    assert.equal((await client.exec("echo hi")).stdout, "hi\n");
    await client.close();
  });

  // ssh2's server answers a query for an rsa-sha2-256 key with USERAUTH_PK_OK naming "ssh-rsa" (the key
  // type, not the algorithm asked for); like OpenSSH's client, ours compares key types and goes on.
  test("publickey authentication (rsa, SHA-2 signatures)", async () => {
    const client = await ourConnect({ identity: userRsa, authMethods: ["publickey"] });
    assert.equal(client.authentication.method, "publickey");
    assert.equal((await client.exec("echo hi")).stdout, "hi\n");
    await client.close();
  });

  test("keyboard-interactive authentication", async () => {
    const seenPrompts: string[] = [];
    const client = await ourConnect({
      identity: [],
      authMethods: ["keyboard-interactive"],
      keyboardInteractive: (c) => {
        seenPrompts.push(c.name, c.instructions, ...c.prompts.map((p) => p.prompt));
        return ["1234"];
      },
    });
    assert.equal(client.authentication.method, "keyboard-interactive");
    assert.deepEqual(seenPrompts, ["verify", "enter the code", "Code: "]);
    await client.close();
  });

  test("refused logins reject with AUTH_FAILED", async () => {
    await assert.rejects(
      ourConnect({ identity: stranger, password: "wrong", authMethods: ["publickey", "password"] }),
      (err: unknown) => err instanceof SshError && err.code === "AUTH_FAILED",
    );
  });

  test("a server that never answers authentication: TIMEOUT after readyTimeout", async () => {
    const started = Date.now();
    await assert.rejects(
      ourConnect({ username: "silent", readyTimeout: 700 }),
      (err: unknown) => err instanceof SshError && err.code === "TIMEOUT",
    );
    assert.ok(Date.now() - started < 5000);
  });

  test("an RSA host key in PEM (rsa-sha2-512)", async () => {
    const client = await ourConnect({ port: rsaPort, verifyHostKey: (key) => key.equals(hostRsa.publicKey) });
    assert.equal(client.negotiated.hostKey, "rsa-sha2-512");
    assert.equal((await client.exec("echo hi")).stdout, "hi\n");
    await client.close();
  });

  test("a host key that does not match is refused", async () => {
    await assert.rejects(
      ourConnect({ verifyHostKey: (key) => key.equals(hostRsa.publicKey) }),
      (err: unknown) => err instanceof SshError,
    );
  });

  for (const cipher of [
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
  ]) {
    test(`cipher ${cipher}`, async () => {
      const client = await ourConnect({ ciphers: [cipher] });
      assert.equal(client.negotiated.cipherC2S, cipher);
      const data = randomBytes(200_000);
      const r = await client.exec("cat", { stdin: data, encoding: "buffer" });
      assert.ok(r.stdout.equals(data));
      await client.close();
    });
  }

  for (const kex of [
    "curve25519-sha256",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group14-sha256",
  ]) {
    test(`kex ${kex}`, async () => {
      const client = await ourConnect({ kex: [kex] });
      assert.equal(client.negotiated.kex, kex);
      assert.equal((await client.exec("echo hi")).stdout, "hi\n");
      await client.close();
    });
  }
});
