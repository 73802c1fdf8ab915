/**
 * Global requests (RFC 4254 §4) between our connections: keepalive@openssh.com refused as OpenSSH does,
 * replies in request order whatever order the handler decides them in, the forwarding requests decoded,
 * and the open data of the forwarding channel types (RFC 4254 §6.3.2, §7.2; OpenSSH PROTOCOL §2.4)
 * decoded into `info`.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  decodeChannelOpenInfo,
  decodeGlobalRequestInfo,
  encodeChannelOpenInfo,
  encodeGlobalRequestInfo,
  encodeTcpipForwardReply,
  type ChannelOpenInfo,
  type GlobalRequestInfo,
} from "../../src/connection/index.js";
import { SshError, SshWriter } from "../../src/wire/index.js";
import { connectedConnections, type ConnectedConnections } from "../helpers/connectedTransports.js";

const pairs: Array<{ close(): void }> = [];
after(() => pairs.forEach((p) => p.close()));

async function pair(): Promise<ConnectedConnections> {
  const p = await connectedConnections();
  pairs.push(p);
  return p;
}

describe("global requests", { concurrency: 4 }, () => {
  test("keepalive@openssh.com and unknown requests are refused by default", async () => {
    const p = await pair();
    assert.deepEqual(await p.clientConnection.globalRequest("keepalive@openssh.com"), {
      success: false,
      data: Buffer.alloc(0),
    });
    assert.equal((await p.serverConnection.globalRequest("keepalive@openssh.com")).success, false);
    assert.equal((await p.clientConnection.globalRequest("whatever@example.com")).success, false);
    // Without want-reply nothing comes back, and nothing is waiting for it.
    assert.deepEqual(await p.clientConnection.globalRequest("whatever@example.com", undefined, false), {
      success: true,
      data: Buffer.alloc(0),
    });
    assert.equal((await p.clientConnection.globalRequest("keepalive@openssh.com")).success, false);
  });

  test("keepalive is answered even with a handler that accepts everything", async () => {
    const p = await pair();
    const seen: string[] = [];
    p.serverConnection.setGlobalRequestHandler((name) => {
      seen.push(name);
      return true;
    });
    assert.equal((await p.clientConnection.globalRequest("keepalive@openssh.com")).success, false);
    assert.equal((await p.clientConnection.globalRequest("other")).success, true);
    assert.deepEqual(seen, ["other"]);
  });

  test("replies come in request order whatever order they are decided in", async () => {
    const p = await pair();
    p.serverConnection.setGlobalRequestHandler(async (name, data) => {
      const i = Number(name.slice(1));
      await new Promise((r) => setTimeout(r, (12 - i) * 4));
      if (i % 3 === 0) throw new Error(`handler failure ${i}`);
      return i % 2 === 0 ? Buffer.concat([Buffer.from("ok:"), data]) : false;
    });
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        i === 5
          ? p.clientConnection.globalRequest("keepalive@openssh.com")
          : p.clientConnection.globalRequest(`r${i}`, Buffer.from(String(i))),
      ),
    );
    replies.forEach((reply, i) => {
      if (i === 5 || i % 3 === 0 || i % 2 === 1)
        assert.deepEqual(reply, { success: false, data: Buffer.alloc(0) });
      else assert.deepEqual(reply, { success: true, data: Buffer.from(`ok:${i}`) });
    });
    assert.ok(p.connectionLogs.server.some((l) => l.includes("handler failure 3")));
  });

  test("tcpip-forward and streamlocal-forward are decoded; the bound port comes back", async () => {
    const p = await pair();
    const infos: Array<GlobalRequestInfo | undefined> = [];
    p.serverConnection.setGlobalRequestHandler((name, _data, wantReply, info) => {
      infos.push(info);
      if (name === "tcpip-forward") return wantReply ? encodeTcpipForwardReply(43210) : true;
      return true;
    });
    const fwd = encodeGlobalRequestInfo({ kind: "tcpip-forward", address: "localhost", port: 0 });
    const reply = await p.clientConnection.globalRequest("tcpip-forward", fwd);
    assert.equal(reply.success, true);
    assert.equal(reply.data.readUInt32BE(0), 43210);
    const cancel = encodeGlobalRequestInfo({ kind: "cancel-tcpip-forward", address: "", port: 8080 });
    await p.clientConnection.globalRequest("cancel-tcpip-forward", cancel);
    const sl = encodeGlobalRequestInfo({ kind: "streamlocal-forward@openssh.com", socketPath: "/tmp/s" });
    await p.clientConnection.globalRequest("streamlocal-forward@openssh.com", sl);
    assert.deepEqual(infos, [
      { kind: "tcpip-forward", address: "localhost", port: 0 },
      { kind: "cancel-tcpip-forward", address: "", port: 8080 },
      { kind: "streamlocal-forward@openssh.com", socketPath: "/tmp/s" },
    ]);
  });

  test("a malformed tcpip-forward ends the connection", async () => {
    const p = await pair();
    const bad = new SshWriter().string("localhost").uint32(70000).toBuffer();
    await assert.rejects(p.clientConnection.globalRequest("tcpip-forward", Buffer.from(bad)), {
      code: "DISCONNECTED",
    });
    const err = (await p.closed.server) as SshError;
    assert.equal(err.code, "MALFORMED");
    assert.match(err.message, /port to bind 70000 is out of range/);
  });

  test("pending global requests fail when the connection closes", async () => {
    const p = await pair();
    p.serverConnection.setGlobalRequestHandler(() => new Promise<boolean>(() => {}));
    const pending = p.clientConnection.globalRequest("never");
    await new Promise((r) => setTimeout(r, 20));
    p.clientConnection.close();
    await assert.rejects(pending, { code: "CONNECTION_LOST" });
    await assert.rejects(p.clientConnection.globalRequest("late"), { code: "CONNECTION_LOST" });
  });
});

describe("channel open data of the forwarding types", { concurrency: 4 }, () => {
  const samples: ChannelOpenInfo[] = [
    {
      kind: "direct-tcpip",
      host: "db.internal",
      port: 5432,
      originatorAddress: "127.0.0.1",
      originatorPort: 50123,
    },
    {
      kind: "forwarded-tcpip",
      connectedAddress: "0.0.0.0",
      connectedPort: 8080,
      originatorAddress: "203.0.113.9",
      originatorPort: 40000,
    },
    { kind: "x11", originatorAddress: "127.0.0.1", originatorPort: 6010 },
    { kind: "direct-streamlocal@openssh.com", socketPath: "/run/app.sock" },
    { kind: "forwarded-streamlocal@openssh.com", socketPath: "/tmp/forwarded.sock" },
  ];

  test("decoded into info for the open handler", async () => {
    const p = await pair();
    const seen = new Map<string, { info: unknown; data: Buffer }>();
    for (const s of samples) {
      p.serverConnection.setChannelOpenHandler(s.kind, (req) => {
        seen.set(req.type, { info: req.info, data: req.data });
        req.accept();
      });
    }
    p.serverConnection.setChannelOpenHandler("custom", (req) => {
      seen.set(req.type, { info: req.info, data: req.data });
      req.accept();
    });
    for (const s of samples) await p.clientConnection.openChannel(s.kind, encodeChannelOpenInfo(s));
    await p.clientConnection.openChannel("custom", Buffer.from("raw bytes"));
    for (const s of samples) assert.deepEqual(seen.get(s.kind)!.info, s);
    assert.equal(seen.get("custom")!.info, undefined);
    assert.equal(seen.get("custom")!.data.toString(), "raw bytes");
  });

  test("encode and decode are inverse; bad fields are MALFORMED", () => {
    for (const s of samples) assert.deepEqual(decodeChannelOpenInfo(s.kind, encodeChannelOpenInfo(s)), s);
    assert.equal(decodeChannelOpenInfo("session", Buffer.alloc(0)), undefined);
    const trailing = Buffer.concat([encodeChannelOpenInfo(samples[2]!), Buffer.from([0])]);
    assert.throws(() => decodeChannelOpenInfo("x11", trailing), { code: "MALFORMED" });
    const nul = new SshWriter().string("a\0b").uint32(1).string("c").uint32(2).toBuffer();
    assert.throws(() => decodeChannelOpenInfo("direct-tcpip", Buffer.from(nul)), /NUL/);
    const badUtf8 = new SshWriter()
      .string(Buffer.from([0xff, 0xfe]))
      .uint32(1)
      .toBuffer();
    assert.throws(() => decodeChannelOpenInfo("x11", Buffer.from(badUtf8)), { code: "MALFORMED" });
    assert.throws(() => decodeGlobalRequestInfo("tcpip-forward", Buffer.alloc(3)), { code: "MALFORMED" });
    assert.equal(decodeGlobalRequestInfo("keepalive@openssh.com", Buffer.alloc(0)), undefined);
  });
});
