/**
 * The client commands' V8 code cache (src/cli/compileCache.cts, launcher.cts): where it lives, when it is
 * trusted, that a run which logged in leaves one and later runs use it as it is, that a damaged or foreign
 * cache changes nothing a user sees, and that `NSSH_COMPILE_CACHE=none` switches it off.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { compileCacheDirectory, openCompileCache } from "../../src/cli/compileCache.cjs";
import { bundlePath } from "../../src/cli/launcher.cjs";
import { nsshSkip, runNssh, startNsshWorld, type NsshWorld } from "../helpers/nsshFixtures.js";

describe("where the cache lives", () => {
  test("NSSH_COMPILE_CACHE names the folder, or none switches the cache off", () => {
    assert.equal(compileCacheDirectory({ NSSH_COMPILE_CACHE: "/var/cache/x", HOME: "/h" }), "/var/cache/x");
    assert.equal(compileCacheDirectory({ NSSH_COMPILE_CACHE: "none", HOME: "/h" }), null);
  });

  test("else $XDG_CACHE_HOME/nssh (a relative one is ignored, as XDG says), else ~/.cache/nssh", () => {
    assert.equal(compileCacheDirectory({ XDG_CACHE_HOME: "/xdg", HOME: "/h" }), "/xdg/nssh");
    assert.equal(compileCacheDirectory({ XDG_CACHE_HOME: "xdg", HOME: "/h" }), "/h/.cache/nssh");
    assert.equal(compileCacheDirectory({ HOME: "/h" }), "/h/.cache/nssh");
  });
});

describe("what the cache file is trusted with", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-compile-cache-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const data = Buffer.from("bytecode, as far as this test knows");
  const made = (): Buffer => data;
  /** The one cache file in `folder` (its name carries the Node runtime's tag). */
  const cacheIn = (folder: string, command = "nssh"): string => {
    const names = fs.readdirSync(folder).filter((n) => n.startsWith(`${command}-`) && n.endsWith(".v8cache"));
    assert.equal(names.length, 1, `one cache in ${fs.readdirSync(folder).join(", ")}`);
    return path.join(folder, names[0]!);
  };

  test("what was saved for one bundle is read back for it, not for another", () => {
    const folder = path.join(dir, "round-trip", "nssh");
    openCompileCache("nssh", "bundle one", folder).save(made);
    assert.equal(fs.statSync(folder).mode & 0o777, 0o700);
    assert.equal(fs.statSync(cacheIn(folder)).mode & 0o777, 0o600);
    assert.deepEqual(openCompileCache("nssh", "bundle one", folder).data, data);
    assert.equal(openCompileCache("nssh", "bundle two", folder).data, undefined);
    assert.equal(openCompileCache("nscp", "bundle one", folder).data, undefined);
    assert.deepEqual(fs.readdirSync(folder), [path.basename(cacheIn(folder))], "no temporary file is left");
  });

  test("writing a cache removes the command's caches of other runtimes unused for 30 days, and abandoned temporary files", () => {
    const folder = path.join(dir, "prune");
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    const days = (n: number): Date => new Date(Date.now() - n * 24 * 3600 * 1000);
    const place = (name: string, age: Date): void => {
      fs.writeFileSync(path.join(folder, name), "old");
      fs.utimesSync(path.join(folder, name), age, age);
    };
    place("nssh-00000000000000aa.v8cache", days(40)); // another Node, long unused
    place("nssh-00000000000000bb.v8cache", days(3)); // another Node, in use
    place("nssh-keygen-00000000000000cc.v8cache", days(40)); // another command's
    place("nscp-00000000000000dd.v8cache", days(40)); // another command's
    place("nssh-00000000000000ee.v8cache.999.tmp", days(1)); // a run killed while writing
    place("nssh-00000000000000ff.v8cache.998.tmp", new Date()); // a run writing now
    place("notes.txt", days(40));
    openCompileCache("nssh", "id", folder).save(made);
    const current = path.basename(
      fs.readdirSync(folder).find((n) => n.startsWith("nssh-") && !/-00000000000000/.test(n))!,
    );
    assert.deepEqual(
      fs.readdirSync(folder).sort(),
      [
        current,
        "nscp-00000000000000dd.v8cache",
        "notes.txt",
        "nssh-00000000000000bb.v8cache",
        "nssh-00000000000000ff.v8cache.998.tmp",
        "nssh-keygen-00000000000000cc.v8cache",
      ].sort(),
    );
    assert.deepEqual(openCompileCache("nssh", "id", folder).data, data, "its own cache is there");
  });

  test("a file or folder others may write, another owner's, or a symbolic link is not read", () => {
    const folder = path.join(dir, "modes");
    openCompileCache("nssh", "id", folder).save(made);
    const file = cacheIn(folder);
    fs.chmodSync(file, 0o620);
    assert.equal(openCompileCache("nssh", "id", folder).data, undefined, "group-writable file");
    fs.chmodSync(file, 0o600);
    fs.chmodSync(folder, 0o777);
    assert.equal(openCompileCache("nssh", "id", folder).data, undefined, "world-writable folder");
    fs.chmodSync(folder, 0o700);
    assert.deepEqual(openCompileCache("nssh", "id", folder).data, data);
    if (process.getuid?.() === 0) {
      fs.chownSync(file, 65534, 65534);
      assert.equal(openCompileCache("nssh", "id", folder).data, undefined, "another user's file");
      fs.chownSync(file, 0, 0);
    }
    const linked = path.join(dir, "linked");
    fs.mkdirSync(linked, { mode: 0o700 });
    fs.symlinkSync(file, path.join(linked, path.basename(file)));
    assert.equal(openCompileCache("nssh", "id", linked).data, undefined, "a symbolic link");
  });

  test("a FIFO in its place is not waited on", () => {
    const folder = path.join(dir, "fifo");
    openCompileCache("nssh", "id", folder).save(made);
    const file = cacheIn(folder);
    fs.rmSync(file);
    const fifo = spawnSync("mkfifo", ["-m", "600", file]);
    assert.equal(fifo.status, 0, String(fifo.stderr));
    assert.equal(openCompileCache("nssh", "id", folder).data, undefined);
  });

  test(
    "nothing is created under a folder of another user's (sudo with another HOME)",
    { skip: process.getuid?.() !== 0 ? "needs root to make another user's folder" : false },
    () => {
      const theirs = path.join(dir, "their-home");
      fs.mkdirSync(theirs, { mode: 0o755 });
      fs.chownSync(theirs, 65534, 65534);
      openCompileCache("nssh", "id", path.join(theirs, ".cache", "nssh")).save(made);
      assert.deepEqual(fs.readdirSync(theirs), []);
    },
  );

  test("an unwritable place leaves the run as it is", () => {
    const file = path.join(dir, "a-file");
    fs.writeFileSync(file, "");
    assert.doesNotThrow(() => openCompileCache("nssh", "id", path.join(file, "nssh")).save(made));
    const failing = path.join(dir, "failing");
    assert.doesNotThrow(() =>
      openCompileCache("nssh", "id", failing).save(() => {
        throw new Error("V8 could not serialize");
      }),
    );
    assert.deepEqual(fs.readdirSync(failing), [], "no partial file is left");
  });
});

