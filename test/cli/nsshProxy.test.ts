/**
 * nssh through proxies against real sshd's: ProxyCommand with an nc-style relay, -W host:port (also as
 * OpenSSH's ssh's ProxyCommand), -J through two sshd's (and OpenSSH's ssh -J with the same hosts for
 * comparison), and ServerAliveInterval ending a connection that went dead without closing.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";
import {
  NSSH,
  nsshSkip,
  runNssh,
  startNsshWorld,
  writeNcScript,
  type NsshWorld,
} from "../helpers/nsshFixtures.js";

describe("nssh: ProxyCommand, -W, -J, ServerAliveInterval", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  let inner: OpenSshServer;
  let nc: string;
  before(async () => {
    w = await startNsshWorld();
    inner = await startOpenSshServer();
    inner.setAuthorizedKeys([fs.readFileSync(w.key.file + ".pub", "utf8").trim()]);
    // The default identity and known_hosts of the temp HOME, for hops that get no -o options (as ssh -J).
    fs.copyFileSync(w.key.file, path.join(w.home, ".ssh", "id_ed25519"));
    fs.chmodSync(path.join(w.home, ".ssh", "id_ed25519"), 0o600);
    const innerKey = inner.hostPublicKeys.get("ed25519")!.split(" ").slice(0, 2).join(" ");
    fs.appendFileSync(w.knownHosts, `[127.0.0.1]:${inner.port} ${innerKey}\n`);
    nc = writeNcScript(w.dir);
  });
  after(async () => {
    await inner?.stop();
    await w?.stop();
  });

  test("ProxyCommand: an nc-style program's stdin/stdout is the connection (%h %p expanded)", async () => {
    const r = await runNssh(
      [...w.baseArgs(["-o", `ProxyCommand=${nc} %h %p`]), "127.0.0.1", "echo via-proxy; exit 7"],
      {
        env: w.env(),
      },
    );
    assert.equal(r.status, 7, r.stderr);
    assert.equal(r.stdout, "via-proxy\n");
  });

  /** nssh -W through the first sshd, as a ProxyCommand line. */
  const nsshWProxy = (): string => `${process.execPath} ${NSSH} ${w.baseArgs().join(" ")} -W %h:%p 127.0.0.1`;

  /** ssh or nssh arguments that reach the inner sshd as the test user through `proxyCommand`. */
  function innerThroughProxy(proxyCommand: string, command: string, options: string[] = []): string[] {
    return [
      "-F",
      "none",
      "-o",
      `UserKnownHostsFile=${w.knownHosts}`,
      ...options,
      "-o",
      `ProxyCommand=${proxyCommand}`,
      "-i",
      w.key.file,
      "-p",
      String(inner.port),
      "-l",
      w.user.name,
      "127.0.0.1",
      command,
    ];
  }

  /** OpenSSH's ssh with the temp HOME and no agent. */
  function runOpenSsh(args: string[]) {
    return runProgram("ssh", args, { env: { ...envWithoutAgent(), HOME: w.home }, timeoutMs: 20_000 });
  }

  test("-W host:port carries stdin/stdout to the target, for OpenSSH's ssh as its ProxyCommand", async () => {
    const r = await runOpenSsh(innerThroughProxy(nsshWProxy(), "echo inner-via-W", ["-o", "BatchMode=yes"]));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "inner-via-W\n");
  });

  test("nssh's ProxyCommand may be nssh -W", async () => {
    const r = await runNssh(innerThroughProxy(nsshWProxy(), "echo nested"), { env: w.env() });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "nested\n");
  });

  test("-J through one sshd to another, as OpenSSH's ssh -J does", async () => {
    // ssh finds ~ in the password database, not $HOME: a config file (passed on to the hop) says where.
    const config = path.join(w.dir, "jump_config");
    fs.writeFileSync(
      config,
      `UserKnownHostsFile ${w.knownHosts}\nIdentityFile ${w.key.file}\nBatchMode yes\n`,
    );
    const args = [
      "-F",
      config,
      "-J",
      `${w.user.name}@127.0.0.1:${w.sshd.port}`,
      "-p",
      String(inner.port),
      `${w.user.name}@127.0.0.1`,
      "echo jumped; exit 5",
    ];
    const r = await runNssh(args, { env: w.env() });
    assert.equal(r.status, 5, r.stderr);
    assert.equal(r.stdout, "jumped\n");
    const ssh = await runOpenSsh(args);
    assert.equal(ssh.status, 5, ssh.stderr);
    assert.equal(ssh.stdout, "jumped\n");
  });

  test("-J with two hops (the first sshd twice, then the second)", async () => {
    const hop = `${w.user.name}@127.0.0.1:${w.sshd.port}`;
    const r = await runNssh(
      [
        "-F",
        "none",
        "-o",
        "BatchMode=yes",
        "-J",
        `${hop},${hop}`,
        "-p",
        String(inner.port),
        `${w.user.name}@127.0.0.1`,
        "echo two-hops",
      ],
      { env: w.env() },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "two-hops\n");
  });

  test("ServerAliveInterval ends a connection that went dead without closing", async () => {
    const pidFile = path.join(w.dir, "nc.pid");
    const run = runNssh(
      [
        ...w.baseArgs([
          "-o",
          `ProxyCommand=${nc} %h %p`,
          "-o",
          "ServerAliveInterval=1",
          "-o",
          "ServerAliveCountMax=2",
        ]),
        "127.0.0.1",
        "echo started; sleep 60",
      ],
      { env: w.env({ NC_PIDFILE: pidFile }), timeoutMs: 25_000 },
    );
    // Freeze the relay once the command runs: from then on nothing reaches either side.
    for (let i = 0; i < 200 && !fs.existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(Number(fs.readFileSync(pidFile, "utf8")), "SIGUSR1");
    const r = await run;
    assert.equal(r.timedOut, false, r.stderr);
    assert.equal(r.status, 255, r.stderr);
    assert.equal(r.stdout, "started\n");
    assert.match(r.stderr, /Timeout, server .*not responding/);
  });
});
