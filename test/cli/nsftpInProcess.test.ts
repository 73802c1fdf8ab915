/**
 * nsftp and nscp without -S connect in their own process, as nssh would, against OpenSSH's sshd: one
 * Node process for the whole run (even with no nssh on PATH), bytes intact; and, run the same way through
 * `-S nssh.cjs` (nssh as a child, the behaviour before), the same prompts, messages and exit statuses for
 * a first contact (the question through SSH_ASKPASS), a changed host key, a refused login and a closed
 * port; -v shows nssh's debug lines; a ProxyCommand is run, a ProxyJump goes through its jump host, and
 * a signal while connecting ends the ProxyCommand before nsftp.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  copyFlags,
  NSSH_JS,
  processRecorder,
  promptLoggingAskpass,
  runBothWays,
  type ProcessRecorder,
} from "../helpers/nsftpInProcessFixtures.js";
import { writeNcScript, writeScript } from "../helpers/nsshFixtures.js";
import { freePort } from "../helpers/ports.js";
import { envWithoutAgent } from "../helpers/processes.js";
import {
  CLI_DIR,
  runCli,
  sha256File,
  startTransferServer,
  tempDir,
  transferSkip,
  writeRandomFile,
  type TransferServer,
} from "../helpers/transferFixtures.js";

const MiB = 1024 * 1024;

describe("nsftp and nscp connect in-process, as nssh", { skip: transferSkip, concurrency: 1 }, () => {
  let server: TransferServer;
  let dir: string;
  let local: string;
  let remote: string;
  let knownHosts: string;
  let trusted: string;
  let recorder: ProcessRecorder;
  let askpass: { program: string; log: string };
  /** A key the server does not know: as a forged host key, and as a refused user key. */
  let otherKey: string;

  before(async () => {
    server = await startTransferServer();
    dir = tempDir("nsftp-inprocess-");
    local = path.join(dir, "local");
    remote = path.join(dir, "remote");
    fs.mkdirSync(local);
    fs.mkdirSync(remote);
    knownHosts = path.join(dir, "known_hosts");
    trusted = `[127.0.0.1]:${server.sshd.port} ${server.sshd.hostPublicKeys.get("ed25519")}\n`;
    recorder = processRecorder(dir);
    askpass = promptLoggingAskpass(dir);
    otherKey = path.join(dir, "other_ed25519");
    const gen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", otherKey], {
      stdio: "ignore",
    });
    assert.equal(gen.status, 0);
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await server?.stop();
  });
  beforeEach(() => {
    fs.writeFileSync(knownHosts, trusted);
    fs.rmSync(askpass.log, { force: true });
    recorder.reset();
  });

  const flags = (extra: string[] = []): string[] =>
    copyFlags(server.sshd.port, server.keyFile, knownHosts, extra);
  const trustedFlags = (): string[] => flags(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]);

  test("one Node process, with no nssh on PATH: nsftp put/get and nscp both modes keep the bytes", async () => {
    const src = path.join(local, "one.bin");
    const sum = writeRandomFile(src, 3 * MiB + 5);
    const env = recorder.env({ PATH: path.join(dir, "empty-path") });
    const sftp = await runCli("nsftp", [...trustedFlags(), "-b", "-", "root@127.0.0.1"], {
      env,
      input: `put ${src} ${remote}/up.bin\nget ${remote}/up.bin ${local}/down.bin\n`,
    });
    assert.equal(sftp.status, 0, sftp.stderr);
    assert.equal(sha256File(path.join(remote, "up.bin")), sum);
    assert.equal(sha256File(path.join(local, "down.bin")), sum);
    assert.deepEqual(recorder.scripts(), [path.join(CLI_DIR, "nsftp.cjs")]);

    for (const mode of [[], ["-O"]]) {
      recorder.reset();
      const up = await runCli("nscp", [...trustedFlags(), ...mode, src, `root@127.0.0.1:${remote}/scp.bin`], {
        env,
      });
      assert.equal(up.status, 0, up.stderr);
      const down = await runCli(
        "nscp",
        [...trustedFlags(), ...mode, `root@127.0.0.1:${remote}/scp.bin`, `${local}/scp-back.bin`],
        { env },
      );
      assert.equal(down.status, 0, down.stderr);
      assert.equal(sha256File(`${local}/scp-back.bin`), sum);
      const nscp = path.join(CLI_DIR, "nscp.cjs");
      assert.deepEqual(recorder.scripts(), [nscp, nscp], `nscp ${mode.join(" ")}`);
    }

    // The recorder does see a child: with -S nssh.cjs, nssh runs as nsftp's second process.
    recorder.reset();
    const child = await runCli("nsftp", ["-S", NSSH_JS, ...trustedFlags(), "-b", "-", "root@127.0.0.1"], {
      env,
      input: `get ${remote}/up.bin ${local}/child.bin\n`,
    });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(recorder.scripts(), [path.join(CLI_DIR, "nsftp.cjs"), NSSH_JS]);
  });

  test("first contact: nssh's question through SSH_ASKPASS, word for word; yes records the key", async () => {
    fs.writeFileSync(path.join(remote, "asked.txt"), "asked\n");
    const env = {
      ...envWithoutAgent(),
      SSH_ASKPASS: askpass.program,
      SSH_ASKPASS_REQUIRE: "force",
      ASKPASS_ANSWER: "yes",
    };
    const ask = flags(["-o", "StrictHostKeyChecking=ask"]);
    const reset = (): void => {
      fs.writeFileSync(knownHosts, "");
      fs.rmSync(askpass.log, { force: true });
    };
    const collect = (): string => fs.readFileSync(askpass.log, "utf8");
    const sftp = await runBothWays("nsftp", [...ask, "root@127.0.0.1"], {
      env,
      before: reset,
      collect,
      input: `get ${remote}/asked.txt ${local}/asked-sftp.txt\n`,
    });
    const scp = await runBothWays(
      "nscp",
      [...ask, `root@127.0.0.1:${remote}/asked.txt`, `${local}/asked-scp.txt`],
      { env, before: reset, collect },
    );
    const prompts = sftp.collected[0];
    for (const [name, r] of [
      ["nsftp", sftp],
      ["nscp", scp],
    ] as const) {
      assert.equal(r.inProcess.status, 0, `${name}: ${r.inProcess.stderr}`);
      assert.equal(r.inProcess.stderr, r.throughNssh.stderr, name);
      assert.equal(r.inProcess.status, r.throughNssh.status, name);
      assert.deepEqual(r.collected, [prompts, prompts], `${name}: the question nssh asks`);
    }
    assert.match(
      prompts,
      /^The authenticity of host '\[127\.0\.0\.1\]:\d+ \(\[127\.0\.0\.1\]:\d+\)' can't be established\./,
    );
    assert.match(
      prompts,
      /Are you sure you want to continue connecting \(yes\/no\/\[fingerprint\]\)\? \n---\n$/,
    );
    assert.match(scp.inProcess.stderr, /Warning: Permanently added '\[127\.0\.0\.1\]:\d+' \(ED25519\)/);
    assert.match(fs.readFileSync(knownHosts, "utf8"), /^\[127\.0\.0\.1\]:\d+ ssh-ed25519 /);
    assert.equal(fs.readFileSync(path.join(local, "asked-scp.txt"), "utf8"), "asked\n");
    assert.equal(fs.readFileSync(path.join(local, "asked-sftp.txt"), "utf8"), "asked\n");
  });

  test("a changed host key: the loud warning and a refusal, as through nssh (nsftp 255, nscp 1)", async () => {
    const forged = `[127.0.0.1]:${server.sshd.port} ${fs
      .readFileSync(otherKey + ".pub", "utf8")
      .split(" ")
      .slice(0, 2)
      .join(" ")}\n`;
    const env = envWithoutAgent();
    const before = (): void => fs.writeFileSync(knownHosts, forged);
    const strict = flags(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]);
    const runs = [
      [
        "nsftp",
        await runBothWays("nsftp", [...strict, "-b", "-", "root@127.0.0.1"], { env, before, input: "pwd\n" }),
      ],
      [
        "nscp",
        await runBothWays("nscp", [...strict, `root@127.0.0.1:${remote}/x`, `${local}/x`], { env, before }),
      ],
      [
        "nscp -O",
        await runBothWays("nscp", [...strict, "-O", `${dir}/known_hosts`, `root@127.0.0.1:${remote}/x`], {
          env,
          before,
        }),
      ],
    ] as const;
    for (const [name, r] of runs) {
      assert.equal(r.inProcess.status, name === "nsftp" ? 255 : 1, `${name}: ${r.inProcess.stderr}`);
      assert.match(r.inProcess.stderr, /WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!/, name);
      assert.match(r.inProcess.stderr, /Host key verification failed\./, name);
      assert.equal(r.inProcess.stderr, r.throughNssh.stderr, name);
      assert.equal(r.inProcess.status, r.throughNssh.status, name);
    }
    assert.equal(fs.readFileSync(knownHosts, "utf8"), forged, "known_hosts untouched");
    assert.equal(fs.existsSync(path.join(remote, "x")), false);
  });

  test("a refused login and a closed port: nssh's messages, nsftp 255 and nscp 1, as through nssh", async () => {
    const env = envWithoutAgent();
    const wrongKey = copyFlags(server.sshd.port, otherKey, knownHosts, ["-o", "BatchMode=yes"]);
    const closed = copyFlags(await freePort(), server.keyFile, knownHosts, ["-o", "BatchMode=yes"]);
    for (const [what, base, message] of [
      ["refused login", wrongKey, /^root@127\.0\.0\.1: Permission denied \(publickey[^)]*\)\.\r?$/m],
      ["closed port", closed, /^nssh: connect to host 127\.0\.0\.1 port \d+: Connection refused\r?$/m],
    ] as const) {
      const sftp = await runBothWays("nsftp", [...base, "-b", "-", "root@127.0.0.1"], {
        env,
        input: "pwd\n",
      });
      const scp = await runBothWays("nscp", [...base, `root@127.0.0.1:${remote}/x`, `${local}/x`], { env });
      const legacy = await runBothWays("nscp", [...base, "-O", knownHosts, `root@127.0.0.1:${remote}/x`], {
        env,
      });
      for (const [name, r, status] of [
        ["nsftp", sftp, 255],
        ["nscp", scp, 1],
        ["nscp -O", legacy, 1],
      ] as const) {
        assert.equal(r.inProcess.status, status, `${what}, ${name}: ${r.inProcess.stderr}`);
        assert.match(r.inProcess.stderr, message, `${what}, ${name}`);
        assert.equal(r.inProcess.stderr, r.throughNssh.stderr, `${what}, ${name}`);
        assert.equal(r.inProcess.status, r.throughNssh.status, `${what}, ${name}`);
      }
      assert.match(sftp.inProcess.stderr, /^Connection closed$/m);
    }
  });

  test("-v shows nssh's debug lines; a ProxyCommand is run and carries the session", async () => {
    fs.writeFileSync(path.join(remote, "proxied.txt"), "through the proxy\n");
    const nc = writeNcScript(dir);
    const ran = path.join(dir, "proxy-ran");
    const proxy = writeScript(dir, "proxy.sh", `#!/bin/sh\ntouch '${ran}'\nexec '${nc}' "$@"\n`);
    const r = await runCli(
      "nsftp",
      [...trustedFlags(), "-v", "-o", `ProxyCommand=${proxy} 127.0.0.1 %p`, "-b", "-", "root@127.0.0.1"],
      { env: envWithoutAgent(), input: `get ${remote}/proxied.txt ${local}/proxied.txt\n` },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(fs.existsSync(ran), true, "the ProxyCommand ran");
    assert.equal(fs.readFileSync(path.join(local, "proxied.txt"), "utf8"), "through the proxy\n");
    assert.match(r.stderr, /^debug1: nssh_\S+, Node\.js /m);
    assert.match(r.stderr, /^debug1: Executing proxy command: exec \S+\/proxy\.sh 127\.0\.0\.1 \d+\r?$/m);
    assert.match(r.stderr, /^debug1: Sending subsystem: sftp\r?$/m);
    assert.match(r.stderr, /^debug1: Exit status 0\r?$/m);
  });

  test("-J: nscp and nsftp through a jump host (the same sshd), its key and known_hosts from ~/.ssh", async () => {
    // ssh gives a jump host only -F and the verbosity: its identity and known_hosts are the defaults.
    const home = path.join(dir, "home");
    fs.mkdirSync(path.join(home, ".ssh"), { recursive: true, mode: 0o700 });
    fs.copyFileSync(server.keyFile, path.join(home, ".ssh", "id_ed25519"));
    fs.chmodSync(path.join(home, ".ssh", "id_ed25519"), 0o600);
    fs.writeFileSync(path.join(home, ".ssh", "known_hosts"), trusted);
    fs.writeFileSync(path.join(remote, "jumped.txt"), "over the jump\n");
    const env = { ...envWithoutAgent(), HOME: home };
    const jump = ["-J", `root@127.0.0.1:${server.sshd.port}`];
    const scp = await runCli(
      "nscp",
      [...trustedFlags(), ...jump, `root@127.0.0.1:${remote}/jumped.txt`, `${local}/jumped-scp.txt`],
      { env },
    );
    assert.equal(scp.status, 0, scp.stderr);
    const sftp = await runCli("nsftp", [...trustedFlags(), ...jump, "-b", "-", "root@127.0.0.1"], {
      env,
      input: `get ${remote}/jumped.txt ${local}/jumped-sftp.txt\n`,
    });
    assert.equal(sftp.status, 0, sftp.stderr);
    assert.equal(fs.readFileSync(path.join(local, "jumped-scp.txt"), "utf8"), "over the jump\n");
    assert.equal(fs.readFileSync(path.join(local, "jumped-sftp.txt"), "utf8"), "over the jump\n");
    assert.match(server.sshd.log(), /direct-tcpip/, "the destination was reached through a channel");
  });

  test("SIGTERM while connecting ends the ProxyCommand and then nsftp, as the signal does", async () => {
    const pidFile = path.join(dir, "proxy-pid");
    fs.rmSync(pidFile, { force: true });
    // A proxy that never answers: nsftp waits for the server's version line.
    const proxy = writeScript(dir, "silent-proxy.sh", `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 60\n`);
    const child = spawn(
      process.execPath,
      [path.join(CLI_DIR, "nsftp.cjs"), ...trustedFlags(), "-o", `ProxyCommand=${proxy}`, "root@127.0.0.1"],
      { stdio: ["pipe", "ignore", "ignore"], env: envWithoutAgent() },
    );
    const closed = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("close", (_c, sig) => resolve(sig)),
    );
    try {
      const deadline = Date.now() + 15_000;
      while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, "utf8").trim() === "") {
        assert.ok(Date.now() < deadline, "the ProxyCommand started");
        await new Promise((r) => setTimeout(r, 50));
      }
      const proxyPid = Number(fs.readFileSync(pidFile, "utf8").trim());
      child.kill("SIGTERM");
      assert.equal(await closed, "SIGTERM");
      const gone = Date.now() + 5_000;
      while (isAlive(proxyPid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
      assert.equal(isAlive(proxyPid), false, "the ProxyCommand was ended");
    } finally {
      child.kill("SIGKILL");
    }
  });
});

/** Whether `pid` runs (a zombie waiting for its reaper counts as ended). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false; // no /proc entry: the process is gone
  }
}