describe("nssh with its code cache, against OpenSSH's sshd", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  before(async () => {
    w = await startNsshWorld();
  });
  after(async () => {
    await w?.stop();
  });

  const cacheFolder = (): string => path.join(w.home, ".cache", "nssh");
  const cacheFile = (): string => {
    const names = fs.existsSync(cacheFolder()) ? fs.readdirSync(cacheFolder()) : [];
    const cache = names.find((n) => n.startsWith("nssh-") && n.endsWith(".v8cache"));
    return path.join(cacheFolder(), cache ?? "nssh-none.v8cache");
  };
  const login = (command: string, env: NodeJS.ProcessEnv = {}) =>
    runNssh([...w.baseArgs(), "127.0.0.1", command], { env: w.env(env) });

  test("the bundle is what runs, in strict mode as the modules it is made of", () => {
    assert.ok(fs.existsSync(bundlePath("nssh")), bundlePath("nssh"));
    assert.match(fs.readFileSync(bundlePath("nssh"), "utf8"), /^"use strict";\n/);
  });

  test("-V leaves no cache; a login leaves one in ~/.cache/nssh; the next login uses it as it is", async () => {
    const version = await runNssh(["-V"], { env: w.env() });
    assert.equal(version.status, 0);
    assert.equal(fs.existsSync(cacheFile()), false, "a run that did not log in is not worth caching");

    const first = await login("echo first; exit 3");
    assert.equal(first.stdout, "first\n");
    assert.equal(first.status, 3);
    const made = fs.statSync(cacheFile());
    assert.equal(made.mode & 0o777, 0o600);
    assert.ok(made.size > 100_000, `a cache of the functions a login compiles (${made.size} bytes)`);

    const second = await login("echo second");
    assert.equal(second.stdout, "second\n");
    assert.equal(second.status, 0);
    const after = fs.statSync(cacheFile());
    assert.equal(after.ino, made.ino, "a cache V8 accepted is not written again");
    assert.equal(after.mtimeMs, made.mtimeMs);
  });

  test("a damaged cache changes nothing a user sees, and the run replaces it", async () => {
    const file = cacheFile();
    if (!fs.existsSync(file)) await login("true");
    const content = fs.readFileSync(file);
    const headerEnd = content.indexOf(0x0a) + 1;
    const damaged = Buffer.concat([
      content.subarray(0, headerEnd),
      Buffer.alloc(content.length - headerEnd, 0x5a),
    ]);
    fs.writeFileSync(file, damaged, { mode: 0o600 });
    const run = await login("echo still here");
    assert.equal(run.stdout, "still here\n");
    assert.equal(run.status, 0);
    assert.doesNotMatch(run.stderr, /cache|warning/i);
    assert.notDeepEqual(fs.readFileSync(file), damaged, "V8 rejected it, so the run wrote a new one");
  });

  test("NSSH_COMPILE_CACHE=none: no cache is read or written", async () => {
    fs.rmSync(path.join(w.home, ".cache"), { recursive: true, force: true });
    const run = await login("echo without", { NSSH_COMPILE_CACHE: "none" });
    assert.equal(run.stdout, "without\n");
    assert.equal(fs.existsSync(path.join(w.home, ".cache")), false);
  });
});

