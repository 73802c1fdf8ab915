/**
 * A peer that breaks the connection protocol is disconnected with PROTOCOL_ERROR (RFC 4253 §11.1
 * reason 2): the connection's message handler throws and the transport ends the connection. Each
 * violation is forged with a raw transport.send() from our client, past its own Connection.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { type Channel, encodeChannelOpenInfo } from "../../src/connection/index.js";
import { DisconnectReason, Msg, SshError, SshWriter } from "../../src/wire/index.js";
import { connectedConnections, type ConnectedConnections } from "../helpers/connectedTransports.js";

const pairs: Array<{ close(): void }> = [];
after(() => pairs.forEach((p) => p.close()));

async function pair(): Promise<ConnectedConnections & { serverChannels: Channel[] }> {
  const p = await connectedConnections();
  pairs.push(p);
  const serverChannels: Channel[] = [];
  p.serverConnection.setChannelOpenHandler("small", (req) => {
    serverChannels.push(req.accept({ window: 1000, maxPacket: 32768 }));
  });
  p.serverConnection.setChannelOpenHandler("tiny-packets", (req) => {
    serverChannels.push(req.accept({ window: 100_000, maxPacket: 1000 }));
  });
  p.serverConnection.setChannelOpenHandler("session", (req) => void req.accept());
  p.serverConnection.setChannelOpenHandler("direct-tcpip", (req) => void req.accept());
  return { ...p, serverChannels };
}

function raw(p: ConnectedConnections, build: (w: SshWriter) => SshWriter): void {
  p.client.send(Buffer.from(build(new SshWriter()).toBuffer()));
}

/** The server ends the connection with a PROTOCOL error matching `message`; the client hears reason 2. */
async function assertDisconnected(
  p: ConnectedConnections,
  message: RegExp,
  code = "PROTOCOL",
): Promise<void> {
  const serverErr = (await p.closed.server) as SshError;
  assert.equal(serverErr.code, code);
  assert.match(serverErr.message, message);
  assert.equal(serverErr.disconnectReason, DisconnectReason.PROTOCOL_ERROR);
  const clientErr = (await p.closed.client) as SshError;
  assert.equal(clientErr.code, "DISCONNECTED");
  assert.match(clientErr.message, /Received disconnect: 2: /);
  assert.equal(p.serverConnection.isClosed, true);
}

function data(remoteId: number, bytes: number): (w: SshWriter) => SshWriter {
  return (w) => w.byte(Msg.CHANNEL_DATA).uint32(remoteId).string(Buffer.alloc(bytes, 0x61));
}

