/**
 * Channels between our client and server connections over TCP: open, echo, EOF and CLOSE in order,
 * many channels at once, id reuse only after both CLOSEs, stderr, channel requests answered in order,
 * open failures with their reason codes, the channel limit, and cancelling an open.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { after, describe, test } from "node:test";
import {
  Channel,
  ChannelOpenError,
  ChannelOpenFailure,
  Connection,
  type ConnectionOptions,
} from "../../src/connection/index.js";
import { Msg, SshError } from "../../src/wire/index.js";
import {
  collect,
  connectedConnections,
  connectedTransports,
  recordMessages,
  until,
  type ConnectedConnections,
} from "../helpers/connectedTransports.js";

const pairs: Array<{ close(): void }> = [];
after(() => pairs.forEach((p) => p.close()));

/** A pair whose server echoes "echo" channels and keeps "hold" channels open until the client closes. */
async function pair(
  options: { client?: ConnectionOptions; server?: ConnectionOptions } = {},
): Promise<ConnectedConnections & { held: Channel[] }> {
  const p = await connectedConnections(options);
  pairs.push(p);
  const held: Channel[] = [];
  p.serverConnection.setChannelOpenHandler("echo", (req) => {
    const ch = req.accept();
    ch.pipe(ch);
  });
  p.serverConnection.setChannelOpenHandler("hold", (req) => held.push(req.accept()));
  return { ...p, held };
}

