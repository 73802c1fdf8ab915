/**
 * Our `nsftp-server` and OpenSSH's own sftp-server, given the same hand-made requests on the same files:
 * the VERSION extensions, READDIR names with their `ls -l` longnames and attributes, STAT/LSTAT, REALPATH
 * (including a missing last component), and the status code and message of each failure must be equal.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  OpenFlags,
  PacketType,
  decodeAttrs,
  decodeNameBody,
  encodeAttrs,
  type SftpAttrs,
} from "../../src/sftp/index.js";
import { SshReader } from "../../src/wire/index.js";
import { RawPeer } from "../helpers/sftpServerFixtures.js";

const SERVER_JS = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../src/cli/nsftp-server.cjs",
);
const OPENSSH_SFTP_SERVER = "/usr/lib/openssh/sftp-server";
const skip = !fs.existsSync(OPENSSH_SFTP_SERVER) ? "OpenSSH's sftp-server is not installed" : false;

/** What one reply says, in a form two servers can be compared by. */
type Answer =
  | { status: number; message: string }
  | { names: Array<{ filename: string; longname: string; attrs: SftpAttrs }> }
  | { attrs: SftpAttrs }
  | { handle: true }
  | { data: number };

async function answer(peer: RawPeer): Promise<{ answer: Answer; handle?: Buffer }> {
  const p = await peer.reply();
  const r = new SshReader(p.payload);
  r.uint32();
  switch (p.type) {
    case PacketType.STATUS:
      return { answer: { status: r.uint32(), message: r.string().toString() } };
    case PacketType.NAME:
      return { answer: { names: decodeNameBody(r) } };
    case PacketType.ATTRS:
      return { answer: { attrs: decodeAttrs(r) } };
    case PacketType.HANDLE:
      return { answer: { handle: true }, handle: Buffer.from(r.string()) };
    case PacketType.DATA:
      return { answer: { data: r.string().length } };
    default:
      throw new Error(`unexpected reply type ${p.type}`);
  }
}

/** Run the same conversation against one server program; returns its answers. */
async function converse(
  cmd: string,
  args: string[],
  dir: string,
): Promise<{ extensions: string[]; answers: Answer[] }> {
  const child = spawn(cmd, args, { cwd: dir, stdio: ["pipe", "pipe", "inherit"] });
  try {
    const peer = new RawPeer(child.stdin, child.stdout);
    const extensions = [...(await peer.init()).keys()];
    const answers: Answer[] = [];
    const ask = async (
      type: number,
      body: Parameters<RawPeer["request"]>[1],
    ): Promise<Buffer | undefined> => {
      peer.request(type, body);
      const a = await answer(peer);
      answers.push(a.answer);
      return a.handle;
    };
    const listing = async (p: string): Promise<void> => {
      const h = (await ask(PacketType.OPENDIR, (w) => w.string(p)))!;
      const all: Array<{ filename: string; longname: string; attrs: SftpAttrs }> = [];
      for (;;) {
        peer.request(PacketType.READDIR, (w) => w.string(h));
        const a = await answer(peer);
        if (!("names" in a.answer)) {
          answers.push(a.answer); // the EOF status
          break;
        }
        all.push(...a.answer.names);
      }
      all.sort((x, y) => x.filename.localeCompare(y.filename));
      answers.push({ names: all });
      await ask(PacketType.CLOSE, (w) => w.string(h));
    };
    await listing(dir);
    await listing(path.join(dir, "sub"));
    for (const p of ["file.txt", "link", "sub", "dangling"]) {
      await ask(PacketType.STAT, (w) => w.string(p));
      await ask(PacketType.LSTAT, (w) => w.string(p));
    }
    for (const p of [".", "sub/../file.txt", "link", "missing", "missing/deeper", "sub/"]) {
      await ask(PacketType.REALPATH, (w) => w.string(p));
    }
    await ask(PacketType.STAT, (w) => w.string("missing"));
    await ask(PacketType.OPEN, (w) => encodeAttrs(w.string("missing").uint32(OpenFlags.READ), {}));
    await ask(PacketType.OPEN, (w) => encodeAttrs(w.string("file.txt/x").uint32(OpenFlags.READ), {}));
    await ask(PacketType.MKDIR, (w) => encodeAttrs(w.string("sub"), {}));
    await ask(PacketType.RMDIR, (w) => w.string("sub"));
    await ask(PacketType.RMDIR, (w) => w.string("file.txt"));
    await ask(PacketType.READLINK, (w) => w.string("link"));
    await ask(PacketType.READLINK, (w) => w.string("file.txt"));
    await ask(PacketType.OPENDIR, (w) => w.string("file.txt"));
    await ask(PacketType.RENAME, (w) => w.string("missing").string("other"));
    await ask(PacketType.RENAME, (w) => w.string("file.txt").string("sub/inner.txt"));
    const h = (await ask(PacketType.OPEN, (w) =>
      encodeAttrs(w.string("file.txt").uint32(OpenFlags.READ), {}),
    ))!;
    await ask(PacketType.READ, (w) => w.string(h).uint64(0n).uint32(100_000));
    await ask(PacketType.READ, (w) => w.string(h).uint64(1_000_000n).uint32(10));
    await ask(PacketType.FSTAT, (w) => w.string(h));
    await ask(PacketType.CLOSE, (w) => w.string(h));
    await ask(PacketType.EXTENDED, (w) => w.string("no-such-extension@example.com"));
    return { extensions, answers };
  } finally {
    child.kill("SIGKILL");
  }
}

/**
 * Access times move as the two servers read the same folders, and the parent folder ("..", the shared /tmp)
 * changes as other tests run: neither is compared.
 */
function withoutAtime(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.filter((v) => (v as { filename?: string } | null)?.filename !== "..").map(withoutAtime);
  }
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value)) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([k]) => k !== "atime")
      .map(([k, v]) => [k, withoutAtime(v)]),
  );
}

test(
  "nsftp-server answers as OpenSSH's sftp-server does, request for request",
  { skip, timeout: 20_000 },
  async (t) => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "nssh-sftp-diff-")));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.writeFileSync(path.join(dir, "file.txt"), "some content\n".repeat(100));
    fs.chmodSync(path.join(dir, "file.txt"), 0o640);
    fs.mkdirSync(path.join(dir, "sub"));
    fs.writeFileSync(path.join(dir, "sub", "inner.txt"), "inner\n");
    fs.symlinkSync("file.txt", path.join(dir, "link"));
    fs.symlinkSync("nowhere", path.join(dir, "dangling"));
    fs.utimesSync(path.join(dir, "sub", "inner.txt"), 946_684_800, 946_684_800); // an old date: "%b %e  %Y"
    const theirs = await converse(OPENSSH_SFTP_SERVER, [], dir);
    const ours = await converse(process.execPath, [SERVER_JS], dir);
    assert.deepEqual(ours.extensions, theirs.extensions);
    assert.ok(theirs.answers.length > 30, "a real conversation");
    assert.equal(ours.answers.length, theirs.answers.length);
    for (let i = 0; i < theirs.answers.length; i++) {
      assert.deepEqual(withoutAtime(ours.answers[i]), withoutAtime(theirs.answers[i]), `answer ${i}`);
    }
  },
);