describe("protocol errors disconnect the peer", { concurrency: 8 }, () => {
  test("data beyond the window", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("small");
    assert.equal(ch.outgoingWindow, 1000);
    raw(p, data(ch.remoteId, 600));
    raw(p, data(ch.remoteId, 600));
    await assertDisconnected(p, /channel 0: peer ignored channel window \(600 bytes sent, 400 allowed\)/);
  });

  test("a data packet larger than our maximum packet size", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("tiny-packets");
    raw(p, data(ch.remoteId, 1001));
    await assertDisconnected(p, /over the maximum packet size 1000/);
  });

  test("extended data beyond the window", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("small");
    raw(p, (w) => w.byte(Msg.CHANNEL_EXTENDED_DATA).uint32(ch.remoteId).uint32(1).string(Buffer.alloc(1001)));
    await assertDisconnected(p, /peer ignored channel window/);
  });

  test("CHANNEL_OPEN with a maximum packet size of 0", async () => {
    const p = await pair();
    raw(p, (w) => w.byte(Msg.CHANNEL_OPEN).string("session").uint32(7).uint32(65536).uint32(0));
    await assertDisconnected(p, /maximum packet size of 0/);
  });

  test("CHANNEL_OPEN_CONFIRMATION with a maximum packet size of 0", async () => {
    const p = await pair();
    // The server answers the client's first open (our id 0) with a forged confirmation.
    p.serverConnection.setChannelOpenHandler("forge", () => {
      p.server.send(
        Buffer.from(
          new SshWriter()
            .byte(Msg.CHANNEL_OPEN_CONFIRMATION)
            .uint32(0)
            .uint32(5)
            .uint32(65536)
            .uint32(0)
            .toBuffer(),
        ),
      );
    });
    const opening = p.clientConnection.openChannel("forge");
    await assert.rejects(opening, { code: "PROTOCOL" });
    const clientErr = (await p.closed.client) as SshError;
    assert.match(clientErr.message, /maximum packet size of 0/);
    const serverErr = (await p.closed.server) as SshError;
    assert.match(serverErr.message, /Received disconnect: 2: /);
  });

  test("WINDOW_ADJUST that grows the window past 2^32-1", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("small");
    raw(p, (w) => w.byte(Msg.CHANNEL_WINDOW_ADJUST).uint32(ch.remoteId).uint32(0xffffffff));
    await assertDisconnected(p, /window adjust 4294967295 overflows remote window 2097152/);
  });

  test("a message for an unknown channel id", async () => {
    const p = await pair();
    raw(p, data(999, 10));
    await assertDisconnected(p, /CHANNEL_DATA for unknown channel 999/);
  });

  test("EOF for an unknown channel id, and a channel after both CLOSEs", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("small");
    ch.destroy();
    while (p.serverConnection.channelCount > 0) await new Promise((r) => setTimeout(r, 5));
    raw(p, (w) => w.byte(Msg.CHANNEL_EOF).uint32(ch.remoteId));
    await assertDisconnected(p, /message 96 for unknown channel 0/);
  });

  test("data after EOF", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("small");
    raw(p, (w) => w.byte(Msg.CHANNEL_EOF).uint32(ch.remoteId));
    raw(p, data(ch.remoteId, 10));
    await assertDisconnected(p, /channel 0: data after EOF/);
  });

  test("a second EOF", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("small");
    raw(p, (w) => w.byte(Msg.CHANNEL_EOF).uint32(ch.remoteId));
    raw(p, (w) => w.byte(Msg.CHANNEL_EOF).uint32(ch.remoteId));
    await assertDisconnected(p, /duplicate EOF/);
  });

  test("CHANNEL_SUCCESS with no request waiting", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("small");
    raw(p, (w) => w.byte(Msg.CHANNEL_SUCCESS).uint32(ch.remoteId));
    await assertDisconnected(p, /unexpected CHANNEL_SUCCESS/);
  });

  test("REQUEST_FAILURE with no global request waiting", async () => {
    const p = await pair();
    raw(p, (w) => w.byte(Msg.REQUEST_FAILURE));
    await assertDisconnected(p, /unexpected REQUEST_FAILURE/);
  });

  test("CHANNEL_OPEN_CONFIRMATION for a channel not being opened", async () => {
    const p = await pair();
    raw(p, (w) => w.byte(Msg.CHANNEL_OPEN_CONFIRMATION).uint32(3).uint32(3).uint32(100).uint32(100));
    await assertDisconnected(p, /for channel 3, which is not being opened/);
  });

  test("a CHANNEL_DATA whose length field disagrees with the packet", async () => {
    const p = await pair();
    const ch = await p.clientConnection.openChannel("small");
    raw(p, (w) => w.byte(Msg.CHANNEL_DATA).uint32(ch.remoteId).uint32(100).raw(Buffer.alloc(10)));
    await assertDisconnected(p, /CHANNEL_DATA length does not match/, "MALFORMED");
  });

  test("truncated direct-tcpip open data", async () => {
    const p = await pair();
    const good = encodeChannelOpenInfo({
      kind: "direct-tcpip",
      host: "example.com",
      port: 80,
      originatorAddress: "127.0.0.1",
      originatorPort: 5000,
    });
    const bad = good.subarray(0, good.length - 2);
    raw(p, (w) =>
      w.byte(Msg.CHANNEL_OPEN).string("direct-tcpip").uint32(0).uint32(1000).uint32(1000).raw(bad),
    );
    await assertDisconnected(p, /truncated uint32/, "MALFORMED");
  });

  test("a session open after no-more-sessions@openssh.com", async () => {
    const p = await pair();
    const first = await p.clientConnection.openChannel("session");
    assert.equal(first.type, "session");
    await p.clientConnection.globalRequest("no-more-sessions@openssh.com", undefined, false);
    // Other channel types are still fine.
    await p.clientConnection.openChannel("small");
    await assert.rejects(p.clientConnection.openChannel("session"), { code: "DISCONNECTED" });
    await assertDisconnected(p, /attempt to open a session after additional sessions disabled/);
  });
});