describe("channels", { concurrency: 4 }, () => {
  test("open, echo, EOF and close; the ids are freed on both sides", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("echo");
    assert.equal(ch.type, "echo");
    assert.equal(ch.localId, 0);
    const eof = once(ch, "eof");
    ch.write("hello, ");
    ch.end("world");
    assert.equal((await collect(ch)).toString(), "hello, world");
    await eof;
    await until(() => ch.closed, "channel closed");
    await until(() => p.clientConnection.channelCount === 0, "client ids freed");
    await until(() => p.serverConnection.channelCount === 0, "server ids freed");
  });

  test("EOF comes after the data and CLOSE once, last, on both sides", async () => {
    let serverLog!: { received: number[]; sent: number[] };
    let clientLog!: { received: number[]; sent: number[] };
    let server!: Connection;
    let client!: Connection;
    const p = await connectedTransports({
      onServerAuthenticated: (t) => {
        serverLog = recordMessages(t);
        server = new Connection(t);
      },
      onClientAuthenticated: (t) => {
        clientLog = recordMessages(t);
        client = new Connection(t);
      },
    });
    pairs.push(p);
    server.setChannelOpenHandler("echo", (req) => {
      const ch = req.accept();
      ch.pipe(ch);
    });
    const ch = await client.openChannel("echo");
    for (let i = 0; i < 5; i++) ch.write(randomBytes(1000));
    ch.end();
    assert.equal((await collect(ch)).length, 5000);
    await until(() => client.channelCount === 0 && server.channelCount === 0, "both CLOSEs");
    const channelTypes = (types: number[]): number[] => types.filter((t) => t >= 90);
    for (const types of [clientLog.sent, serverLog.sent, clientLog.received, serverLog.received]) {
      const t = channelTypes(types);
      const eof = t.indexOf(Msg.CHANNEL_EOF);
      assert.ok(eof > 0, "EOF sent");
      assert.equal(t.lastIndexOf(Msg.CHANNEL_EOF), eof, "one EOF");
      assert.equal(t.indexOf(Msg.CHANNEL_CLOSE), t.length - 1, "one CLOSE, last");
      assert.ok(!t.slice(eof).includes(Msg.CHANNEL_DATA), "no data after EOF");
      assert.equal(t.filter((x) => x === Msg.CHANNEL_DATA).length > 0, true);
    }
  });

  test("close() sends EOF then CLOSE; destroy() sends CLOSE alone", async () => {
    let clientLog!: { received: number[]; sent: number[] };
    let client!: Connection;
    let server!: Connection;
    const p = await connectedTransports({
      onServerAuthenticated: (t) => (server = new Connection(t)),
      onClientAuthenticated: (t) => {
        clientLog = recordMessages(t);
        client = new Connection(t);
      },
    });
    pairs.push(p);
    const serverSide: Channel[] = [];
    server.setChannelOpenHandler("hold", (req) => serverSide.push(req.accept()));
    const a = await client.openChannel("hold");
    a.write("x");
    a.close();
    await once(a, "close");
    await until(() => client.channelCount === 0, "a freed");
    const sentA = clientLog.sent.filter((t) => t >= 90);
    assert.deepEqual(sentA, [Msg.CHANNEL_OPEN, Msg.CHANNEL_DATA, Msg.CHANNEL_EOF, Msg.CHANNEL_CLOSE]);
    // The server's stream saw the data, then its end, then closed once read.
    assert.equal((await collect(serverSide[0]!)).toString(), "x");
    clientLog.sent.length = 0;
    const b = await client.openChannel("hold");
    b.destroy();
    await until(() => client.channelCount === 0, "b freed");
    assert.deepEqual(
      clientLog.sent.filter((t) => t >= 90),
      [Msg.CHANNEL_OPEN, Msg.CHANNEL_CLOSE],
    );
    await until(() => serverSide[1]!.closed, "server side closed");
  });

  test("a channel id is reused only after both sides have sent CLOSE", async () => {
    let held: Array<() => void> = [];
    let holdClose = false;
    let client!: Connection;
    let server!: Connection;
    const p = await connectedTransports({
      onServerAuthenticated: (t) => {
        // Hold the server's processing of CHANNEL_CLOSE, so its answering CLOSE is delayed.
        const set = t.setMessageHandler.bind(t);
        t.setMessageHandler = (h) =>
          set((type, payload) => {
            if (type === Msg.CHANNEL_CLOSE && holdClose) held.push(() => h(type, payload));
            else h(type, payload);
          });
        server = new Connection(t);
      },
      onClientAuthenticated: (t) => (client = new Connection(t)),
    });
    pairs.push(p);
    server.setChannelOpenHandler("hold", (req) => void req.accept());
    const a = await client.openChannel("hold");
    assert.equal(a.localId, 0);
    holdClose = true;
    a.destroy();
    await until(() => held.length === 1, "CLOSE held at the server");
    assert.equal(client.channelCount, 1, "id 0 stays reserved after our CLOSE alone");
    const b = await client.openChannel("hold");
    assert.equal(b.localId, 1);
    holdClose = false;
    held.forEach((f) => f());
    held = [];
    await until(() => client.channelCount === 1, "id 0 freed by the server's CLOSE");
    const c = await client.openChannel("hold");
    assert.equal(c.localId, 0, "id 0 reused");
    assert.equal(server.channelCount, 2);
  });

  test("60 channels at once each echo their own data", async () => {
    const p = await pair();
    const results = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const ch = await p.clientConnection.openChannel("echo");
        const data = randomBytes(64 * 1024 + i * 997);
        const sent = createHash("sha256").update(data).digest("hex");
        const echoed = collect(ch);
        for (let off = 0; off < data.length; off += 10_000) ch.write(data.subarray(off, off + 10_000));
        ch.end();
        const got = createHash("sha256")
          .update(await echoed)
          .digest("hex");
        return { sent, got, id: ch.localId };
      }),
    );
    for (const r of results) assert.equal(r.got, r.sent);
    assert.equal(new Set(results.map((r) => r.id)).size, 60);
    await until(
      () => p.clientConnection.channelCount === 0 && p.serverConnection.channelCount === 0,
      "all freed",
    );
  });

  test("stderr travels as extended data type 1, both ways", async () => {
    const p = await pair();
    const serverStderr: Promise<Buffer>[] = [];
    p.serverConnection.setChannelOpenHandler("run", (req) => {
      const ch = req.accept();
      serverStderr.push(collect(ch.stderr));
      ch.resume();
      ch.stderrWriter.write("warning: something\n");
      ch.write("output\n");
      ch.end();
    });
    const ch = await p.clientConnection.openChannel("run");
    const err = collect(ch.stderr);
    ch.stderrWriter.end("client stderr");
    ch.end();
    assert.equal((await collect(ch)).toString(), "output\n");
    assert.equal((await err).toString(), "warning: something\n");
    assert.equal((await serverStderr[0]!).toString(), "client stderr");
  });

  test("stderr stays readable after the channel closed; a destroyed stderr discards without stalling", async () => {
    const p = await pair();
    p.serverConnection.setChannelOpenHandler("noisy", (req) => {
      const ch = req.accept();
      ch.resume();
      ch.stderrWriter.write(Buffer.alloc(3 * 1024 * 1024, 0x65)); // more than the 2 MiB window
      ch.write("out");
      ch.close();
    });
    // Read stdout to the end first, stderr afterwards.
    const a = await p.clientConnection.openChannel("noisy");
    const errA = new Promise<Buffer>((resolve) => setTimeout(() => resolve(collect(a.stderr)), 50));
    a.stderr.pause();
    const outA = collect(a);
    // stdout cannot finish while stderr holds the window: read stderr late, then both complete.
    assert.equal((await errA).length, 3 * 1024 * 1024);
    assert.equal((await outA).toString(), "out");
    await until(() => a.closed, "a closed");
    // Nobody wants stderr: destroying it lets stdout through.
    const b = await p.clientConnection.openChannel("noisy");
    b.stderr.destroy();
    assert.equal((await collect(b)).toString(), "out");
    await until(() => p.clientConnection.channelCount === 0, "ids freed");
  });

  test("channel requests: replies in order whatever order they are decided in", async () => {
    const p = await pair();
    p.serverConnection.setChannelOpenHandler("req", (req) => {
      const ch = req.accept();
      ch.on("request", (name: string, wantReply: boolean, data: Buffer, reply: (ok: boolean) => void) => {
        if (name === "sync") return reply(data.toString() === "yes");
        if (!wantReply) return;
        const i = Number(name.slice(1));
        setTimeout(() => reply(i % 2 === 0), (10 - i) * 5);
      });
    });
    const ch = await p.clientConnection.openChannel("req");
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => ch.request(`r${i}`, undefined, true)),
    );
    assert.deepEqual(
      replies,
      Array.from({ length: 10 }, (_, i) => i % 2 === 0),
    );
    assert.equal(await ch.request("sync", Buffer.from("yes"), true), true);
    assert.equal(await ch.request("sync", Buffer.from("no"), true), false);
    assert.equal(await ch.request("no-reply", undefined, false), true);
    // A request nobody listens for is refused.
    const other = await p.clientConnection.openChannel("echo");
    assert.equal(await other.request("env", Buffer.alloc(0), true), false);
    // A request pending when the channel closes fails with CHANNEL_CLOSED.
    const pending = ch.request("r9", undefined, true);
    ch.destroy();
    await assert.rejects(pending, (e: SshError) => e.code === "CHANNEL_CLOSED");
    await assert.rejects(ch.request("x", undefined, true), (e: SshError) => e.code === "CHANNEL_CLOSED");
  });

  test("open failures carry the reason code and description (RFC 4254 §5.1)", async () => {
    const p = await pair();
    for (const reason of [1, 2, 4]) {
      p.serverConnection.setChannelOpenHandler(`refuse${reason}`, (req) =>
        req.reject(reason, `no ${reason}`),
      );
    }
    p.serverConnection.setChannelOpenHandler("later", (req) => {
      setTimeout(() => req.reject(ChannelOpenFailure.CONNECT_FAILED, "Connection refused"), 20);
    });
    p.serverConnection.setChannelOpenHandler("throws", () => {
      throw new Error("handler bug");
    });
    for (const reason of [1, 2, 4]) {
      await assert.rejects(p.clientConnection.openChannel(`refuse${reason}`), (e: ChannelOpenError) => {
        assert.ok(e instanceof ChannelOpenError);
        assert.equal(e.code, "CHANNEL_OPEN_FAILED");
        assert.equal(e.reason, reason);
        assert.equal(e.description, `no ${reason}`);
        return true;
      });
    }
    await assert.rejects(p.clientConnection.openChannel("no-such-type"), { reason: 3 });
    await assert.rejects(p.clientConnection.openChannel("later"), {
      reason: 2,
      message: "open failed: connect failed: Connection refused",
    });
    await assert.rejects(p.clientConnection.openChannel("throws"), { reason: 2 });
    assert.ok(
      p.connectionLogs.server.some((l) => l.includes("channel open handler for throws failed: handler bug")),
    );
    assert.equal(p.clientConnection.channelCount, 0);
    assert.equal(p.serverConnection.channelCount, 0);
  });

  test("maxChannels bounds open channels: the peer's extra opens get RESOURCE_SHORTAGE", async () => {
    const p = await pair({ server: { maxChannels: 3 }, client: { maxChannels: 5 } });
    const open = await Promise.all([1, 2, 3].map(() => p.clientConnection.openChannel("hold")));
    await assert.rejects(p.clientConnection.openChannel("hold"), {
      reason: ChannelOpenFailure.RESOURCE_SHORTAGE,
    });
    open[0]!.destroy();
    await until(
      () => p.serverConnection.channelCount === 2 && p.clientConnection.channelCount === 2,
      "ids freed on both sides",
    );
    const again = await p.clientConnection.openChannel("hold");
    assert.equal(again.localId, 0);
  });

  test("our own maxChannels refuses locally", async () => {
    const p = await pair({ client: { maxChannels: 2 } });
    await p.clientConnection.openChannel("hold");
    await p.clientConnection.openChannel("hold");
    await assert.rejects(p.clientConnection.openChannel("hold"), {
      code: "CHANNEL_OPEN_FAILED",
      reason: ChannelOpenFailure.RESOURCE_SHORTAGE,
    });
  });

  test("an aborted open rejects, and the channel confirmed later is closed at once", async () => {
    const p = await pair();
    let accepted: Channel | undefined;
    p.serverConnection.setChannelOpenHandler("slow", (req) => {
      setTimeout(() => (accepted = req.accept()), 50);
    });
    const ac = new AbortController();
    const opening = p.clientConnection.openChannel("slow", undefined, { signal: ac.signal });
    setTimeout(() => ac.abort(), 5);
    await assert.rejects(opening, { code: "ABORTED" });
    await until(() => accepted !== undefined, "server accepted");
    await until(() => accepted!.closed, "late channel closed");
    await until(
      () => p.clientConnection.channelCount === 0 && p.serverConnection.channelCount === 0,
      "freed",
    );
    await assert.rejects(p.clientConnection.openChannel("slow", undefined, { signal: AbortSignal.abort() }), {
      code: "ABORTED",
    });
  });

  test("the connection closing destroys its channels and fails pending opens", async () => {
    const p = await pair();
    p.serverConnection.setChannelOpenHandler("never", () => {});
    const ch = await p.clientConnection.openChannel("hold");
    const pending = p.clientConnection.openChannel("never");
    const closed = once(p.clientConnection, "close");
    p.clientConnection.close();
    await assert.rejects(pending, { code: "CONNECTION_LOST" });
    assert.deepEqual(await closed, [null]);
    assert.equal(ch.destroyed, true);
    await assert.rejects(p.clientConnection.openChannel("hold"), { code: "CONNECTION_LOST" });
    const [serverErr] = (await once(p.serverConnection, "close")) as [SshError];
    assert.equal(serverErr.code, "DISCONNECTED");
    await until(() => p.held[0]?.destroyed === true, "server channel destroyed");
  });
});
