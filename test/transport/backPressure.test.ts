/**
 * Back-pressure through the transport: a paused consumer makes it stop reading the socket once a bounded
 * amount is buffered (the peer's TCP window then fills), and nothing is lost when it resumes; a sender
 * is told to wait (send() returns false, then 'drain') when its socket is full.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Msg, SshReader, SshWriter } from "../../src/wire/index.js";
import { connectedTransports, until } from "../helpers/connectedTransports.js";

/** An IGNORE-free message the connection layer would get: CHANNEL_DATA-shaped, numbered. */
function numbered(i: number): Buffer {
  return Buffer.from(
    new SshWriter()
      .byte(Msg.CHANNEL_DATA)
      .uint32(i)
      .string(Buffer.alloc(16 * 1024, i & 0xff))
      .toBuffer(),
  );
}

test(
  "a paused consumer stops the socket being read; resuming delivers everything in order",
  { timeout: 30_000 },
  async () => {
    const { client, server, close } = await connectedTransports();
    try {
      const got: number[] = [];
      client.setMessageHandler((_type, payload) => got.push(new SshReader(payload, 1).uint32()));
      client.pause();
      const total = 1024; // 16 MiB
      let sent = 0;
      const pushMore = (): void => {
        // send() takes the message either way; false asks to wait for 'drain' before the next one.
        while (sent < total && server.send(numbered(sent++)));
        if (sent < total) server.once("drain", () => pushMore());
      };
      pushMore();
      const socket = (client as unknown as { socket: import("node:net").Socket }).socket;
      await until(() => socket.isPaused(), "the client to stop reading its socket");
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(got.length, 0, "messages were handed to a paused consumer");
      assert.ok(sent < total, "the sender was never asked to wait while the receiver stopped reading");
      const buffered = (client as unknown as { input: { length: number } }).input.length;
      assert.ok(buffered < 4 * 1024 * 1024, `the paused client buffered ${buffered} bytes`);
      client.resume();
      await until(() => got.length === total, "every message after resume", 20_000);
      assert.deepEqual(
        got,
        Array.from({ length: total }, (_, i) => i),
      );
    } finally {
      close();
    }
  },
);
