/**
 * SftpClient against a scripted SFTP server on in-memory streams, for what a real server rarely does:
 * READ replies that are short and that overtake each other (get must still write the exact file, in
 * order; a read stream must not skip the rest of a short block), a packet longer than the bound (typed MALFORMED error, no huge allocation), a reply to a request
 * never sent (PROTOCOL), and a STATUS carrying its code into SftpError.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { SftpClient, SftpError } from "../../src/sftp/client.js";
import { PacketType, StatusCode, encodePacket } from "../../src/sftp/protocol.js";
import { SshError, SshReader } from "../../src/wire/index.js";

interface Fake {
  client: SftpClient;
  /** Packets the client sent: type, id and the reader after the id. */
  onRequest: (handler: (type: number, id: number, r: SshReader) => void) => void;
  send: (b: Buffer) => void;
}

function fakeServer(): Fake {
  const toClient = new PassThrough();
  const toServer = new PassThrough();
  const client = new SftpClient(toClient, toServer);
  let handler: (type: number, id: number, r: SshReader) => void = () => {};
  let buf = Buffer.alloc(0);
  toServer.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      const body = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      const type = body[0]!;
      if (type === PacketType.INIT) {
        toClient.write(encodePacket(PacketType.VERSION, (w) => w.uint32(3)));
        continue;
      }
      const r = new SshReader(body.subarray(1));
      handler(type, r.uint32(), r);
    }
  });
  return { client, onRequest: (h) => (handler = h), send: (b) => toClient.write(b) };
}

test("get writes the exact file from short READ replies that overtake each other", async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const fake = fakeServer();
  const held: Array<() => void> = [];
  fake.onRequest((type, id, r) => {
    if (type === PacketType.OPEN)
      return fake.send(encodePacket(PacketType.HANDLE, (w) => w.uint32(id).string("h")));
    if (type === PacketType.FSTAT) {
      return fake.send(
        encodePacket(PacketType.ATTRS, (w) =>
          w.uint32(id).uint32(0x5).uint64(BigInt(data.length)).uint32(0o100644),
        ),
      );
    }
    if (type === PacketType.CLOSE)
      return fake.send(encodePacket(PacketType.STATUS, (w) => w.uint32(id).uint32(0).string("").string("")));
    if (type === PacketType.READ) {
      r.string();
      const offset = Number(r.uint64());
      const length = r.uint32();
      // At most 10000 bytes a reply (short reads), and replies sent in reverse order, 8 at a time.
      const reply = (): void => {
        if (offset >= data.length) {
          fake.send(
            encodePacket(PacketType.STATUS, (w) => w.uint32(id).uint32(StatusCode.EOF).string("").string("")),
          );
        } else {
          const chunk = data.subarray(offset, offset + Math.min(length, 10_000));
          fake.send(encodePacket(PacketType.DATA, (w) => w.uint32(id).string(chunk)));
        }
      };
      held.push(reply);
      if (held.length >= 8) while (held.length) held.pop()!();
      else
        setImmediate(() => {
          while (held.length) held.pop()!();
        });
    }
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nssh-sftp-fake-"));
  try {
    const out = path.join(dir, "out.bin");
    await fake.client.get("/f", out);
    const sum = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
    assert.equal(sum(fs.readFileSync(out)), sum(data));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("createReadStream gives every byte when each READ is answered short", async () => {
  const data = randomBytes(200 * 1024 + 5);
  const fake = fakeServer();
  fake.onRequest((type, id, r) => {
    if (type === PacketType.OPEN)
      return fake.send(encodePacket(PacketType.HANDLE, (w) => w.uint32(id).string("h")));
    if (type === PacketType.CLOSE)
      return fake.send(encodePacket(PacketType.STATUS, (w) => w.uint32(id).uint32(0).string("").string("")));
    if (type === PacketType.READ) {
      r.string();
      const offset = Number(r.uint64());
      const length = r.uint32();
      // At most 10000 bytes a reply: a 32 KiB block takes four READs.
      if (offset >= data.length) {
        return fake.send(
          encodePacket(PacketType.STATUS, (w) => w.uint32(id).uint32(StatusCode.EOF).string("").string("")),
        );
      }
      const chunk = data.subarray(offset, offset + Math.min(length, 10_000));
      fake.send(encodePacket(PacketType.DATA, (w) => w.uint32(id).string(chunk)));
    }
  });
  const parts: Buffer[] = [];
  for await (const chunk of fake.client.createReadStream("/f")) parts.push(chunk as Buffer);
  assert.ok(Buffer.concat(parts).equals(data));
});

test("a packet longer than the bound fails every request with MALFORMED", async () => {
  const fake = fakeServer();
  fake.onRequest(() => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(0x7fffffff);
    fake.send(head);
  });
  await assert.rejects(
    fake.client.stat("/x"),
    (err: unknown) => err instanceof SshError && err.code === "MALFORMED",
  );
  await assert.rejects(fake.client.stat("/y"), SshError);
});

test("a reply to a request never sent is a PROTOCOL error", async () => {
  const fake = fakeServer();
  fake.onRequest((_type, id) =>
    fake.send(encodePacket(PacketType.STATUS, (w) => w.uint32(id + 1000).uint32(0))),
  );
  await assert.rejects(
    fake.client.mkdir("/x"),
    (err: unknown) => err instanceof SshError && err.code === "PROTOCOL",
  );
});

test("a STATUS becomes an SftpError with its code; a v3 STATUS without a message still works", async () => {
  const fake = fakeServer();
  fake.onRequest((_type, id) =>
    fake.send(encodePacket(PacketType.STATUS, (w) => w.uint32(id).uint32(StatusCode.PERMISSION_DENIED))),
  );
  await assert.rejects(fake.client.unlink("/secret"), (err: unknown) => {
    assert.ok(err instanceof SftpError);
    assert.equal(err.code, "PERMISSION_DENIED");
    assert.equal(err.path, "/secret");
    assert.equal(err.message, "Permission denied");
    return true;
  });
});
