/**
 * ChrootDirectory (sshd_config(5)), end to end as root with OpenSSH's sftp and ssh: the usual
 * `Match User / ChrootDirectory .../%u / ForceCommand internal-sftp` serves only the chroot's tree (`..`,
 * absolute paths and symlinks stay inside: a real chroot(2)); a chroot path that is the user's or
 * group-writable is refused with sshd's message; a shell session runs the chroot's own shell in the home
 * (or "/"), as the user; a missing shell fails with perror's words and status 1; two logins of one user
 * under different ChrootDirectory (Match LocalPort) are served apart; and the same with -i (one process).
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { nativeAddonPath, nativeHelper } from "../../../src/daemon/loginExec.js";
import { installShell, makeChrootBase, makeChrootTree, shellSource } from "../../helpers/chrootFixtures.js";
import {
  makeNsshdFixture,
  NSSHD,
  sshArgs,
  startNsshd,
  type NsshdFixture,
} from "../../helpers/nsshdProcess.js";
import { freePort } from "../../helpers/ports.js";
import { envWithoutAgent, runProgram, type ProgramRun } from "../../helpers/processes.js";
import { createTestUser, isRoot, type TestUser } from "../../helpers/systemUsers.js";

const skip = !isRoot
  ? "needs root"
  : !nativeAddonPath("nssh-chroot.node") || !nativeHelper("nssh-exec")
    ? "the native helpers are not built (scripts/build-native.mjs)"
    : false;

/** sftp's options: ssh's (sshArgs ends with ssh's "-p PORT"), with the port as sftp spells it. */
function sftpArgs(fx: NsshdFixture, extra: string[] = [], port = fx.port): string[] {
  return [...sshArgs(fx, extra).slice(0, -2), "-P", String(port)];
}

/** `sftp -b` with these commands (a leading "-" lets one fail), run in `cwd`. */
async function sftpBatch(
  fx: NsshdFixture,
  user: string,
  commands: string[],
  opts: { cwd: string; extra?: string[]; port?: number },
): Promise<ProgramRun> {
  const batch = path.join(opts.cwd, `batch-${randomBytes(3).toString("hex")}`);
  fs.writeFileSync(batch, commands.join("\n") + "\n");
  const args = [...sftpArgs(fx, opts.extra, opts.port), "-b", batch, `${user}@127.0.0.1`];
  return new Promise((resolve, reject) => {
    const child = spawn("sftp", args, {
      cwd: opts.cwd,
      env: envWithoutAgent(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    child.once("error", reject);
    child.once("close", (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut: false });
    });
  });
}

function ssh(fx: NsshdFixture, user: string, command: string, extra: string[] = []): Promise<ProgramRun> {
  return runProgram("ssh", [...sshArgs(fx, extra), `${user}@127.0.0.1`, command], {
    env: envWithoutAgent(),
    timeoutMs: 20_000,
  });
}

interface Setup {
  fx: NsshdFixture;
  base: string;
  local: string;
}

async function setup(t: { after(fn: () => unknown): void }, extra: string[]): Promise<Setup> {
  const chroots = makeChrootBase();
  t.after(() => chroots.remove());
  const local = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-chroot-local-"));
  t.after(() => fs.rmSync(local, { recursive: true, force: true }));
  // sshd finds the subsystem before ForceCommand replaces it: the usual configuration names one.
  const fx = await makeNsshdFixture([
    "LogLevel VERBOSE",
    "Subsystem sftp internal-sftp",
    ...extra.map((l) => l.replaceAll("@BASE@", chroots.dir)),
  ]);
  t.after(() => fx.remove());
  return { fx, base: chroots.dir, local };
}

function user(t: { after(fn: () => unknown): void }, shell?: string): TestUser {
  const u = createTestUser({ prefix: "nsshc" });
  t.after(() => u.remove());
  if (shell) spawnSync("usermod", ["-s", shell, u.name]);
  return u;
}

/** The names an `ls -1 DIR` printed in sftp's batch output (the lines that are not echoed commands). */
function listed(stdout: string, command: string): string[] {
  const lines = stdout.split("\n");
  const at = lines.indexOf(`sftp> ${command}`);
  assert.ok(at >= 0, `no "${command}" in:\n${stdout}`);
  const out: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (line.startsWith("sftp> ") || line === "") break;
    out.push(path.basename(line.trim()));
  }
  return out.sort();
}

