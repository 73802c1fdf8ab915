/**
 * The pure pieces of nsftp and nscp: getopt, remote operands (host:path, [v6]:path, scp:// URIs, local
 * paths with colons after a slash), glob matching, sftp's argument splitting, ls columns and the
 * progress meter's number formats.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { splitArgs } from "../../src/cli/nsftp/commandLine.js";
import { getopt } from "../../src/cli/nsftp/getopt.js";
import { expandGlob, globToRegExp, hasGlob } from "../../src/cli/nsftp/glob.js";
import { formatListing, humanSize, parseLsFlags } from "../../src/cli/nsftp/lsFormat.js";
import { parseRemote } from "../../src/cli/nsftp/sshProgram.js";
import { formatRate, formatSize } from "../../src/cli/transferProgress.js";

test("getopt: clusters, attached and separate arguments, -- and the first operand end options", () => {
  assert.deepEqual(getopt(["-rp", "-P2222", "-i", "key", "a", "-q"], "rpqP:i:"), {
    flags: [{ flag: "r" }, { flag: "p" }, { flag: "P", value: "2222" }, { flag: "i", value: "key" }],
    operands: ["a", "-q"],
  });
  assert.deepEqual(getopt(["--", "-x"], "x").valueOf(), { flags: [], operands: ["-x"] });
  assert.equal(getopt(["-z"], "x"), "unknown option -- z");
  assert.equal(getopt(["-P"], "P:"), "option requires an argument -- P");
});

test("parseRemote: scp's colon rules and URIs", () => {
  assert.deepEqual(parseRemote("host:/x"), { host: "host", path: "/x" });
  assert.deepEqual(parseRemote("me@host:"), { user: "me", host: "host", path: "" });
  assert.deepEqual(parseRemote("me@[::1]:f"), { user: "me", host: "::1", path: "f" });
  assert.deepEqual(parseRemote("scp://me@host:2222/srv/x"), {
    user: "me",
    host: "host",
    port: "2222",
    path: "srv/x",
  });
  assert.deepEqual(parseRemote("sftp://host"), { host: "host", path: "" });
  assert.equal(parseRemote("./a:b"), null);
  assert.equal(parseRemote("/abs/file"), null);
  assert.equal(parseRemote("plain"), null);
  assert.equal(parseRemote(":x"), null);
});

test("glob: *, ?, [...], escapes, and dot files only for a dotted pattern", async () => {
  assert.ok(globToRegExp("*.txt").test("a.txt"));
  assert.ok(!globToRegExp("*.txt").test("a.txta"));
  assert.ok(globToRegExp("f?[0-9]").test("fx7"));
  assert.ok(globToRegExp("[!a]*").test("bcd"));
  assert.ok(!globToRegExp("[!a]*").test("abc"));
  assert.ok(globToRegExp("a\\*").test("a*"));
  assert.ok(!hasGlob("a\\*b"));
  const tree: Record<string, string[]> = {
    "/d": ["a.txt", ".hidden.txt", "b.log", "sub"],
    "/d/sub": ["c.txt"],
  };
  const list = async (dir: string): Promise<string[] | null> => tree[dir] ?? null;
  assert.deepEqual(await expandGlob("/d/*.txt", list), ["/d/a.txt"]);
  assert.deepEqual(await expandGlob("/d/.*.txt", list), ["/d/.hidden.txt"]);
  assert.deepEqual(await expandGlob("/d/*/c.txt", list), ["/d/sub/c.txt"]);
  assert.deepEqual(await expandGlob("/d/*.none", list), []);
  assert.deepEqual(await expandGlob("/d/plain\\*", list), ["/d/plain*"]);
});

test("splitArgs: quotes, escapes kept before glob characters, unterminated quotes", () => {
  assert.deepEqual(splitArgs(`get "a b" c\\ d 'e*'`), ["get", "a b", "c d", "e\\*"]);
  assert.deepEqual(splitArgs("rm  *.log\t x"), ["rm", "*.log", "x"]);
  assert.equal(splitArgs('get "open'), "Unterminated quote");
});

test("ls: columns padded as sftp prints them, -1, -l with ? links, -h sizes, -t/-S/-r order", () => {
  const e = (filename: string, size: number, mtime: number) => ({
    filename,
    longname: "",
    attrs: { size, mtime, mode: 0o100644, uid: 0, gid: 0 },
  });
  const entries = [e("b", 2048, 2), e("a", 10, 3), e(".h", 1, 1)];
  const flags = (a: string[]) => {
    const p = parseLsFlags(a);
    assert.ok(typeof p !== "string");
    return p.flags;
  };
  assert.equal(formatListing(entries, flags([]), 80, false), "a  b  \n");
  assert.equal(formatListing(entries, flags(["-1a"]), 80, false), ".h\na\nb\n");
  assert.equal(formatListing(entries, flags(["-1S"]), 80, false), "b\na\n");
  assert.equal(formatListing(entries, flags(["-1tr"]), 80, false), "b\na\n");
  assert.match(formatListing([e("f", 1536, 0)], flags(["-lh"]), 80, false), /^-rw-r--r-- +\? 0 +0 +1\.5K /);
  assert.equal(humanSize(1500), "1.5K");
  assert.equal(humanSize(300 * 1024 * 1024 * 1024), "300G");
  assert.equal(parseLsFlags(["-z"]), "ls: Invalid flag -z");
});

test("progress meter numbers as progressmeter.c formats them", () => {
  assert.equal(formatSize(5000), "5000  ");
  assert.equal(formatSize(10_000_000), "9766KB");
  assert.equal(formatRate(1024 * 1024), "  1.0MB");
  assert.equal(formatRate(200 * 1024), "200.0KB");
  assert.equal(formatRate(0), "  0.0KB");
});
