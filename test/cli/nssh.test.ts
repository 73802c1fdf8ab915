/**
 * The nssh command against a real OpenSSH sshd: exit statuses, stdin/stdout/stderr, -n -N -T -tt -q,
 * -v wording, connection errors, -V -Q -G, refused flags, names with shell metacharacters, SendEnv/SetEnv,
 * RemoteCommand, LocalCommand, BatchMode. Host keys are in nsshHostKeys.test.ts, proxies in
 * nsshProxy.test.ts, prompts in nsshPrompts.test.ts, the terminal in nsshTmux.test.ts.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { freePort } from "../helpers/ports.js";
import { runProgram } from "../helpers/processes.js";
import { NSSH, nsshSkip, runNssh, startNsshWorld, type NsshWorld } from "../helpers/nsshFixtures.js";

describe("nssh: commands against sshd", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  before(async () => {
    w = await startNsshWorld(["AcceptEnv NSSH_*", "Subsystem sftp internal-sftp"]);
  });
  after(async () => {
    await w?.stop();
  });
  const run = (args: string[], stdin?: string | Buffer) =>
    runNssh([...w.baseArgs(), "127.0.0.1", ...args], {
      env: w.env(),
      ...(stdin !== undefined ? { stdin } : {}),
    });

  test("the remote exit status becomes ours; stdout and stderr stay apart", async () => {
    const r = await run(["echo out; echo err >&2; exit 3"]);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout, "out\n");
    assert.match(r.stderr, /^err$/m);
    assert.equal((await run(["true"])).status, 0);
    assert.equal((await run(["exit 255"])).status, 255);
  });

  test("stdin reaches the remote command intact (1 MiB through cat and sha256sum)", async () => {
    const data = randomBytes(1024 * 1024);
    const r = await run(["sha256sum"], data);
    assert.equal(r.status, 0, r.stderr);
    const { createHash } = await import("node:crypto");
    assert.equal(r.stdout.split(" ")[0], createHash("sha256").update(data).digest("hex"));
  });

  test("-C: zlib@openssh.com both ways; data arrives intact through the compressed stream", async () => {
    // Compressible and barely: text repeated, then random bytes in base64, through cat and back.
    const data = "nssh compression ".repeat(20_000) + randomBytes(192 * 1024).toString("base64");
    const r = await run(["-C", "-v", "cat"], data);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /^debug1: kex: server->client cipher: \S+ MAC: \S+ compression: zlib@openssh\.com$/m,
    );
    assert.match(
      r.stderr,
      /^debug1: kex: client->server cipher: \S+ MAC: \S+ compression: zlib@openssh\.com$/m,
    );
    assert.equal(r.stdout.length, data.length);
    assert.ok(r.stdout === data, "what came back differs from what was sent");
  });

  test("stdin from a file is read from the file's offset, in large reads, intact (3 MiB)", async () => {
    const file = path.join(fs.mkdtempSync(path.join(w.dir, "stdin-")), "data");
    const data = randomBytes(3 * 1024 * 1024);
    fs.writeFileSync(file, data);
    const fd = fs.openSync(file, "r");
    try {
      // As `(head -c 5 >/dev/null; nssh host cmd) < file`: the first 5 bytes are already consumed.
      fs.readSync(fd, Buffer.alloc(5), 0, 5, null);
      const child = spawn(process.execPath, [NSSH, ...w.baseArgs(), "127.0.0.1", "sha256sum"], {
        env: w.env(),
        stdio: [fd, "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const [code] = (await once(child, "close")) as [number | null];
      clearTimeout(timer);
      assert.equal(code, 0, err);
      const { createHash } = await import("node:crypto");
      assert.equal(out.split(" ")[0], createHash("sha256").update(data.subarray(5)).digest("hex"));
    } finally {
      fs.closeSync(fd);
    }
  });

  test("the command words are joined with spaces, as ssh does", async () => {
    const r = await run(["echo", "a", "b  c"]);
    assert.equal(r.stdout, "a b c\n");
  });

  test("-n: stdin is not read", async () => {
    const r = await runNssh([...w.baseArgs(["-n"]), "127.0.0.1", "cat; echo done"], {
      env: w.env(),
      stdin: "should not arrive\n",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "done\n");
  });

  test("-T gives no terminal; -tt forces one even without a local terminal", async () => {
    const t = await run(["-T", "tty"]);
    assert.match(t.stdout, /not a tty/);
    const tt = await runNssh([...w.baseArgs(["-tt"]), "127.0.0.1", "tty"], { env: w.env() });
    assert.equal(tt.status, 0, tt.stderr);
    assert.match(tt.stdout, /\/dev\/pts\/\d+/);
    assert.match(tt.stderr, /Connection to 127\.0\.0\.1 closed\./);
    const t1 = await runNssh([...w.baseArgs(["-t"]), "127.0.0.1", "tty"], { env: w.env() });
    assert.match(t1.stderr, /Pseudo-terminal will not be allocated because stdin is not a terminal\./);
    assert.match(t1.stdout, /not a tty/);
  });

  test("-v logs the main events in ssh's wording", async () => {
    const r = await run(["-v", "exit 4"]);
    assert.equal(r.status, 4, r.stderr);
    const port = w.sshd.port;
    for (const line of [
      `debug1: Connecting to 127.0.0.1 [127.0.0.1] port ${port}.`,
      "debug1: Connection established.",
      "debug1: Remote protocol version 2.0, remote software version OpenSSH_",
      "debug1: kex: algorithm: ",
      "debug1: SSH2_MSG_NEWKEYS sent",
      "debug1: SSH2_MSG_NEWKEYS received",
      "debug1: Server host key: ssh-ed25519 SHA256:",
      "debug1: Authentications that can continue: publickey",
      `debug1: Offering public key: ${w.key.file}`,
      `Authenticated to 127.0.0.1 ([127.0.0.1]:${port}) using "publickey".`,
      "debug1: Exit status 4",
    ]) {
      assert.ok(r.stderr.includes(line), `missing ${JSON.stringify(line)} in:\n${r.stderr}`);
    }
  });

  test("-q: nothing from nssh itself on a failed connection", async () => {
    const port = await freePort();
    const r = await runNssh(["-F", "none", "-q", "-p", String(port), "127.0.0.1", "true"], { env: w.env() });
    assert.equal(r.status, 255);
    assert.equal(r.stderr, "");
  });

  test("connection refused: ssh's message and exit 255", async () => {
    const port = await freePort();
    const r = await runNssh(["-F", "none", "-p", String(port), "127.0.0.1", "true"], { env: w.env() });
    assert.equal(r.status, 255);
    assert.match(
      r.stderr,
      new RegExp(`^nssh: connect to host 127\\.0\\.0\\.1 port ${port}: Connection refused`, "m"),
    );
  });

  test("ConnectionAttempts tries again, a second apart, then gives up with ssh's message", async () => {
    const port = await freePort();
    const r = await runNssh(
      ["-F", "none", "-v", "-o", "ConnectionAttempts=2", "-p", String(port), "127.0.0.1", "true"],
      {
        env: w.env(),
      },
    );
    assert.equal(r.status, 255);
    assert.equal(r.stderr.split(`debug1: Connecting to 127.0.0.1 [127.0.0.1] port ${port}.`).length - 1, 2);
    assert.match(r.stderr, /connect to host 127\.0\.0\.1 port \d+: Connection refused/);
  });

  test("IdentityAgent: keys from a real ssh-agent; none turns the agent off", async () => {
    const sock = path.join(w.dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
      const add = await runProgram("ssh-add", [w.key.file], {
        env: { ...process.env, SSH_AUTH_SOCK: sock },
        timeoutMs: 10_000,
      });
      assert.equal(add.status, 0, add.stderr);
      const args = (agentValue: string) => [
        "-F",
        "none",
        "-o",
        `UserKnownHostsFile=${w.knownHosts}`,
        "-o",
        "BatchMode=yes",
        "-o",
        `IdentityAgent=${agentValue}`,
        "-p",
        String(w.sshd.port),
        "-l",
        w.user.name,
        "-v",
        "127.0.0.1",
        "echo agent-ok",
      ];
      const r = await runNssh(args(sock), { env: w.env() });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "agent-ok\n");
      assert.match(r.stderr, /Offering public key: id_ed25519 ED25519 SHA256:/);
      const none = await runNssh(args("none"), { env: w.env({ SSH_AUTH_SOCK: sock }) });
      assert.equal(none.status, 255);
    } finally {
      agent.kill();
    }
  });

  test("an unknown host name: Could not resolve hostname", async () => {
    const r = await runNssh(["-F", "none", "no-such-host.invalid", "true"], { env: w.env() });
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Could not resolve hostname no-such-host\.invalid/);
  });

  test("BatchMode with no usable key: Permission denied, exit 255, no prompt", async () => {
    const r = await runNssh(
      [
        "-F",
        "none",
        "-o",
        "BatchMode=yes",
        "-o",
        `UserKnownHostsFile=${w.knownHosts}`,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityFile=/nonexistent",
        "-p",
        String(w.sshd.port),
        `${w.user.name}@127.0.0.1`,
        "true",
      ],
      { env: w.env() },
    );
    assert.equal(r.status, 255);
    assert.match(
      r.stderr,
      new RegExp(`${w.user.name}@127\\.0\\.0\\.1: Permission denied \\(publickey[a-z,-]*\\)\\.`),
    );
  });

  test("SendEnv and SetEnv reach the remote environment (AcceptEnv NSSH_*)", async () => {
    const r = await runNssh(
      [
        ...w.baseArgs(["-o", "SendEnv=NSSH_SENT", "-o", "SetEnv=NSSH_SET=fixed"]),
        "127.0.0.1",
        'echo "$NSSH_SENT/$NSSH_SET"',
      ],
      { env: w.env({ NSSH_SENT: "from-env" }) },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "from-env/fixed\n");
  });

  test("RemoteCommand runs when no command is given; a command given wins", async () => {
    const rc = await runNssh([...w.baseArgs(["-o", "RemoteCommand=echo remote-%r"]), "127.0.0.1"], {
      env: w.env(),
    });
    assert.equal(rc.stdout, `remote-${w.user.name}\n`, rc.stderr);
    const own = await runNssh([...w.baseArgs(["-o", "RemoteCommand=echo remote"]), "127.0.0.1", "echo own"], {
      env: w.env(),
    });
    assert.equal(own.stdout, "own\n");
  });

  test("LocalCommand runs locally only with PermitLocalCommand=yes", async () => {
    const marker = path.join(w.dir, "local-command-ran");
    const args = (permit: string) =>
      w.baseArgs(["-o", `LocalCommand=echo %h > ${marker}`, "-o", `PermitLocalCommand=${permit}`]);
    await runNssh([...args("no"), "127.0.0.1", "true"], { env: w.env() });
    assert.equal(fs.existsSync(marker), false);
    const r = await runNssh([...args("yes"), "127.0.0.1", "true"], { env: w.env() });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.readFileSync(marker, "utf8"), "127.0.0.1\n");
  });

  test("-N: no command, the connection stays until the server goes", async () => {
    const r = await runNssh([...w.baseArgs(["-N", "-o", "ServerAliveInterval=1"]), "127.0.0.1"], {
      env: w.env(),
      timeoutMs: 3000,
    });
    // Still connected when the time limit killed it: -N ran no command and did not exit by itself.
    assert.equal(r.timedOut, true, r.stderr);
  });

  test("-E writes the log to a file instead of stderr", async () => {
    const logFile = path.join(w.dir, "nssh.log");
    const r = await run(["-v", "-E", logFile, "true"]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!r.stderr.includes("debug1:"));
    assert.match(fs.readFileSync(logFile, "utf8"), /^debug1: Exit status 0$/m);
  });

  test("-f goes to the background once logged in; the command finishes there", async () => {
    const child = spawn(process.execPath, [NSSH, ...w.baseArgs(["-f"]), "127.0.0.1", "sleep 2; echo later"], {
      env: w.env(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "exit")) as [number];
    assert.equal(code, 0, stderr);
    assert.equal(stdout, "", "nssh -f returned before the remote command ended");
    await once(child.stdout, "close");
    assert.equal(stdout, "later\n");
  });

  test("-s runs a subsystem", async () => {
    const r = await runNssh([...w.baseArgs(["-s"]), "127.0.0.1", "sftp"], { env: w.env(), timeoutMs: 5000 });
    // The SFTP server waits for an SSH_FXP_INIT and answers nothing to an empty stdin: it just ends.
    assert.equal(r.timedOut, false);
    assert.equal(r.status, 0, r.stderr);
  });
});

describe("nssh: flags answered without a connection", () => {
  const env = { ...process.env, HOME: "/nonexistent-home" };
  test("-V prints our version to stderr", async () => {
    const r = await runNssh(["-V"], { env });
    assert.equal(r.status, 0);
    assert.match(r.stderr, /^nssh_\d+\.\d+\.\d+, Node\.js v\d+/);
  });

  test("-Q lists what we support", async () => {
    const cipher = (await runNssh(["-Q", "cipher"], { env })).stdout.split("\n");
    assert.ok(cipher.includes("chacha20-poly1305@openssh.com") && cipher.includes("aes256-ctr"));
    const auth = (await runNssh(["-Q", "cipher-auth"], { env })).stdout.trim().split("\n");
    assert.ok(auth.every((c) => /gcm|chacha/.test(c)));
    assert.ok((await runNssh(["-Q", "kex"], { env })).stdout.includes("mlkem768x25519-sha256\n"));
    assert.ok((await runNssh(["-Q", "mac"], { env })).stdout.includes("hmac-sha2-256-etm@openssh.com\n"));
    assert.ok((await runNssh(["-Q", "key"], { env })).stdout.includes("ssh-ed25519\n"));
    assert.ok((await runNssh(["-Q", "sig"], { env })).stdout.includes("rsa-sha2-512\n"));
    assert.ok((await runNssh(["-Q", "HostKeyAlgorithms"], { env })).stdout.includes("ssh-ed25519\n"));
    assert.ok((await runNssh(["-Q", "Ciphers"], { env })).stdout.includes("aes128-ctr\n"));
    assert.equal((await runNssh(["-Q", "protocol-version"], { env })).stdout, "2\n");
    assert.equal((await runNssh(["-Q", "key-cert"], { env })).stdout, "");
    const bad = await runNssh(["-Q", "nonsense"], { env });
    assert.equal(bad.status, 255);
    assert.match(bad.stderr, /Unsupported query "nonsense"/);
  });

  test("-G prints the resolved configuration", async () => {
    const r = await runNssh(["-F", "none", "-G", "-p", "2022", "alice@example.org"], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^host example\.org$/m);
    assert.match(r.stdout, /^user alice$/m);
    assert.match(r.stdout, /^port 2022$/m);
  });

  for (const [flag, what] of [
    ["-L", "local port forwarding"],
    ["-R", "remote port forwarding"],
    ["-D", "dynamic port forwarding"],
    ["-A", "agent forwarding"],
    ["-X", "X11 forwarding"],
    ["-M", "multiplexing"],
    ["-S", "control sockets"],
    ["-O", "multiplexing control"],
  ] as const) {
    test(`${flag} is refused with a clear message, not ignored`, async () => {
      const args = ["-A", "-X", "-M"].includes(flag) ? [flag, "host"] : [flag, "x", "host"];
      const r = await runNssh(args, { env });
      assert.equal(r.status, 255);
      assert.match(r.stderr, new RegExp(`${what}.*not supported yet`));
    });
  }

  test("an unknown flag prints the usage", async () => {
    const r = await runNssh(["-Z", "host"], { env });
    assert.equal(r.status, 255);
    assert.match(r.stderr, /unknown option -- Z/);
    assert.match(r.stderr, /usage: nssh/);
  });

  test("host and user names with shell metacharacters are refused before any expansion (CVE-2023-51385)", async () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "nssh-cve-"));
    try {
      const marker = path.join(dir, "pwned");
      const proxy = ["-F", "none", "-o", `ProxyCommand=echo %h %r > ${marker}`];
      const host = await runNssh([...proxy, `$(touch ${marker})`, "true"], { env });
      assert.equal(host.status, 255);
      assert.match(host.stderr, /hostname contains invalid characters/);
      const user = await runNssh([...proxy, `a;touch ${marker}@localhost`, "true"], { env });
      assert.equal(user.status, 255);
      assert.match(user.stderr, /remote username contains invalid characters/);
      const l = await runNssh([...proxy, "-l", "`id`", "localhost", "true"], { env });
      assert.equal(l.status, 255);
      assert.equal(fs.existsSync(marker), false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test(
    "-G agrees with OpenSSH's ssh -G on a config with Host, Match and Include",
    { skip: nsshSkip },
    async () => {
      const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "nssh-G-"));
      try {
        fs.mkdirSync(path.join(dir, "inc"));
        fs.writeFileSync(
          path.join(dir, "inc", "a.conf"),
          "Host web1\n  HostName 10.1.2.3\n  ProxyJump jump@bastion:2022\n",
        );
        const config = path.join(dir, "config");
        fs.writeFileSync(
          config,
          [
            `Include ${dir}/inc/*.conf`,
            "Host web*",
            "  User deploy",
            "  Port 2200",
            "  IdentityFile ~/.ssh/id_web",
            "Match host web1 user deploy",
            "  ServerAliveInterval 15",
            "  Compression yes",
            "Host *",
            "  StrictHostKeyChecking accept-new",
            "  ConnectTimeout 7",
            "  SendEnv LANG LC_*",
            "  RequestTTY no",
            "  EscapeChar ^]",
            "",
          ].join("\n"),
        );
        const home = { ...process.env, HOME: "/root" };
        const ours = await runNssh(["-F", config, "-G", "web1"], { env: home });
        const theirs = await runProgram("ssh", ["-F", config, "-G", "web1"], {
          env: home,
          timeoutMs: 10_000,
        });
        assert.equal(ours.status, 0, ours.stderr);
        // Algorithm lists are ours by design (we list what we implement); every other line must agree.
        const algorithmLines =
          /^(ciphers|macs|kexalgorithms|hostkeyalgorithms|hostbasedacceptedalgorithms|pubkeyacceptedalgorithms|casignaturealgorithms) /;
        const lines = (t: string) => t.split("\n").filter((l) => l && !algorithmLines.test(l));
        assert.deepEqual(lines(ours.stdout), lines(theirs.stdout));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test("ssh:// destinations carry user and port", async () => {
    const r = await runNssh(["-F", "none", "-G", "ssh://bob@example.org:2200"], { env });
    assert.match(r.stdout, /^user bob$/m);
    assert.match(r.stdout, /^port 2200$/m);
    assert.match(r.stdout, /^hostname example\.org$/m);
  });
});
