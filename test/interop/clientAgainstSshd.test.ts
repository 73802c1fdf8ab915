/**
 * The library's connect() against a real OpenSSH sshd started here: exec output, exit codes and
 * signals, stderr kept apart, 100 MiB through cat (also re-keying every MiB), PTYs, every cipher, 50
 * concurrent exec channels on one connection, the sftp subsystem, close() and AbortSignal.
 * Authentication methods are in clientAgainstSshdAuth.test.ts.
 *
 * The commands run as a throwaway user whose shell is /bin/sh, with a key: root's bash would source
 * ~/.bashrc for every command (bash does when sshd starts it), and this machine's runs `pyenv init`,
 * ~200 ms of CPU per exec, which is what 50 concurrent channels would measure. Needs root (useradd).
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { connect, PrivateKey, SshError, type ConnectOptions, type SshClient } from "../../src/index.js";
import { createSystemUser, isRoot, type SystemUser } from "../helpers/authHelpers.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";
import { until, withTimeout } from "../helpers/scriptedPeer.js";

const MiB = 1024 * 1024;
const skip = !opensshAvailable() ? "OpenSSH is not installed" : !isRoot ? "needs root (sshd as root)" : false;

/** `bytes` of fresh random data in 256 KiB chunks, hashed into `hash` as it is produced. */
function randomStream(bytes: number, hash: ReturnType<typeof createHash>): Readable {
  let left = bytes;
  return new Readable({
    highWaterMark: 1 * MiB,
    read() {
      if (left === 0) return void this.push(null);
      const chunk = randomBytes(Math.min(left, 256 * 1024));
      left -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
}

interface RoundTrip {
  sent: string;
  received: string;
  bytes: number;
  code: number | null;
  ms: number;
}

/** Stream `bytes` random bytes into `cat` and hash what comes back as it arrives. */
async function throughCat(client: SshClient, bytes: number): Promise<RoundTrip> {
  const start = performance.now();
  const sentHash = createHash("sha256");
  const gotHash = createHash("sha256");
  let got = 0;
  const session = await client.spawn("cat", { stdin: randomStream(bytes, sentHash) });
  session.channel.on("data", (d: Buffer) => {
    gotHash.update(d);
    got += d.length;
  });
  const exit = await session.exit;
  return {
    sent: sentHash.digest("hex"),
    received: gotHash.digest("hex"),
    bytes: got,
    code: exit.code,
    ms: performance.now() - start,
  };
}

describe("connect() against OpenSSH sshd", { skip, concurrency: 1 }, () => {
  let sshd: OpenSshServer;
  let user: SystemUser;
  let home: string | undefined;
  const userKey = PrivateKey.generate("ssh-ed25519");
  const clients: SshClient[] = [];

  before(async () => {
    user = createSystemUser()!;
    // A home to start in (sshd complains on the session's stderr without one).
    home = spawnSync("getent", ["passwd", user.name], { encoding: "utf8" }).stdout.split(":")[5]!;
    fs.mkdirSync(home, { mode: 0o755 });
    const { uid, gid } = uidOf(user.name);
    fs.chownSync(home, uid, gid);
    sshd = await startOpenSshServer([
      `AllowUsers ${user.name}`,
      "MaxSessions 64",
      "Subsystem sftp internal-sftp",
      "AcceptEnv NSSH_*",
    ]);
    // sshd reads authorized_keys as the user.
    fs.chmodSync(sshd.dir, 0o755);
    fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), userKey.publicKey.toLine("nssh-test") + "\n", {
      mode: 0o644,
    });
  });

  after(async () => {
    try {
      await withTimeout(Promise.all(clients.map((c) => c.close())), 5000, "the clients to close");
    } finally {
      await sshd?.stop();
      user?.remove();
      if (home) fs.rmSync(home, { recursive: true, force: true });
    }
  });

  function options(extra: Partial<ConnectOptions> = {}): ConnectOptions {
    const hostKeys = [...sshd.hostPublicKeys.values()].map((l) => l.split(" ").slice(0, 2).join(" "));
    return {
      host: "127.0.0.1",
      port: sshd.port,
      username: user.name,
      identity: userKey,
      agent: false,
      verifyHostKey: (key) => hostKeys.includes(key.toLine()),
      ...extra,
    };
  }

  /** connect(), closed again by after() if the test does not close it. */
  async function open(extra: Partial<ConnectOptions> = {}): Promise<SshClient> {
    const c = await connect(options(extra));
    clients.push(c);
    return c;
  }

  let shared: SshClient;
  async function client(): Promise<SshClient> {
    shared ??= await open();
    return shared;
  }

  test("exec echo hi: stdout, exit code 0", { timeout: 30_000 }, async () => {
    const c = await client();
    assert.equal(c.authentication.method, "publickey");
    const r = clean(await c.exec("echo hi"));
    assert.deepEqual(r, { code: 0, signal: null, stdout: "hi\n", stderr: "" });
  });

  test("exit codes 0, 1, 42, 255", { timeout: 30_000 }, async () => {
    const c = await client();
    for (const code of [0, 1, 42, 255]) {
      const r = await c.exec(`exit ${code}`);
      assert.equal(r.code, code);
      assert.equal(r.signal, null);
    }
  });

  test("a command killed by a signal: signal TERM, code null", { timeout: 30_000 }, async () => {
    const c = await client();
    const r = await c.exec("kill -TERM $$");
    assert.equal(r.signal, "TERM");
    assert.equal(r.code, null);
  });

  test("stderr is kept apart from stdout", { timeout: 30_000 }, async () => {
    const c = await client();
    const r = clean(await c.exec("echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 7"));
    assert.deepEqual(r, { code: 7, signal: null, stdout: "out1\nout2\n", stderr: "err1\nerr2\n" });
  });

  test("stdin and env reach the command", { timeout: 30_000 }, async () => {
    const c = await client();
    const r = clean(
      await c.exec('tr a-z A-Z; echo "$NSSH_GREETING"', {
        stdin: "shout\n",
        env: { NSSH_GREETING: "hello env" },
      }),
    );
    assert.deepEqual(r, { code: 0, signal: null, stdout: "SHOUT\nhello env\n", stderr: "" });
  });

  test("100 MiB of random data through cat", { timeout: 30_000 }, async (t) => {
    const c = await client();
    const r = await throughCat(c, 100 * MiB);
    t.diagnostic(
      `${c.negotiated.cipherC2S}: 100 MiB each way in ${r.ms.toFixed(0)} ms, ` +
        `${((100 * 1000) / r.ms).toFixed(1)} MiB/s`,
    );
    assert.equal(r.code, 0);
    assert.equal(r.bytes, 100 * MiB);
    assert.equal(r.received, r.sent);
  });

  test("100 MiB through cat re-keying every MiB loses nothing", { timeout: 30_000 }, async (t) => {
    const log: string[] = [];
    const c = await open({
      rekeyLimit: { bytes: MiB },
      // Every re-key is a whole key exchange, 100 of them here: the cheapest method keeps the test about
      // the data; the default KEX is covered by every other connection here.
      kex: ["curve25519-sha256"],
      log: (level, message) => {
        if (message.includes("rekey")) log.push(`${level}: ${message}`);
      },
    });
    let rekeys = 0;
    c.transport.on("rekeyed", () => rekeys++);
    const kexBefore = countKexInits(sshd.log());
    const r = await throughCat(c, 100 * MiB);
    t.diagnostic(
      `${c.negotiated.kex}/${c.negotiated.cipherC2S}: ${rekeys} re-keys, 100 MiB each way in ` +
        `${r.ms.toFixed(0)} ms, ${((100 * 1000) / r.ms).toFixed(1)} MiB/s`,
    );
    assert.equal(r.code, 0);
    assert.equal(r.bytes, 100 * MiB);
    assert.equal(r.received, r.sent);
    // 100 MiB each way under a 1 MiB limit: at least one re-key per MiB sent.
    assert.ok(rekeys >= 100, `only ${rekeys} re-keys`);
    assert.ok(log.some((l) => l.includes("rekeying after data limit")));
    // sshd saw them too: one KEXINIT of ours per re-key.
    await until(() => countKexInits(sshd.log()) - kexBefore >= 100, 5000, "sshd to log the re-keys");
    const after = await c.exec("echo still here");
    assert.equal(after.stdout, "still here\n");
    await c.close();
  });

  test("pty: exec tty gives a /dev/pts path", { timeout: 30_000 }, async () => {
    const c = await client();
    const r = clean(await c.exec("tty", { pty: true }));
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n$/);
    const plain = await c.exec("tty");
    assert.equal(plain.code, 1);
    assert.equal(plain.stdout, "not a tty\n");
  });

  test("pty: shell() with the TERM asked for, exit 3", { timeout: 30_000 }, async () => {
    const c = await client();
    const session = await c.shell({ pty: { term: "vt220", cols: 100, rows: 30 } });
    let out = "";
    session.channel.on("data", (d: Buffer) => (out += d.toString()));
    session.channel.write('echo "<$TERM>"; stty size; exit 3\n');
    const exit = await session.exit;
    assert.equal(exit.code, 3);
    assert.match(out, /<vt220>\r\n/); // the terminal's echo of the line shows "<$TERM>"
    assert.match(out, /\r\n30 100\r\n/);
  });

  for (const cipher of [
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
  ]) {
    test(`cipher ${cipher}: 4 MiB through cat`, { timeout: 30_000 }, async () => {
      const c = await open({ ciphers: [cipher] });
      assert.equal(c.negotiated.cipherC2S, cipher);
      assert.equal(c.negotiated.cipherS2C, cipher);
      const r = await throughCat(c, 4 * MiB);
      assert.equal(r.code, 0);
      assert.equal(r.bytes, 4 * MiB);
      assert.equal(r.received, r.sent);
      await c.close();
    });
  }

  test("50 concurrent exec channels on one connection", { timeout: 30_000 }, async () => {
    const c = await open();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, n) =>
        c.exec(`echo ${n}; sleep 0.${Math.floor(Math.random() * 5)}; echo ${n} done >&2; exit ${n}`),
      ),
    );
    results.forEach((r, n) => {
      assert.deepEqual(clean(r), { code: n, signal: null, stdout: `${n}\n`, stderr: `${n} done\n` });
    });
    await c.close();
  });

  test('subsystem("sftp"): SSH_FXP_INIT gets SSH_FXP_VERSION', { timeout: 30_000 }, async () => {
    const c = await client();
    const sftp = await c.subsystem("sftp");
    const reply = new Promise<Buffer>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      sftp.channel.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) resolve(buf);
      });
      sftp.channel.once("close", () => reject(new Error("sftp channel closed before a reply")));
    });
    sftp.channel.write(Buffer.from([0, 0, 0, 5, 1, 0, 0, 0, 3]));
    const msg = await reply;
    assert.equal(msg[4], 2, "SSH_FXP_VERSION");
    assert.equal(msg.readUInt32BE(5), 3, "version 3");
    sftp.channel.end();
    await sftp.exit;
  });

  test("close() ends the connection", { timeout: 30_000 }, async () => {
    const c = await open();
    const closed = new Promise<SshError | null>((resolve) => c.once("close", resolve));
    assert.equal((await c.exec("true")).code, 0);
    await c.close();
    assert.equal(c.isClosed, true);
    assert.equal(await closed, null);
    await assert.rejects(c.exec("true"), (e: unknown) => e instanceof SshError);
    await c.close(); // a second close is harmless
  });

  test("an aborted connect(): ABORTED, before, during key exchange, and at a silent server", async () => {
    const pre = AbortSignal.abort();
    await assert.rejects(connect(options({ signal: pre })), isAborted);

    const ac = new AbortController();
    await assert.rejects(
      connect(
        options({
          signal: ac.signal,
          verifyHostKey: () => {
            ac.abort();
            return true;
          },
        }),
      ),
      isAborted,
    );

    // A server that accepts and never speaks.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => {
      sockets.push(s);
      s.on("error", () => {});
    });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const ac2 = new AbortController();
      const started = performance.now();
      setTimeout(() => ac2.abort(), 200);
      await assert.rejects(
        connect(options({ port: (silent.address() as net.AddressInfo).port, signal: ac2.signal })),
        isAborted,
      );
      assert.ok(performance.now() - started < 5000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  test("an AbortSignal aborts an exec, and the command gets TERM", { timeout: 30_000 }, async () => {
    const c = await client();
    const ac = new AbortController();
    const started = performance.now();
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(c.exec("sleep 19.25", { signal: ac.signal }), isAborted);
    assert.ok(performance.now() - started < 5000);
    // connect() sent "signal" TERM before closing the channel (sshd only closes a command's pipes, and
    // refuses signals in a root login's session: "session signalling requires privilege separation").
    await until(
      () => /session_signal_req: signal TERM, killpg\(\d+, 15\)/.test(sshd.log()),
      5000,
      "sshd to deliver TERM",
    );
    // The connection is still good, and the command has gone.
    let left: number | null = -1;
    for (let i = 0; i < 50 && left !== 1; i++) left = (await c.exec("pgrep -fx 'sleep 19.25'")).code;
    assert.equal(left, 1, "the aborted command still runs on the server");
    // Aborted before it starts.
    await assert.rejects(c.exec("echo never", { signal: AbortSignal.abort() }), isAborted);
  });
});

function uidOf(name: string): { uid: number; gid: number } {
  const out = spawnSync("id", ["-u", name], { encoding: "utf8" }).stdout;
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" }).stdout;
  return { uid: Number(out.trim()), gid: Number(gid.trim()) };
}

/**
 * The test sshd logs to stderr (-e) at DEBUG3, and its session child logs a few debug1 lines there after
 * the session's stderr has been set up: they reach the client as the command's stderr (or its PTY
 * output). Drop them.
 */
function clean<T extends { stdout: string; stderr: string }>(r: T): T {
  const strip = (s: string): string => s.replace(/^debug\d: .*\r*\n/gm, "");
  return { ...r, stdout: strip(r.stdout), stderr: strip(r.stderr) };
}

function isAborted(e: unknown): boolean {
  assert.ok(e instanceof SshError, `not an SshError: ${String(e)}`);
  assert.equal(e.code, "ABORTED");
  return true;
}

/** sshd logs each KEXINIT it receives. */
function countKexInits(log: string): number {
  return log.match(/SSH2_MSG_KEXINIT received/g)?.length ?? 0;
}
