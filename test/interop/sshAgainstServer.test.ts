/**
 * The real OpenSSH `ssh` client against the library's server (createServer) running real commands as
 * the current user: exit statuses and exit-signal compared with OpenSSH's own sshd, 100 MiB through
 * `cat` with stderr kept apart, a PTY, password and keyboard-interactive through sshpass, ed25519 /
 * ECDSA / RSA keys from files and a key held by ssh-agent, every cipher, and re-keying every 1 MiB in
 * the middle of a 100 MiB transfer. Each ssh runs with no config file, a known_hosts that holds the
 * server's key (StrictHostKeyChecking=yes, so what it prints is exactly what a user would see) and a
 * hard timeout; each test ends every process and server it starts.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, describe, test } from "node:test";
import { constantTimeEqual, type AuthPolicy } from "../../src/auth/index.js";
import type { PublicKey } from "../../src/keys/index.js";
import { makeUserKey, sshpassAvailable, type KeyFile } from "../helpers/authHelpers.js";
import { startLibrarySshServer, type LibrarySshServer } from "../helpers/librarySshServer.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";

const USER = os.userInfo().username;
const PASSWORD = `secret-${randomBytes(6).toString("hex")}`;
const MiB = 1024 * 1024;
const skip = !opensshAvailable() ? "OpenSSH is not installed" : false;

const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-interop-keys-"));
after(() => fs.rmSync(keyDir, { recursive: true, force: true }));
let keys: Record<"ed25519" | "ecdsa" | "rsa" | "stranger", KeyFile>;
if (!skip) {
  keys = {
    ed25519: makeUserKey(keyDir, "id_ed25519", "ed25519"),
    ecdsa: makeUserKey(keyDir, "id_ecdsa", "ecdsa", 256),
    rsa: makeUserKey(keyDir, "id_rsa", "rsa", 2048),
    stranger: makeUserKey(keyDir, "id_stranger", "ed25519"),
  };
}

/** The server's decisions: the user's keys (plus any given), and the password for both password methods. */
function policy(extraKeys: PublicKey[] = []): AuthPolicy {
  const allowed = [keys.ed25519, keys.ecdsa, keys.rsa].map((k) => k.key.publicKey).concat(extraKeys);
  return {
    checkPublicKey: ({ username, key }) => username === USER && allowed.some((k) => k.equals(key)),
    checkPassword: ({ username, password }) => constantTimeEqual(password, PASSWORD) && username === USER,
    keyboardInteractive: async ({ username }, ask) => {
      const [answer] = await ask({
        name: "",
        instructions: "",
        prompts: [{ prompt: "Password: ", echo: false }],
      });
      return answer !== undefined && constantTimeEqual(answer, PASSWORD) && username === USER;
    },
  };
}

async function libraryServer(
  t: { after(fn: () => Promise<void>): void },
  options: Partial<Parameters<typeof startLibrarySshServer>[0]> = {},
): Promise<LibrarySshServer> {
  const srv = await startLibrarySshServer({ auth: policy(), ...options });
  t.after(() => srv.close());
  return srv;
}

// ---- running ssh ----------------------------------------------------------------------------------

interface SshCall {
  port: number;
  /** known_hosts lines for the server. */
  knownHosts: string[];
  command: string;
  /** More ssh arguments, before the destination: -tt, -c, -v, -o... */
  args?: string[];
  /** ssh -i with IdentitiesOnly=yes (default: the ed25519 key); null: no key file at all. */
  identity?: string | null;
  /** Type this password with sshpass -p (ssh then runs without BatchMode). */
  password?: string;
  /** Extra environment (SSH_AUTH_SOCK is removed unless given here). */
  env?: Record<string, string>;
  /** Bytes for ssh's stdin, produced as they are written (default: /dev/null). */
  stdin?: AsyncIterable<Buffer>;
  /** Hash stdout as it arrives instead of keeping it. */
  hashStdout?: boolean;
  /** ssh -v -E file: its debug log goes to `debug`, and stderr stays what a user would see. */
  debug?: boolean;
  timeoutMs?: number;
}