test(
  "ChrootDirectory + ForceCommand internal-sftp: only the chroot's tree, bytes intact",
  { skip },
  async (t) => {
    const { fx, base, local } = await setup(t, [
      "Match User nsshc*",
      "  ChrootDirectory @BASE@/%u",
      "  ForceCommand internal-sftp",
    ]);
    const u = user(t);
    const tree = makeChrootTree(base, u);
    // Outside the user's chroot, beside it: what no path from inside may reach.
    fs.writeFileSync(path.join(base, "secret.txt"), "outside\n");
    fs.symlinkSync(path.join(base, "secret.txt"), path.join(tree.homeOutside, "abs-link"));
    fs.symlinkSync("../../../secret.txt", path.join(tree.homeOutside, "rel-link"));
    const data = randomBytes(200_000);
    fs.writeFileSync(path.join(local, "up.bin"), data);
    const nsshd = await startNsshd(fx);

    const r = await sftpBatch(
      fx,
      u.name,
      [
        "pwd",
        "ls -1 /",
        "put up.bin",
        "get up.bin back.bin",
        "get hello.txt",
        "cd ..",
        "cd ..",
        "cd ..",
        "pwd",
        "ls -1",
        "-get /etc/passwd passwd.copy",
        "-get /secret.txt secret.copy",
        "-get ../../../secret.txt secret2.copy",
        `-get ${path.join(base, "secret.txt")} secret3.copy`,
        `-get ${tree.root}/inside.txt inside.copy`,
        `-get ${u.home}/abs-link abs.copy`,
        `-get ${u.home}/rel-link rel.copy`,
      ],
      // Re-keys every 32 KiB: the chrooted session process runs key exchanges with what it loaded before.
      { cwd: local, extra: ["-o", "RekeyLimit=32K"] },
    );
    assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}\n${nsshd.stderr()}`);
    assert.match(r.stdout, new RegExp(`Remote working directory: ${u.home}\n`));
    assert.deepEqual(listed(r.stdout, "ls -1 /"), ["home", "inside.txt"]);
    assert.deepEqual(fs.readFileSync(path.join(local, "back.bin")), data);
    assert.equal(fs.readFileSync(path.join(local, "hello.txt"), "utf8"), "hello from the chroot home\n");
    // The upload is the user's, in the home inside the chroot.
    const up = fs.statSync(path.join(tree.homeOutside, "up.bin"));
    assert.equal(up.uid, u.uid);
    assert.match(r.stdout, /Remote working directory: \/\n/);
    assert.deepEqual(listed(r.stdout, "ls -1"), ["home", "inside.txt"]);
    for (const f of [
      "passwd.copy",
      "secret.copy",
      "secret2.copy",
      "secret3.copy",
      "inside.copy",
      "abs.copy",
      "rel.copy",
    ]) {
      assert.equal(fs.existsSync(path.join(local, f)), false, `${f} was fetched`);
    }
    await nsshd.waitForLog(new RegExp(`Accepted publickey for ${u.name} from 127\\.0\\.0\\.1`));
  },
);

test(
  "ChrootDirectory owned by the user or group-writable is refused with sshd's message",
  { skip },
  async (t) => {
    const { fx, base, local } = await setup(t, [
      "Match User nsshc*",
      "  ChrootDirectory @BASE@/%u",
      "  ForceCommand internal-sftp",
    ]);
    const u = user(t);
    const tree = makeChrootTree(base, u);
    const nsshd = await startNsshd(fx);

    fs.chownSync(tree.root, u.uid, u.gid);
    const owned = await sftpBatch(fx, u.name, ["ls /"], { cwd: local });
    assert.notEqual(owned.status, 0, owned.stdout);
    await nsshd.waitForLog(
      new RegExp(`bad ownership or modes for chroot directory "${tree.root.replaceAll("/", "\\/")}"`),
    );

    fs.chownSync(tree.root, 0, 0);
    fs.chmodSync(tree.root, 0o775);
    const groupWritable = await ssh(fx, u.name, "true");
    assert.equal(groupWritable.status, 255, groupWritable.stdout);
    const count = (nsshd.stderr().match(/bad ownership or modes for chroot directory "/g) ?? []).length;
    assert.ok(count >= 2, nsshd.stderr());

    // A component on the way (the base made group-writable) is named as a component.
    fs.chmodSync(tree.root, 0o755);
    fs.chmodSync(base, 0o775);
    const component = await ssh(fx, u.name, "true");
    assert.equal(component.status, 255);
    await nsshd.waitForLog(new RegExp(`bad ownership or modes for chroot directory component "${base}/"`));

    // Fixed, the same user gets in.
    fs.chmodSync(base, 0o755);
    const fixed = await sftpBatch(fx, u.name, ["ls -1 /"], { cwd: local });
    assert.equal(fixed.status, 0, `${fixed.stderr}\n${nsshd.stderr()}`);
    assert.deepEqual(listed(fixed.stdout, "ls -1 /"), ["home", "inside.txt"]);
  },
);

test(
  "ChrootDirectory with a shell: commands run inside, as the user, in the home or /",
  { skip: skip || (shellSource() === null ? "no shell to put in a chroot" : false) },
  async (t) => {
    const { fx, base } = await setup(t, ["Match User nsshc*", "  ChrootDirectory @BASE@/%u"]);
    const withHome = user(t, "/bin/sh");
    installShell(makeChrootTree(base, withHome).root);
    const noHome = user(t, "/bin/sh");
    installShell(makeChrootTree(base, noHome, { withHome: false }).root);
    const noShell = user(t); // /bin/bash, which the chroot does not have
    makeChrootTree(base, noShell);
    const nsshd = await startNsshd(fx);

    const inHome = await ssh(fx, withHome.name, "pwd; id -u; echo /*");
    assert.equal(inHome.status, 0, `${inHome.stderr}\n${nsshd.stderr()}`);
    const [cwd, uid, ...top] = inHome.stdout.trim().split("\n");
    assert.equal(cwd, withHome.home);
    assert.equal(uid, String(withHome.uid));
    assert.ok(top.join(" ").includes("inside.txt"), inHome.stdout);
    assert.ok(!top.join(" ").includes("/etc"), inHome.stdout);

    const atRoot = await ssh(fx, noHome.name, "pwd; id -u");
    assert.equal(atRoot.status, 0, `${atRoot.stderr}\n${nsshd.stderr()}`);
    assert.equal(atRoot.stdout, `/\n${noHome.uid}\n`);
    // session.c: no "Could not chdir" warning inside a chroot.
    assert.doesNotMatch(atRoot.stderr, /Could not chdir/);

    const missing = await ssh(fx, noShell.name, "echo should-not-run");
    assert.equal(missing.status, 1, missing.stdout);
    assert.match(missing.stderr, /\/bin\/bash: No such file or directory/);
    assert.equal(missing.stdout, "");
  },
);

test("one user, two ChrootDirectory (Match LocalPort): separate session processes", { skip }, async (t) => {
  const second = await freePort();
  const { fx, base, local } = await setup(t, [
    `Port ${second}`,
    // The first value obtained wins (sshd_config(5)): the more specific block comes first.
    `Match User nsshc* LocalPort ${second}`,
    "  ChrootDirectory @BASE@/other/%u",
    "Match User nsshc*",
    "  ChrootDirectory @BASE@/%u",
    "  ForceCommand internal-sftp",
  ]);
  const u = user(t);
  makeChrootTree(base, u);
  fs.mkdirSync(path.join(base, "other"), { mode: 0o755 });
  const other = makeChrootTree(path.join(base, "other"), u);
  fs.writeFileSync(path.join(other.root, "second.txt"), "second\n");
  const nsshd = await startNsshd(fx);

  // The first login stays open (interactive sftp reading commands) while the second one lists.
  const first = spawn("sftp", [...sftpArgs(fx), `${u.name}@127.0.0.1`], {
    cwd: local,
    env: envWithoutAgent(),
    stdio: ["pipe", "pipe", "pipe"],
  });
  t.after(() => {
    if (first.exitCode === null) first.kill("SIGKILL");
  });
  let firstOut = "";
  first.stdout.on("data", (d: Buffer) => (firstOut += d.toString()));
  first.stderr.on("data", (d: Buffer) => (firstOut += d.toString()));
  first.stdin.write("ls -1 /\n");
  const deadline = Date.now() + 15_000;
  while (!firstOut.includes("inside.txt") && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.match(firstOut, /inside\.txt/, `${firstOut}\n${nsshd.stderr()}`);

  const r = await sftpBatch(fx, u.name, ["ls -1 /"], { cwd: local, port: second });
  assert.equal(r.status, 0, `${r.stderr}\n${nsshd.stderr()}`);
  assert.deepEqual(listed(r.stdout, "ls -1 /"), ["home", "inside.txt", "second.txt"]);

  first.stdin.write("ls -1 /\nbye\n");
  const code = await new Promise<number | null>((resolve) => first.once("exit", (c) => resolve(c)));
  assert.equal(code, 0, firstOut);
  assert.doesNotMatch(firstOut, /second\.txt/);
});

test(
  "nsshd -i: ChrootDirectory for internal-sftp and for a shell, in one process",
  { skip: skip || (shellSource() === null ? "no shell to put in a chroot" : false) },
  async (t) => {
    const { fx, base, local } = await setup(t, ["Match User nsshc*", "  ChrootDirectory @BASE@/%u"]);
    const u = user(t, "/bin/sh");
    const tree = makeChrootTree(base, u);
    installShell(tree.root);
    const logFile = path.join(fx.dir, "inetd.log");
    const proxy = `${process.execPath} ${NSSHD} -i -f ${fx.configFile} -E ${logFile}`;
    const log = (): string => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");

    const r = await ssh(fx, u.name, "pwd; id -u; echo /*", ["-o", `ProxyCommand=${proxy}`]);
    assert.equal(r.status, 0, `${r.stderr}\n${log()}`);
    const [cwd, uid, ...top] = r.stdout.trim().split("\n");
    assert.equal(cwd, u.home);
    assert.equal(uid, String(u.uid));
    assert.ok(top.join(" ").includes("inside.txt"), r.stdout);

    // The sftp subsystem (internal-sftp) in the same chroot.
    const data = randomBytes(100_000);
    fs.writeFileSync(path.join(local, "up.bin"), data);
    const s = await sftpBatch(
      fx,
      u.name,
      ["pwd", "ls -1 /", "put up.bin", "get up.bin back.bin", "-get /etc/passwd p"],
      {
        cwd: local,
        extra: ["-o", `ProxyCommand=${proxy}`],
      },
    );
    assert.equal(s.status, 0, `${s.stderr}\n${s.stdout}\n${log()}`);
    assert.match(s.stdout, new RegExp(`Remote working directory: ${u.home}\n`));
    assert.deepEqual(listed(s.stdout, "ls -1 /"), fs.readdirSync(tree.root).sort());
    assert.deepEqual(fs.readFileSync(path.join(local, "back.bin")), data);
    assert.equal(fs.statSync(path.join(tree.homeOutside, "up.bin")).uid, u.uid);
    assert.equal(fs.existsSync(path.join(local, "p")), false);
  },
);

test("not root: ChrootDirectory refuses the login with a clear log line", { skip }, async (t) => {
  const { fx, base } = await setup(t, ["Match User nsshc*", "  ChrootDirectory @BASE@/%u"]);
  const u = user(t);
  makeChrootTree(base, u);
  // The user's own nsshd (embedded mode): its folder, keys and config are the user's.
  for (const f of [fx.dir, ...fs.readdirSync(fx.dir).map((n) => path.join(fx.dir, n))]) {
    fs.chownSync(f, u.uid, u.gid);
  }
  const child = spawn(process.execPath, [NSSHD, "-D", "-e", "-f", fx.configFile], {
    uid: u.uid,
    gid: u.gid,
    cwd: "/",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: u.home, USER: u.name, LOGNAME: u.name },
    stdio: ["ignore", "ignore", "pipe"],
  });
  fx.processes.push(child);
  let log = "";
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 15_000;
  const waitFor = async (re: RegExp): Promise<void> => {
    while (!re.test(log) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(log, re);
  };
  await waitFor(/Server listening on 127\.0\.0\.1/);
  const r = await ssh(fx, u.name, "echo should-not-run");
  assert.equal(r.status, 255, r.stdout);
  assert.equal(r.stdout, "");
  await waitFor(new RegExp(`ChrootDirectory ${base}/${u.name} needs nsshd to run as root`));

  // The same with -i (one process, the session refused), started as the user by setpriv(1).
  const logFile = path.join(fx.dir, "inetd.log");
  const setpriv = `setpriv --reuid=${u.uid} --regid=${u.gid} --clear-groups`;
  const proxy = `${setpriv} ${process.execPath} ${NSSHD} -i -f ${fx.configFile} -E ${logFile}`;
  const inetd = await ssh(fx, u.name, "echo should-not-run", ["-o", `ProxyCommand=${proxy}`]);
  assert.notEqual(inetd.status, 0, inetd.stderr);
  assert.equal(inetd.stdout, "");
  assert.match(
    fs.readFileSync(logFile, "utf8"),
    /ChrootDirectory needs nsshd to run as root: session for nsshc/,
  );
});

/** Bind /dev/pts and make /dev/ptmx and /dev/null in a tree, or say why not; undone by the returned function. */
function devicesInto(root: string): (() => void) | string {
  const dev = path.join(root, "dev");
  fs.mkdirSync(path.join(dev, "pts"), { recursive: true, mode: 0o755 });
  for (const [name, minor] of [
    ["ptmx", "2"],
    ["null", "3"],
  ] as const) {
    const major = name === "ptmx" ? "5" : "1";
    const made = spawnSync("mknod", ["-m", "666", path.join(dev, name), "c", major, minor]);
    if (made.status !== 0) return `mknod failed: ${made.stderr}`;
  }
  const mounted = spawnSync("mount", ["--bind", "/dev/pts", path.join(dev, "pts")], { encoding: "utf8" });
  if (mounted.status !== 0) return `mount --bind failed: ${mounted.stderr}`;
  return () => void spawnSync("umount", ["-l", path.join(dev, "pts")]);
}

test(
  "ChrootDirectory with a PTY (/dev/ptmx and /dev/pts inside): the terminal is the user's",
  { skip: skip || (shellSource() === null ? "no shell to put in a chroot" : false) },
  async (t) => {
    const { fx, base } = await setup(t, ["Match User nsshc*", "  ChrootDirectory @BASE@/%u"]);
    const withPty = user(t, "/bin/sh");
    const tree = makeChrootTree(base, withPty);
    installShell(tree.root);
    const devices = devicesInto(tree.root);
    if (typeof devices === "string") return t.skip(devices);
    t.after(devices); // (makeChrootBase's remove unmounts too, whichever runs first)
    const noPty = user(t, "/bin/sh");
    installShell(makeChrootTree(base, noPty).root);
    const nsshd = await startNsshd(fx);

    const r = await ssh(fx, withPty.name, "tty; id -u; pwd", ["-tt"]);
    assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}\n${nsshd.stderr()}`);
    const lines = r.stdout.replaceAll("\r", "").trim().split("\n");
    assert.match(lines[0]!, /^\/dev\/pts\/\d+$/);
    assert.deepEqual(lines.slice(1), [String(withPty.uid), withPty.home]);

    const none = await ssh(fx, noPty.name, "tty", ["-tt"]);
    assert.equal(none.status, 1, none.stdout);
    assert.match(none.stdout + none.stderr, /needs \/dev\/ptmx and \/dev\/pts/);
  },
);
