/**
 * The other sides of nsftp's and nscp's connection: -S still runs the program it names (a wrapper script
 * records its arguments: the ssh options sftp and scp pass, -s sftp, the legacy `scp -t` command); a
 * password typed on the terminal (sshpass) logs a PAM user in, with nssh's prompt; and both commands
 * in-process against nsshd, SFTP and legacy, bytes intact.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { sshpassAvailable } from "../helpers/authHelpers.js";
import { copyFlags } from "../helpers/nsftpInProcessFixtures.js";
import { nsshSkip, startNsshWorld, writeScript, type NsshWorld } from "../helpers/nsshFixtures.js";
import { makeNsshdFixture, startNsshd, type NsshdFixture } from "../helpers/nsshdProcess.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";
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

describe("-S names the ssh program: it is run, as before", { skip: transferSkip, concurrency: 1 }, () => {
  let server: TransferServer;
  let dir: string;
  let wrapper: string;
  let argsLog: string;

  before(async () => {
    server = await startTransferServer();
    dir = tempDir("nscp-wrapper-");
    argsLog = path.join(dir, "wrapper-args");
    // Records its arguments (one a line, a run after "---"), then is OpenSSH's ssh.
    wrapper = writeScript(
      dir,
      "ssh-wrapper.sh",
      `#!/bin/sh\nprintf '%s\\n' "$@" --- >> '${argsLog}'\nexec /usr/bin/ssh "$@"\n`,
    );
  });
  after(async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    await server?.stop();
  });

  // A user's RequestTTY=yes must not win over the RequestTTY=no that sftp and scp force (ssh takes the first).
  const ssh = (): string[] => [
    "-S",
    wrapper,
    "-P",
    String(server.sshd.port),
    ...server.sshOptions,
    "-oRequestTTY=yes",
  ];
  const runs = (): string[][] =>
    fs
      .readFileSync(argsLog, "utf8")
      .split("---\n")
      .filter(Boolean)
      .map((r) => r.split("\n").filter(Boolean));

  test("nsftp, nscp and nscp -O run the wrapper with sftp's and scp's ssh options", async () => {
    const src = path.join(dir, "src.bin");
    const sum = writeRandomFile(src, 1 * MiB + 3);
    const sftp = await runCli("nsftp", [...ssh(), "-b", "-", "root@127.0.0.1"], {
      input: `put ${src} ${dir}/via-sftp.bin\n`,
    });
    assert.equal(sftp.status, 0, sftp.stderr);
    const scp = await runCli("nscp", [...ssh(), src, `root@127.0.0.1:${dir}/via-scp.bin`]);
    assert.equal(scp.status, 0, scp.stderr);
    const legacy = await runCli("nscp", [...ssh(), "-O", src, `root@127.0.0.1:${dir}/via-legacy.bin`]);
    assert.equal(legacy.status, 0, legacy.stderr);
    for (const name of ["via-sftp.bin", "via-scp.bin", "via-legacy.bin"])
      assert.equal(sha256File(path.join(dir, name)), sum, name);

    const [sftpArgs, scpArgs, legacyArgs] = runs();
    assert.equal(runs().length, 3);
    for (const argv of [sftpArgs!, scpArgs!, legacyArgs!]) {
      for (const option of [
        "-x",
        "-oPermitLocalCommand=no",
        "-oClearAllForwardings=yes",
        "-oForwardAgent=no",
        "-oRequestTTY=no",
      ])
        assert.ok(argv.includes(option), `${option} in ${argv.join(" ")}`);
      assert.ok(
        argv.indexOf("-oRequestTTY=no") < argv.indexOf("RequestTTY=yes"),
        `forced options first: ${argv.join(" ")}`,
      );
      assert.deepEqual(argv.slice(argv.indexOf("-p"), argv.indexOf("-p") + 2), [
        "-p",
        String(server.sshd.port),
      ]);
    }
    assert.deepEqual(sftpArgs!.slice(-4), ["-s", "--", "127.0.0.1", "sftp"]);
    assert.deepEqual(scpArgs!.slice(-4), ["-s", "--", "127.0.0.1", "sftp"]);
    assert.deepEqual(legacyArgs!.slice(-3), ["--", "127.0.0.1", `scp -t -- '${dir}/via-legacy.bin'`]);
  });
});

describe("a password typed on the terminal, in-process", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  let shared: string;
  before(async () => {
    w = await startNsshWorld(["Subsystem sftp internal-sftp"], { pam: true });
    // A folder the throwaway user can read (it has no home).
    shared = fs.mkdtempSync(path.join(os.tmpdir(), "nscp-password-"));
    fs.chmodSync(shared, 0o755);
    fs.writeFileSync(path.join(shared, "secret.txt"), "for the password holder\n", { mode: 0o644 });
  });
  after(async () => {
    fs.rmSync(shared, { recursive: true, force: true });
    await w?.stop();
  });

  for (const tool of ["nsftp", "nscp"] as const) {
    test(
      `${tool}: the password typed at nssh's prompt on the terminal (sshpass) logs in; the file arrives`,
      { skip: sshpassAvailable() ? false : "sshpass is not installed" },
      async () => {
        const into = fs.mkdtempSync(path.join(w.dir, `${tool}-`));
        const flags = copyFlags(w.sshd.port, w.key.file, w.knownHosts, [
          "-o",
          "PreferredAuthentications=password",
          "-o",
          "PubkeyAuthentication=no",
          "-v",
        ]);
        const remote = `${w.user.name}@127.0.0.1:${shared}/secret.txt`;
        // nsftp host:file fetches into the current folder; nscp takes the target.
        const command = [process.execPath, path.join(CLI_DIR, `${tool}.cjs`), ...flags, remote];
        if (tool === "nscp") command.push(into);
        const r = await runProgram(
          "sshpass",
          ["-p", w.user.password, "/bin/sh", "-c", 'cd "$0" && exec "$@"', into, ...command],
          { env: w.env(), timeoutMs: 20_000 },
        );
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stderr, /Authenticated to 127\.0\.0\.1 \(\[127\.0\.0\.1\]:\d+\) using "password"\./);
        const target = path.join(into, "secret.txt");
        assert.equal(fs.readFileSync(target, "utf8"), "for the password holder\n");
      },
    );
  }
});

describe("nsftp and nscp in-process against nsshd", () => {
  let fx: NsshdFixture;
  let knownHosts: string;
  const user = os.userInfo().username;

  before(async () => {
    fx = await makeNsshdFixture(["Subsystem sftp internal-sftp"]);
    await startNsshd(fx);
    knownHosts = path.join(fx.dir, "known_hosts");
    const hostKey = fs.readFileSync(path.join(fx.dir, "host_ed25519.pub"), "utf8").split(" ").slice(0, 2);
    fs.writeFileSync(knownHosts, `[127.0.0.1]:${fx.port} ${hostKey.join(" ")}\n`);
  });
  after(() => fx?.remove());

  test("nsftp put/get, nscp up/down in both modes: bytes intact", async () => {
    const flags = copyFlags(fx.port, fx.userKey, knownHosts, [
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
    ]);
    const src = path.join(fx.dir, "src.bin");
    const sum = writeRandomFile(src, 2 * MiB + 11);
    const env = envWithoutAgent();
    const sftp = await runCli("nsftp", [...flags, "-b", "-", `${user}@127.0.0.1`], {
      env,
      input: `put ${src} ${fx.dir}/sftp-up.bin\nget ${fx.dir}/sftp-up.bin ${fx.dir}/sftp-down.bin\n`,
    });
    assert.equal(sftp.status, 0, sftp.stderr);
    for (const mode of [[], ["-O"]]) {
      const tag = mode.length ? "legacy" : "scp";
      const up = await runCli("nscp", [...flags, ...mode, src, `${user}@127.0.0.1:${fx.dir}/${tag}-up.bin`], {
        env,
      });
      assert.equal(up.status, 0, up.stderr);
      const down = await runCli(
        "nscp",
        [...flags, ...mode, `${user}@127.0.0.1:${fx.dir}/${tag}-up.bin`, `${fx.dir}/${tag}-down.bin`],
        { env },
      );
      assert.equal(down.status, 0, down.stderr);
    }
    for (const name of ["sftp", "scp", "legacy"]) {
      assert.equal(sha256File(path.join(fx.dir, `${name}-up.bin`)), sum, name);
      assert.equal(sha256File(path.join(fx.dir, `${name}-down.bin`)), sum, name);
    }
  });
});