interface SshResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stdoutBytes: number;
  stdoutSha256: string;
  stderr: string;
  /** The -v log, with debug set. */
  debug: string;
  ms: number;
}

/**
 * At most this many ssh processes at once: all their logins and sessions are served by this one Node
 * process, and forty started together on two busy cores left some past ssh's connect timeout in the
 * banner exchange.
 */
const MAX_SSH = Math.max(4, 3 * os.availableParallelism());
let sshRunning = 0;
const sshWaiting: Array<() => void> = [];

async function ssh(call: SshCall): Promise<SshResult> {
  if (sshRunning >= MAX_SSH) await new Promise<void>((resolve) => sshWaiting.push(resolve));
  else sshRunning++;
  try {
    return await runSsh(call);
  } finally {
    // A waiting call takes over this slot; otherwise it is freed.
    const next = sshWaiting.shift();
    if (next) next();
    else sshRunning--;
  }
}

async function runSsh(call: SshCall): Promise<SshResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-interop-ssh-"));
  const knownHosts = path.join(dir, "known_hosts");
  fs.writeFileSync(knownHosts, call.knownHosts.join("\n") + "\n");
  const identity = call.identity === undefined ? keys.ed25519.file : call.identity;
  const args = [
    "-F",
    "/dev/null",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "ConnectTimeout=10",
    "-o",
    `BatchMode=${call.password === undefined ? "yes" : "no"}`,
    ...(identity ? ["-i", identity, "-o", "IdentitiesOnly=yes"] : []),
    ...(call.debug ? ["-v", "-E", path.join(dir, "debug.log")] : []),
    ...(call.args ?? []),
    "-p",
    String(call.port),
    `${USER}@127.0.0.1`,
    call.command,
  ];
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SSH_AUTH_SOCK;
  delete env.SSH_AGENT_PID;
  Object.assign(env, call.env);
  const [cmd, argv] =
    call.password === undefined ? ["ssh", args] : ["sshpass", ["-p", call.password, "ssh", ...args]];
  const started = Date.now();
  try {
    return await new Promise<SshResult>((resolve, reject) => {
      // Its own process group, so that a timeout ends sshpass and the ssh under it together.
      const child = spawn(cmd, argv, {
        stdio: [call.stdin ? "pipe" : "ignore", "pipe", "pipe"],
        env,
        detached: true,
      });
      const hash = createHash("sha256");
      const out: Buffer[] = [];
      let stdoutBytes = 0;
      let stderr = "";
      let timedOut = false;
      child.stdout!.on("data", (d: Buffer) => {
        stdoutBytes += d.length;
        hash.update(d);
        if (!call.hashStdout) out.push(d);
      });
      child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
      if (call.stdin && child.stdin) {
        // ssh may exit before reading everything (a failed login): that is its result, not ours.
        pipeline(Readable.from(call.stdin), child.stdin).catch(() => {});
      }
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      }, call.timeoutMs ?? 25_000);
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once("close", (status, signal) => {
        clearTimeout(timer);
        resolve({
          status,
          signal,
          timedOut,
          stdout: Buffer.concat(out).toString(),
          stdoutBytes,
          stdoutSha256: hash.digest("hex"),
          stderr,
          debug: call.debug ? readIfThere(path.join(dir, "debug.log")) : "",
          ms: Date.now() - started,
        });
      });
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function readIfThere(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** `total` random bytes in 64 KiB chunks, made as they are consumed; `digest()` is their sha256 once read. */
function randomSource(total: number): { stream: AsyncIterable<Buffer>; digest(): string } {
  const hash = createHash("sha256");
  async function* generate(): AsyncGenerator<Buffer> {
    for (let sent = 0; sent < total;) {
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(64 * 1024, total - sent)));
      hash.update(chunk);
      sent += chunk.length;
      yield chunk;
    }
  }
  return { stream: generate(), digest: () => hash.digest("hex") };
}

const count = (text: string | string[], pattern: RegExp): number =>
  (Array.isArray(text) ? text : text.split(/\r?\n/)).filter((l) => pattern.test(l)).length;

