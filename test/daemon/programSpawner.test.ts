/**
 * programSpawner (native/nssh-spawn.c through src/daemon/programSpawner.ts): session programs started with
 * posix_spawn instead of Node's fork. The program gets exactly the argv, environment and folder asked for,
 * its stdin, stdout and stderr on sockets with nothing else of ours open, every signal at its default
 * (Node ignores SIGPIPE) and none blocked; its input's end reaches it, its exit status and the signal that
 * ended it come back (its stdin closed then), and a program that cannot start is an error that says why. A session run through
 * startProcess with the spawner behaves as one through Node's spawn.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import type { Readable } from "node:stream";
import { loadNativeAddon } from "../../src/daemon/loginExec.js";
import { programSpawner } from "../../src/daemon/programSpawner.js";
import { startProcess } from "../../src/session/index.js";

const spawner = programSpawner();
const skip =
  spawner === null ? "native/build/nssh-spawn.node is not built (scripts/build-native.mjs)" : false;

async function withinSeconds<T>(seconds: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  await once(stream, "end");
  return Buffer.concat(chunks).toString("utf8");
}

test("programSpawner: argv, exact environment, folder, output and exit status", { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-spawn-"));
  try {
    const p = spawner!({
      file: "/bin/sh",
      argv: [
        "my-sh",
        "-c",
        'echo "$(head -c 5 /proc/$$/cmdline) $0 $1 $GREETING $(pwd)"; tr "\\0" "\\n" < /proc/$$/environ; echo oops >&2; exit 7',
        "zero",
        "one",
      ],
      env: { GREETING: "hello", PATH: "/usr/bin:/bin" },
      cwd: dir,
    });
    p.stdin.end();
    const [out, err, exit] = await Promise.all([readAll(p.stdout), readAll(p.stderr), p.exited]);
    // The environment as exec'd: exactly what was asked for, nothing of this process's.
    assert.equal(out, `my-sh zero one hello ${fs.realpathSync(dir)}\nGREETING=hello\nPATH=/usr/bin:/bin\n`);
    assert.equal(err, "oops\n");
    assert.deepEqual(exit, { code: 7, signal: null, coreDumped: false });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(
  "programSpawner: stdin's bytes and its end arrive; only 0, 1 and 2 are sockets of ours",
  { skip },
  async () => {
    const data = Buffer.alloc(3 << 20, 0x5a);
    const p = spawner!({
      file: "/bin/sh",
      // The byte count, then each open descriptor above 2 that is a socket (ours are close-on-exec).
      argv: [
        "sh",
        "-c",
        'wc -c; for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && readlink "$f"; done | grep socket || true',
      ],
      env: { PATH: "/usr/bin:/bin" },
      cwd: "/",
    });
    p.stdin.end(data);
    const [out, exit] = await Promise.all([readAll(p.stdout), p.exited]);
    assert.equal(out.trim(), String(data.length));
    assert.equal(exit.code, 0);
  },
);

test(
  "programSpawner: signals at their defaults, none blocked; a signal's end is reported",
  { skip },
  async () => {
    const status = spawner!({
      file: "/bin/sh",
      argv: ["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"],
      env: {},
      cwd: "/",
    });
    status.stdin.end();
    const lines = await readAll(status.stdout);
    const mask = (name: string): bigint =>
      BigInt("0x" + new RegExp(`${name}:\\s*([0-9a-f]+)`).exec(lines)![1]);
    assert.equal(mask("SigBlk"), 0n);
    // Signals 1-31 (bit n - 1; SIGPIPE is 13). glibc's posix_spawn leaves its own two above them ignored
    // (32, 33: sigfillset leaves them out), and a program on glibc sets its handlers for them again.
    assert.equal(mask("SigIgn") & 0x7fffffffn, 0n, lines);

    const sleeper = spawner!({ file: "/bin/sleep", argv: ["sleep", "30"], env: {}, cwd: "/" });
    sleeper.kill("SIGTERM");
    // Reaped at its SIGCHLD, soon: nothing else looks for ended children.
    assert.deepEqual(await withinSeconds(3, sleeper.exited), {
      code: null,
      signal: "TERM",
      coreDumped: false,
    });
    // Its stdin, never ended here, is closed with its end (as Node's ChildProcess does): no descriptor stays.
    assert.equal(sleeper.stdin.destroyed, true);
    sleeper.kill("SIGKILL"); // reaped already: nothing is sent, nothing thrown
  },
);

test("programSpawner: a program that cannot start is an error naming why", { skip }, () => {
  assert.throws(
    () => spawner!({ file: "/nonexistent/prog", argv: ["prog"], env: {}, cwd: "/" }),
    (err: NodeJS.ErrnoException) => err.code === "ENOENT" && /\/nonexistent\/prog/.test(err.message),
  );
  assert.throws(
    () => spawner!({ file: "/bin/sh", argv: ["sh"], env: {}, cwd: "/nonexistent-folder" }),
    (err: NodeJS.ErrnoException) => err.code === "ENOENT",
  );
});

test(
  "startProcess with the spawner: a command through the shell, as with Node's spawn",
  { skip },
  async () => {
    const run = async (withSpawner: boolean): Promise<[string, number | null]> => {
      const p = await startProcess({
        command: "read line; echo got $line; exit 4",
        shell: "/bin/sh",
        env: { PATH: "/usr/bin:/bin" },
        cwd: "/",
        ...(withSpawner ? { spawner: spawner! } : {}),
      });
      p.stdin.end("input\n");
      const [out, exit] = await Promise.all([readAll(p.stdout), p.exited]);
      return [out, exit.code];
    };
    assert.deepEqual(await run(true), await run(false));
    assert.deepEqual(await run(true), ["got input\n", 4]);
    // The message below comes from the addon (Node's spawn words it "spawn ... ENOENT"): the spawner's
    // branch was the one taken.
    await assert.rejects(
      startProcess({ command: "true", shell: "/nonexistent/shell", env: {}, cwd: "/", spawner: spawner! }),
      /cannot run \/nonexistent\/shell: spawn \/nonexistent\/shell: No such file or directory/,
    );
  },
);

test(
  "loadNativeAddon: the exports when they have the functions asked for; otherwise why not",
  { skip },
  () => {
    const addon = loadNativeAddon<{ spawn: unknown; reap: unknown }>("nssh-spawn.node", ["spawn", "reap"]);
    assert.equal(typeof addon, "object");
    assert.equal(
      loadNativeAddon<{ spawn: unknown; fork: unknown }>("nssh-spawn.node", ["spawn", "fork"]),
      "native/build/nssh-spawn.node has no fork",
    );
  },
);
