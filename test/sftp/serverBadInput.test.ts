/**
 * Hand-made SFTP packets against serveSftp (in process, on MemoryFileSystem) and against the
 * `nsftp-server` program: wrong lengths, truncated bodies, unknown and over-long handles, NUL bytes in
 * paths, `..` past the root, requests before INIT, unknown types and extensions, a READ for 4 GiB, the
 * handle limit, read-only and denied requests. Each is answered with a STATUS and the session goes on;
 * only an over-long packet or one out of protocol order ends it, with a typed error (exit 11 for the
 * program), never a crash.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { PassThrough } from "node:stream";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  MAX_READ_LENGTH,
  MemoryFileSystem,
  OpenFlags,
  PacketType,
  StatusCode,
  decodeLimitsBody,
  decodeNameBody,
  decodeNameListBody,
  decodeStatvfsBody,
  encodeIdList,
  encodeAttrs,
  serveSftp,
  type SftpServerOptions,
} from "../../src/sftp/index.js";
import { SshError, SshReader, type SshWriter } from "../../src/wire/index.js";

import { RawPeer } from "../helpers/sftpServerFixtures.js";

const SERVER_JS = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../src/cli/nsftp-server.cjs",
);

function inProcess(options: SftpServerOptions = {}): {
  peer: RawPeer;
  done: Promise<void>;
  input: PassThrough;
} {
  const input = new PassThrough();
  const output = new PassThrough();
  const done = serveSftp(input, output, options);
  return { peer: new RawPeer(input, output), done, input };
}

const openFile = (p: string, flags: number) => (w: SshWriter) => encodeAttrs(w.string(p).uint32(flags), {});

describe("SFTP server: bad input is answered with a status, never a crash", () => {
  test("unknown, closed and over-long handles; NUL in paths; truncated bodies; unknown types", async () => {
    const fs = new MemoryFileSystem();
    const { peer, done, input } = inProcess({ fs, startDirectory: "/" });
    const ext = await peer.init();
    for (const name of [
      "posix-rename@openssh.com",
      "statvfs@openssh.com",
      "fstatvfs@openssh.com",
      "hardlink@openssh.com",
      "fsync@openssh.com",
      "lsetstat@openssh.com",
      "limits@openssh.com",
      "expand-path@openssh.com",
      "copy-data",
      "home-directory",
      "users-groups-by-id@openssh.com",
    ]) {
      assert.ok(ext.has(name), `VERSION advertises ${name}`);
    }
    const bogus = Buffer.from([0, 0, 0, 99]);
    await peer.status(
      peer.request(PacketType.READ, (w) => w.string(bogus).uint64(0n).uint32(10)),
      StatusCode.FAILURE,
    );
    await peer.status(
      peer.request(PacketType.CLOSE, (w) => w.string(bogus)),
      StatusCode.FAILURE,
    );
    await peer.status(
      peer.request(PacketType.FSTAT, (w) => w.string(Buffer.alloc(0))),
      StatusCode.FAILURE,
    );
    await peer.status(
      peer.request(PacketType.WRITE, (w) => w.string(bogus).uint64(0n).string("x")),
      StatusCode.FAILURE,
    );
    await peer.status(
      peer.request(PacketType.CLOSE, (w) => w.string(Buffer.alloc(300))),
      StatusCode.BAD_MESSAGE,
    );
    // A closed handle is unknown.
    const id = peer.request(PacketType.OPEN, openFile("/f", OpenFlags.WRITE | OpenFlags.CREAT));
    const h = await peer.handle(id);
    await peer.status(
      peer.request(PacketType.CLOSE, (w) => w.string(h)),
      StatusCode.OK,
    );
    await peer.status(
      peer.request(PacketType.CLOSE, (w) => w.string(h)),
      StatusCode.FAILURE,
    );
    // NUL bytes in paths, for a path request and for OPEN.
    await peer.status(
      peer.request(PacketType.STAT, (w) => w.string("/f\0/etc/passwd")),
      StatusCode.BAD_MESSAGE,
    );
    await peer.status(
      peer.request(PacketType.OPEN, openFile("/f\0x", OpenFlags.READ)),
      StatusCode.BAD_MESSAGE,
    );
    await peer.status(
      peer.request(PacketType.SYMLINK, (w) => w.string("a\0b").string("/l")),
      StatusCode.BAD_MESSAGE,
    );
    // Truncated bodies: OPEN without its pflags, READ without a length, RENAME with one path.
    await peer.status(
      peer.request(PacketType.OPEN, (w) => w.string("/f")),
      StatusCode.BAD_MESSAGE,
    );
    await peer.status(
      peer.request(PacketType.READ, (w) => w.string(h).uint64(0n)),
      StatusCode.BAD_MESSAGE,
    );
    await peer.status(
      peer.request(PacketType.RENAME, (w) => w.string("/f")),
      StatusCode.BAD_MESSAGE,
    );
    // A string length pointing past the packet's end.
    await peer.status(
      peer.request(PacketType.STAT, (w) => w.uint32(0xfffffff0).raw(Buffer.from("/f"))),
      StatusCode.BAD_MESSAGE,
    );
    // A packet too short to hold an id.
    peer.raw(Buffer.from([0, 0, 0, 2, PacketType.STAT, 0]));
    await peer.status(0, StatusCode.BAD_MESSAGE);
    // Unknown packet type and unknown extension.
    await peer.status(peer.request(99), StatusCode.OP_UNSUPPORTED);
    await peer.status(
      peer.request(PacketType.EXTENDED, (w) => w.string("nope@example.com")),
      StatusCode.OP_UNSUPPORTED,
    );
    // Missing files, directories that are not empty, and still serving after all of that.
    await peer.status(
      peer.request(PacketType.STAT, (w) => w.string("/missing")),
      StatusCode.NO_SUCH_FILE,
    );
    await peer.status(
      peer.request(PacketType.REMOVE, (w) => w.string("/missing")),
      StatusCode.NO_SUCH_FILE,
    );
    await peer.status(
      peer.request(PacketType.OPENDIR, (w) => w.string("/f")),
      StatusCode.NO_SUCH_FILE,
    );
    const rp = peer.request(PacketType.REALPATH, (w) => w.string("/a/../f"));
    const name = await peer.reply();
    assert.equal(name.type, PacketType.NAME);
    const nr = new SshReader(name.payload);
    assert.equal(nr.uint32(), rp);
    assert.equal(decodeNameBody(nr)[0]!.filename, "/f");
    input.end();
    await done;
  });

  test("a READ for 4 GiB answers at most the cap; READs are answered in request order", async () => {
    const fs = new MemoryFileSystem();
    const { peer, done, input } = inProcess({ fs });
    await peer.init();
    const w = peer.request(
      PacketType.OPEN,
      openFile("/big", OpenFlags.WRITE | OpenFlags.READ | OpenFlags.CREAT),
    );
    const h = await peer.handle(w);
    const content = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7) & 0xff;
    for (let off = 0; off < content.length; off += 65536) {
      const id = peer.request(PacketType.WRITE, (x) =>
        x
          .string(h)
          .uint64(BigInt(off))
          .string(content.subarray(off, off + 65536)),
      );
      await peer.status(id, StatusCode.OK);
    }
    const big = peer.request(PacketType.READ, (x) => x.string(h).uint64(0n).uint32(0xffffffff));
    const data = await peer.reply();
    assert.equal(data.type, PacketType.DATA);
    const dr = new SshReader(data.payload);
    assert.equal(dr.uint32(), big);
    assert.equal(dr.string(1024 * 1024).length, MAX_READ_LENGTH);
    // 64 pipelined READs in reverse offset order: replies come in the order of the requests.
    const ids: number[] = [];
    for (let i = 63; i >= 0; i--)
      ids.push(
        peer.request(PacketType.READ, (x) =>
          x
            .string(h)
            .uint64(BigInt(i * 16384))
            .uint32(16384),
        ),
      );
    for (let k = 0; k < 64; k++) {
      const p = await peer.reply();
      const r = new SshReader(p.payload);
      assert.equal(r.uint32(), ids[k]);
      const off = (63 - k) * 16384;
      assert.deepEqual(r.string(), content.subarray(off, off + 16384));
    }
    await peer.status(
      peer.request(PacketType.READ, (x) =>
        x
          .string(h)
          .uint64(1n << 40n)
          .uint32(10),
      ),
      StatusCode.EOF,
    );
    input.end();
    await done;
  });

  test("handles are bounded per session", async () => {
    const { peer, done, input } = inProcess({ fs: new MemoryFileSystem(), maxHandles: 8 });
    await peer.init();
    const handles: Buffer[] = [];
    for (let i = 0; i < 8; i++) {
      handles.push(
        await peer.handle(
          peer.request(PacketType.OPEN, openFile(`/f${i}`, OpenFlags.WRITE | OpenFlags.CREAT)),
        ),
      );
    }
    assert.match(
      await peer.status(
        peer.request(PacketType.OPEN, openFile("/x", OpenFlags.WRITE | OpenFlags.CREAT)),
        StatusCode.FAILURE,
      ),
      /Too many open handles/,
    );
    await peer.status(
      peer.request(PacketType.OPENDIR, (w) => w.string("/")),
      StatusCode.FAILURE,
    );
    await peer.status(
      peer.request(PacketType.CLOSE, (w) => w.string(handles[0]!)),
      StatusCode.OK,
    );
    await peer.handle(peer.request(PacketType.OPENDIR, (w) => w.string("/")));
    input.end();
    await done;
  });

  test("`..` never leaves the root; read-only and denied requests are refused", async () => {
    const fs = new MemoryFileSystem();
    await fs.mkdir("/jail", 0o755);
    await fs.mkdir("/secret", 0o700);
    const { peer, done, input } = inProcess({
      fs,
      root: "/jail",
      readOnly: true,
      deniedRequests: ["readdir"],
    });
    await peer.init();
    await peer.status(
      peer.request(PacketType.STAT, (w) => w.string("../../secret")),
      StatusCode.NO_SUCH_FILE,
    );
    await peer.status(
      peer.request(PacketType.OPENDIR, (w) => w.string("/../secret")),
      StatusCode.NO_SUCH_FILE,
    );
    const rp = peer.request(PacketType.REALPATH, (w) => w.string("../../.."));
    const name = await peer.reply();
    const nr = new SshReader(name.payload);
    assert.equal(nr.uint32(), rp);
    assert.equal(decodeNameBody(nr)[0]!.filename, "/");
    // Read-only: every write refused, before it reaches the filesystem.
    await peer.status(
      peer.request(PacketType.OPEN, openFile("/new", OpenFlags.WRITE | OpenFlags.CREAT)),
      StatusCode.PERMISSION_DENIED,
    );
    await peer.status(
      peer.request(PacketType.OPEN, openFile("/new", OpenFlags.READ | OpenFlags.TRUNC)),
      StatusCode.PERMISSION_DENIED,
    );
    await peer.status(
      peer.request(PacketType.MKDIR, (w) => encodeAttrs(w.string("/d"), {})),
      StatusCode.PERMISSION_DENIED,
    );
    await peer.status(
      peer.request(PacketType.SETSTAT, (w) => encodeAttrs(w.string("/"), { mode: 0o777 })),
      StatusCode.PERMISSION_DENIED,
    );
    await peer.status(
      peer.request(PacketType.REMOVE, (w) => w.string("/x")),
      StatusCode.PERMISSION_DENIED,
    );
    await peer.status(
      peer.request(PacketType.SYMLINK, (w) => w.string("/x").string("/y")),
      StatusCode.PERMISSION_DENIED,
    );
    await peer.status(
      peer.request(PacketType.EXTENDED, (w) =>
        w.string("posix-rename@openssh.com").string("/a").string("/b"),
      ),
      StatusCode.PERMISSION_DENIED,
    );
    await peer.status(
      peer.request(PacketType.EXTENDED, (w) => w.string("hardlink@openssh.com").string("/a").string("/b")),
      StatusCode.PERMISSION_DENIED,
    );
    const dh = await peer.handle(peer.request(PacketType.OPENDIR, (w) => w.string("/")));
    await peer.status(
      peer.request(PacketType.READDIR, (w) => w.string(dh)),
      StatusCode.PERMISSION_DENIED,
    );
    input.end();
    await done;
  });

  test("limits, statvfs, home-directory and users-groups-by-id in OpenSSH's reply formats", async () => {
    const { peer, done, input } = inProcess({
      fs: new MemoryFileSystem({
        users: { 7: "seven" },
        groups: { 8: "eight" },
        homes: { bob: "/home/bob" },
      }),
      userName: "me",
      homeDirectory: "/home/me",
    });
    await peer.init();
    const extReply = async (id: number): Promise<SshReader> => {
      const p = await peer.reply();
      assert.equal(p.type, PacketType.EXTENDED_REPLY, `type ${p.type}`);
      const r = new SshReader(p.payload);
      assert.equal(r.uint32(), id);
      return r;
    };
    const limits = decodeLimitsBody(
      await extReply(peer.request(PacketType.EXTENDED, (w) => w.string("limits@openssh.com"))),
    );
    assert.deepEqual(limits, {
      maxPacketLength: 262144,
      maxReadLength: 261120,
      maxWriteLength: 261120,
      maxOpenHandles: 512,
    });
    const vfs = decodeStatvfsBody(
      await extReply(peer.request(PacketType.EXTENDED, (w) => w.string("statvfs@openssh.com").string("/"))),
    );
    assert.equal(vfs.bsize, 4096);
    const ids = await extReply(
      peer.request(PacketType.EXTENDED, (w) =>
        w
          .string("users-groups-by-id@openssh.com")
          .string(encodeIdList([7, 9]))
          .string(encodeIdList([8])),
      ),
    );
    assert.deepEqual(decodeNameListBody(ids.string()), ["seven", ""]);
    assert.deepEqual(decodeNameListBody(ids.string()), ["eight"]);
    const homeOf = async (user: string): Promise<string> => {
      const id = peer.request(PacketType.EXTENDED, (w) => w.string("home-directory").string(user));
      const p = await peer.reply();
      assert.equal(p.type, PacketType.NAME);
      const r = new SshReader(p.payload);
      assert.equal(r.uint32(), id);
      return decodeNameBody(r)[0]!.filename;
    };
    assert.equal(await homeOf("me"), "/home/me");
    assert.equal(await homeOf("bob"), "/home/bob");
    await peer.status(
      peer.request(PacketType.EXTENDED, (w) => w.string("home-directory").string("nobody")),
      StatusCode.NO_SUCH_FILE,
    );
    input.end();
    await done;
  });

  test("protocol-breaking input ends the session with a typed error", async () => {
    const before = inProcess({ fs: new MemoryFileSystem() });
    before.peer.request(PacketType.STAT, (w) => w.string("/"));
    await assert.rejects(before.done, (e: SshError) => e instanceof SshError && e.code === "PROTOCOL");
    const big = inProcess({ fs: new MemoryFileSystem() });
    await big.peer.init();
    big.peer.raw(Buffer.from([0x00, 0x04, 0x00, 0x01, PacketType.WRITE]));
    await assert.rejects(big.done, (e: SshError) => e instanceof SshError && e.code === "PACKET_TOO_LARGE");
    const empty = inProcess({ fs: new MemoryFileSystem() });
    await empty.peer.init();
    empty.peer.raw(Buffer.alloc(4));
    await assert.rejects(empty.done, (e: SshError) => e instanceof SshError && e.code === "MALFORMED");
  });

  test("nsftp-server: bad packets get a status; an over-long packet ends it with exit status 11", async (t) => {
    const child = spawn(process.execPath, [SERVER_JS, "-R"], { stdio: ["pipe", "pipe", "pipe"] });
    t.after(() => child.kill("SIGKILL"));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const peer = new RawPeer(child.stdin, child.stdout);
    await peer.init();
    await peer.status(
      peer.request(PacketType.STAT, (w) => w.string("/etc/passwd\0x")),
      StatusCode.BAD_MESSAGE,
    );
    await peer.status(
      peer.request(PacketType.READ, (w) => w.string("zz").uint64(0n).uint32(1)),
      StatusCode.FAILURE,
    );
    await peer.status(
      peer.request(PacketType.OPEN, openFile("/tmp/nsftp-ro", OpenFlags.WRITE | OpenFlags.CREAT)),
      StatusCode.PERMISSION_DENIED,
    );
    peer.raw(Buffer.from([0x7f, 0xff, 0xff, 0xff, PacketType.WRITE]));
    assert.equal(await exited, 11);
  });
});