/** What ssh -v prints about how the session ended: the channel request and the status it took from it. */
const exitLines = (stderr: string): string[] =>
  stderr
    .split(/\r?\n/)
    .filter((l) => /rtype exit-(status|signal)|Exit status/.test(l))
    .map((l) => l.replace(/channel \d+/, "channel N"));

// ---- the cases --------------------------------------------------------------------------------------

// Many short sessions at once: logins, exit statuses, ciphers.
describe("OpenSSH ssh against createServer: sessions, logins, ciphers", { concurrency: true, skip }, () => {
  // One case at a time: sshd runs each command through root's login shell, and a machine whose root
  // ~/.bashrc does work of its own (pyenv's rehash takes a lock) can print into a session that races
  // another one starting, which no comparison of outputs survives.
  // (An unset concurrency is inherited from the outer describe, so it is said here.)
  describe("exit status and exit-signal, compared with OpenSSH's sshd", { concurrency: false }, () => {
    let ours: LibrarySshServer;
    let sshd: OpenSshServer;
    let sshdKnownHosts: string[];
    before(async () => {
      [ours, sshd] = await Promise.all([
        startLibrarySshServer({ auth: policy() }),
        startOpenSshServer(["PermitRootLogin prohibit-password", "Match all", "LogLevel INFO"]),
      ]);
      fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), keys.ed25519.key.publicKey.toLine() + "\n");
      sshdKnownHosts = [...sshd.hostPublicKeys.values()].map((l) => `[127.0.0.1]:${sshd.port} ${l}`);
    });
    after(async () => {
      await Promise.all([ours?.close(), sshd?.stop()]);
    });

    const cases: Array<{
      command: string;
      args?: string[];
      status: number;
      stdout: string;
      stderr: string;
      /** What our server's session reported. */
      ended: { code: number | null; signal: string | null };
    }> = [
      {
        command: "echo hi",
        status: 0,
        stdout: "hi\n",
        stderr: "",
        ended: { code: 0, signal: null },
      },
      { command: "exit 1", status: 1, stdout: "", stderr: "", ended: { code: 1, signal: null } },
      {
        command: "exit 42",
        status: 42,
        stdout: "",
        stderr: "",
        ended: { code: 42, signal: null },
      },
      { command: "exit 255", status: 255, stdout: "", stderr: "", ended: { code: 255, signal: null } },
      {
        command: "echo out; echo err >&2; exit 3",
        status: 3,
        stdout: "out\n",
        stderr: "err\n",
        ended: { code: 3, signal: null },
      },
      {
        // ssh has no status to exit with: it exits 255 and prints nothing; -v shows "Exit status -1".
        command: "kill -TERM $$",
        status: 255,
        stdout: "",
        stderr: "",
        ended: { code: null, signal: "TERM" },
      },
      {
        command: "kill -KILL $$",
        status: 255,
        stdout: "",
        stderr: "",
        ended: { code: null, signal: "KILL" },
      },
      {
        command: "test -t 0 && test -t 1 && exit 7",
        args: ["-tt"],
        status: 7,
        stdout: "",
        stderr: "Connection to 127.0.0.1 closed.\r\n",
        ended: { code: 7, signal: null },
      },
      {
        command: "kill -TERM $$",
        args: ["-tt"],
        status: 255,
        stdout: "",
        stderr: "Connection to 127.0.0.1 closed.\r\n",
        ended: { code: null, signal: "TERM" },
      },
    ];

    for (const c of cases) {
      const name = `${c.args ? c.args.join(" ") + " " : ""}'${c.command}': ssh exits ${c.status}`;
      test(name, { timeout: 30_000 }, async () => {
        // The two in turn too (see above).
        const mine = await ssh({
          port: ours.port,
          knownHosts: [ours.knownHostsLine],
          command: c.command,
          args: c.args,
          debug: true,
        });
        const reference = await ssh({
          port: sshd.port,
          knownHosts: sshdKnownHosts,
          command: c.command,
          args: c.args,
          debug: true,
        });
        const seen = (r: SshResult) => ({
          status: r.status,
          timedOut: r.timedOut,
          stdout: r.stdout,
          stderr: r.stderr,
          // ssh -v's lines about the end: the channel request, and the status ssh took from it (-1 for
          // exit-signal, which is why ssh then exits 255).
          exit: exitLines(r.debug),
        });
        assert.deepEqual(seen(reference), {
          status: c.status,
          timedOut: false,
          stdout: c.stdout,
          stderr: c.stderr,
          exit: [
            `debug1: client_input_channel_req: channel N rtype exit-${c.ended.signal ? "signal" : "status"} reply 0`,
            `debug1: Exit status ${c.ended.signal ? -1 : c.ended.code}`,
          ],
        });
        assert.deepEqual(seen(mine), seen(reference));
        await ours.settled();
        const record = ours.sessions.find(
          (s) => s.command === c.command && s.pty === (c.args?.includes("-tt") ?? false),
        );
        assert.ok(record?.result, `our server ran '${c.command}'`);
        assert.deepEqual({ code: record.result.code, signal: record.result.signal }, c.ended);
      });
    }
  });

  test("ssh -tt runs the command on a PTY", { timeout: 30_000 }, async (t) => {
    const srv = await libraryServer(t);
    const r = await ssh({ port: srv.port, knownHosts: [srv.knownHostsLine], command: "tty", args: ["-tt"] });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n$/);
    assert.equal(r.stderr, "Connection to 127.0.0.1 closed.\r\n");
    await srv.settled();
    assert.deepEqual(
      srv.sessions.map((s) => ({ command: s.command, pty: s.pty, code: s.result?.code })),
      [{ command: "tty", pty: true, code: 0 }],
    );
  });

  describe(
    "password and keyboard-interactive through sshpass",
    { concurrency: true, skip: !sshpassAvailable() && "no sshpass" },
    () => {
      for (const method of ["password", "keyboard-interactive"]) {
        const args = ["-o", `PreferredAuthentications=${method}`, "-o", "PubkeyAuthentication=no"];
        test(`${method}: the right password logs in`, { timeout: 30_000 }, async (t) => {
          const srv = await libraryServer(t);
          const r = await ssh({
            port: srv.port,
            knownHosts: [srv.knownHostsLine],
            command: "echo ok",
            identity: null,
            password: PASSWORD,
            args,
          });
          assert.deepEqual(
            { status: r.status, stdout: r.stdout, stderr: r.stderr },
            { status: 0, stdout: "ok\n", stderr: "" },
          );
          assert.deepEqual(
            srv.connections.map((c) => c.user.methods),
            [[method]],
          );
        });
        test(`${method}: a wrong password is refused`, { timeout: 30_000 }, async (t) => {
          const srv = await libraryServer(t);
          const r = await ssh({
            port: srv.port,
            knownHosts: [srv.knownHostsLine],
            command: "echo ok",
            identity: null,
            password: "not-" + PASSWORD,
            args,
          });
          // sshpass's status for a password prompt seen twice: "Invalid/incorrect password".
          assert.equal(r.status, 5);
          assert.equal(r.stdout, "");
          assert.equal(srv.connections.length, 0);
        });
      }
    },
  );

  describe("public keys", { concurrency: true }, () => {
    for (const type of ["ed25519", "ecdsa", "rsa"] as const) {
      test(`ssh -i ${type} key`, { timeout: 30_000 }, async (t) => {
        const srv = await libraryServer(t);
        const r = await ssh({
          port: srv.port,
          knownHosts: [srv.knownHostsLine],
          command: "echo ok",
          identity: keys[type].file,
        });
        assert.deepEqual(
          { status: r.status, stdout: r.stdout, stderr: r.stderr },
          { status: 0, stdout: "ok\n", stderr: "" },
        );
        assert.equal(srv.connections.length, 1);
        assert.deepEqual(srv.connections[0]!.user.methods, ["publickey"]);
        assert.ok(srv.connections[0]!.user.publicKey?.equals(keys[type].key.publicKey));
      });
    }

    test("a key the policy does not allow: Permission denied, exit 255", { timeout: 30_000 }, async (t) => {
      const srv = await libraryServer(t);
      const r = await ssh({
        port: srv.port,
        knownHosts: [srv.knownHostsLine],
        command: "echo ok",
        identity: keys.stranger.file,
      });
      assert.deepEqual(
        { status: r.status, stdout: r.stdout, stderr: r.stderr },
        {
          status: 255,
          stdout: "",
          stderr: `${USER}@127.0.0.1: Permission denied (publickey,password,keyboard-interactive).\r\n`,
        },
      );
    });

    test("a key held only by OpenSSH's ssh-agent", { timeout: 30_000 }, async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-interop-agent-"));
      const sock = path.join(dir, "agent.sock");
      const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: ["ignore", "ignore", "pipe"] });
      let agentLog = "";
      agent.stderr.on("data", (d: Buffer) => (agentLog += d.toString()));
      const agentExited = new Promise<void>((resolve) => agent.once("exit", () => resolve()));
      t.after(async () => {
        if (agent.exitCode === null && agent.signalCode === null) {
          agent.kill("SIGTERM");
          await agentExited;
        }
        fs.rmSync(dir, { recursive: true, force: true });
      });
      for (let i = 0; !fs.existsSync(sock); i++) {
        assert.ok(i < 100, `ssh-agent did not listen: ${agentLog}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const agentKey = makeUserKey(dir, "id_agent", "ed25519");
      const add = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const c = spawn("ssh-add", [agentKey.file], {
          stdio: ["ignore", "ignore", "pipe"],
          env: { ...process.env, SSH_AUTH_SOCK: sock },
        });
        let stderr = "";
        c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        c.once("close", (status) => resolve({ status, stderr }));
      });
      assert.equal(add.status, 0, add.stderr);
      // From here only the agent holds the private key.
      fs.rmSync(agentKey.file);
      fs.rmSync(agentKey.file + ".pub");
      const srv = await libraryServer(t, { auth: policy([agentKey.key.publicKey]) });
      const r = await ssh({
        port: srv.port,
        knownHosts: [srv.knownHostsLine],
        command: "echo ok",
        identity: null,
        // No default identity files either: the agent's key is the only one ssh has.
        args: ["-o", `IdentityFile=${path.join(dir, "none")}`],
        env: { SSH_AUTH_SOCK: sock },
      });
      assert.deepEqual(
        { status: r.status, stdout: r.stdout, stderr: r.stderr },
        { status: 0, stdout: "ok\n", stderr: "" },
      );
      assert.equal(srv.connections.length, 1);
      assert.ok(srv.connections[0]!.user.publicKey?.equals(agentKey.key.publicKey));
    });
  });

  describe("every cipher", { concurrency: true }, () => {
    const ciphers = [
      "chacha20-poly1305@openssh.com",
      "aes128-gcm@openssh.com",
      "aes256-gcm@openssh.com",
      "aes128-ctr",
      "aes192-ctr",
      "aes256-ctr",
    ];
    for (const cipher of ciphers) {
      test(`ssh -c ${cipher}: 4 MiB through cat`, { timeout: 30_000 }, async (t) => {
        const srv = await libraryServer(t);
        const source = randomSource(4 * MiB);
        const r = await ssh({
          port: srv.port,
          knownHosts: [srv.knownHostsLine],
          command: "cat; echo done >&2",
          args: ["-c", cipher],
          stdin: source.stream,
          hashStdout: true,
          debug: true,
        });
        assert.equal(r.status, 0);
        assert.equal(r.stdoutBytes, 4 * MiB);
        assert.equal(r.stdoutSha256, source.digest());
        assert.equal(r.stderr, "done\n");
        for (const dir of ["server->client", "client->server"]) {
          assert.equal(
            count(r.debug, new RegExp(`kex: ${dir} cipher: ${cipher.replace(/[.]/g, "\\.")} `)),
            1,
          );
          assert.equal(
            count(srv.log, new RegExp(`kex: ${dir} cipher: ${cipher.replace(/[.]/g, "\\.")} `)),
            1,
          );
        }
      });
    }
  });
});

// The bulk transfers one at a time, each alone on the machine's cores, so each stays well inside its 30 s.
describe("OpenSSH ssh against createServer: bulk data and re-keying", { skip }, () => {
  test(
    "100 MiB of random stdin through cat: same sha256, stderr kept apart",
    { timeout: 30_000 },
    async (t) => {
      const srv = await libraryServer(t);
      const source = randomSource(100 * MiB);
      const r = await ssh({
        port: srv.port,
        knownHosts: [srv.knownHostsLine],
        command: "cat; echo done >&2",
        stdin: source.stream,
        hashStdout: true,
      });
      t.diagnostic(`100 MiB each way in ${r.ms} ms`);
      assert.equal(r.timedOut, false);
      assert.equal(r.status, 0);
      assert.equal(r.stdoutBytes, 100 * MiB);
      assert.equal(r.stdoutSha256, source.digest());
      assert.equal(r.stderr, "done\n");
    },
  );

  test("re-keying every 1 MiB during 100 MiB through cat loses nothing", { timeout: 30_000 }, async (t) => {
    const srv = await libraryServer(t);
    const source = randomSource(100 * MiB);
    // curve25519: with OpenSSH 9.2's default sntrup761x25519 each re-key costs about 0.25 s here (OpenSSH's
    // own sshd needs 38 s for this transfer with it); the sntrup761 case below re-keys fewer times.
    const r = await ssh({
      port: srv.port,
      knownHosts: [srv.knownHostsLine],
      command: "cat; echo done >&2",
      args: ["-o", "RekeyLimit=1M", "-o", "KexAlgorithms=curve25519-sha256"],
      stdin: source.stream,
      hashStdout: true,
      debug: true,
    });
    const sshKex = count(r.debug, /SSH2_MSG_NEWKEYS received/);
    const serverRekeys = count(srv.log, /rekey completed/);
    t.diagnostic(`100 MiB each way with ${sshKex - 1} re-keys in ${r.ms} ms`);
    assert.equal(r.timedOut, false);
    assert.equal(r.status, 0);
    assert.equal(r.stdoutBytes, 100 * MiB);
    assert.equal(r.stdoutSha256, source.digest());
    assert.equal(r.stderr, "done\n");
    // Both directions reach 1 MiB at about the same time; each re-key resets both.
    assert.ok(sshKex - 1 >= 50, `ssh re-keyed ${sshKex - 1} times`);
    assert.ok(Math.abs(serverRekeys - (sshKex - 1)) <= 1, `server ${serverRekeys}, ssh ${sshKex - 1}`);
    // Every key exchange ssh began was curve25519 (one may still be under way when the session ends).
    assert.ok(count(r.debug, /kex: algorithm: /) >= sshKex);
    assert.equal(count(r.debug, /kex: algorithm: curve25519-sha256$/), count(r.debug, /kex: algorithm: /));
  });

  test("re-keying with sntrup761x25519 every 1 MiB during 8 MiB", { timeout: 30_000 }, async (t) => {
    const srv = await libraryServer(t);
    const source = randomSource(8 * MiB);
    const r = await ssh({
      port: srv.port,
      knownHosts: [srv.knownHostsLine],
      command: "cat",
      args: ["-o", "RekeyLimit=1M", "-o", "KexAlgorithms=sntrup761x25519-sha512@openssh.com"],
      stdin: source.stream,
      hashStdout: true,
      debug: true,
    });
    const sshKex = count(r.debug, /SSH2_MSG_NEWKEYS received/);
    t.diagnostic(`8 MiB each way with ${sshKex - 1} re-keys in ${r.ms} ms`);
    assert.equal(r.status, 0);
    assert.equal(r.stdoutSha256, source.digest());
    assert.ok(sshKex - 1 >= 4, `ssh re-keyed ${sshKex - 1} times`);
    assert.ok(count(r.debug, /kex: algorithm: sntrup761x25519-sha512@openssh\.com$/) >= sshKex);
    assert.equal(
      count(r.debug, /kex: algorithm: sntrup761x25519-sha512@openssh\.com$/),
      count(r.debug, /kex: algorithm: /),
    );
    assert.ok(count(srv.log, /rekey completed/) >= 4);
  });
});
