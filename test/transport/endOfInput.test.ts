/**
 * What a peer sent before hanging up is still dispatched when our consumer was paused at that moment: a
 * server's DISCONNECT reason reaches the client as the reason, not as "connection closed".
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DisconnectReason, SshError } from "../../src/wire/index.js";
import { connectedTransports } from "../helpers/connectedTransports.js";

test("a DISCONNECT followed by the end of the stream, while the client is paused, still gives its reason", async () => {
  const { client, server, close } = await connectedTransports();
  try {
    const ended = new Promise<SshError | null>((resolve) => client.once("close", resolve));
    client.pause();
    server.disconnect(DisconnectReason.TOO_MANY_CONNECTIONS, "Too many sessions");
    // Let the DISCONNECT and the end of the stream both arrive while the client is paused.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(client.isClosed, false, "the client closed before dispatching what it had received");
    client.resume();
    const err = await ended;
    assert.equal(err?.code, "DISCONNECTED");
    assert.match(err!.message, /Received disconnect: 12: Too many sessions/);
  } finally {
    close();
  }
});

test("a consumer that never resumes does not keep a dead connection open", async () => {
  const { client, server, close } = await connectedTransports();
  try {
    const ended = new Promise<SshError | null>((resolve) => client.once("close", resolve));
    client.pause();
    server.disconnect(DisconnectReason.BY_APPLICATION, "bye");
    // The transport's grace timer does not hold the process open on its own; this test's timer does.
    const keepAlive = setTimeout(() => {}, 10_000);
    const err = await ended; // after the grace period, without resume()
    clearTimeout(keepAlive);
    assert.equal(err?.code, "CONNECTION_LOST");
  } finally {
    close();
  }
});