describe("the server sides write no cache into the user's home", () => {
  let home: string;
  before(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-cache-servers-"));
  });
  after(() => fs.rmSync(home, { recursive: true, force: true }));
  const env = (): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete e.XDG_CACHE_HOME;
    delete e.NSSH_COMPILE_CACHE;
    return e;
  };
  const cli = (name: string): string => new URL(`../../src/cli/${name}.cjs`, import.meta.url).pathname;

  test("nsftp-server serving OpenSSH's sftp, and nscp -t receiving a file", () => {
    const work = path.join(home, "work");
    fs.mkdirSync(work);
    fs.writeFileSync(path.join(work, "listed"), "x");
    const server = `${process.execPath} ${cli("nsftp-server")}`;
    const sftp = spawnSync("sftp", ["-q", "-b", "-", "-D", server], {
      input: `ls ${work}\n`,
      env: env(),
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(sftp.status, 0, sftp.stderr);
    assert.match(sftp.stdout, /listed/);
    // scp's source side of the protocol: a file record, its bytes and a zero byte.
    const scp = spawnSync(process.execPath, [cli("nscp"), "-t", work], {
      input: Buffer.concat([Buffer.from("C0644 6 copied\nhello\n"), Buffer.from([0])]),
      env: env(),
      timeout: 20_000,
    });
    assert.equal(scp.status, 0, String(scp.stderr));
    assert.equal(fs.readFileSync(path.join(work, "copied"), "utf8"), "hello\n");
    assert.equal(fs.existsSync(path.join(home, ".cache")), false, "no ~/.cache at all");
  });
});
