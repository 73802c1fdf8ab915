/**
 * Re-keying between our own client and server transports (the OpenSSH directions are in the interop
 * tests): started by either side, by volume and by time, with messages sent during the exchange held
 * back and delivered in order under the new keys, for every cipher.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { describe, test } from "node:test";
import { Transport, type TransportOptions } from "../../src/transport/index.js";
import { Msg, SshReader, SshWriter } from "../../src/wire/index.js";
import { testHostKeys } from "../helpers/transportServer.js";

interface Pair {
  client: Transport;
  server: Transport;
  received: { client: Buffer[]; server: Buffer[] };
  logs: { client: string[]; server: string[] };
  close(): void;
}

/** A connected pair, past a fake login (the server sends USERAUTH_SUCCESS for any request). */
async function connectedPair(options: Partial<TransportOptions> = {}): Promise<Pair> {
  const received = { client: [] as Buffer[], server: [] as Buffer[] };
  const logs = { client: [] as string[], server: [] as string[] };
  let server!: Transport;
  const listener = net.createServer((socket) => {
    server = new Transport({
      hostKeys: testHostKeys(),
      ...options,
      role: "server",
      socket,
      log: (l, m) => logs.server.push(`${l}: ${m}`),
    });
    server.setMessageHandler((type, payload) => {
      if (type === Msg.USERAUTH_REQUEST) server.send(Buffer.from([Msg.USERAUTH_SUCCESS]));
      else received.server.push(Buffer.from(payload));
    });
  });
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const socket = net.connect((listener.address() as net.AddressInfo).port, "127.0.0.1");
  const client = new Transport({
    ...options,
    role: "client",
    socket,
    verifyHostKey: () => true,
    log: (l, m) => logs.client.push(`${l}: ${m}`),
  });
  await new Promise<void>((resolve, reject) => {
    client.once("ready", resolve);
    client.once("close", reject);
  });
  await client.requestService("ssh-userauth");
  const authenticated = new Promise<void>((resolve) =>
    client.setMessageHandler((type, payload) => {
      if (type === Msg.USERAUTH_SUCCESS) resolve();
      else received.client.push(Buffer.from(payload));
    }),
  );
  client.send(
    Buffer.from(
      new SshWriter()
        .byte(Msg.USERAUTH_REQUEST)
        .string("u")
        .string("ssh-connection")
        .string("none")
        .toBuffer(),
    ),
  );
  await authenticated;
  listener.close();
  return {
    client,
    server,
    received,
    logs,
    close: () => {
      client.disconnect();
      server.disconnect();
    },
  };
}

/** A CHANNEL_DATA-shaped message carrying a counter, so order and integrity can be checked. */
function numbered(i: number, size = 1000): Buffer {
  const body = Buffer.alloc(size, i & 0xff);
  return Buffer.from(new SshWriter().byte(Msg.CHANNEL_DATA).uint32(i).string(body).toBuffer());
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function assertInOrder(messages: Buffer[], count: number): void {
  assert.equal(messages.length, count);
  messages.forEach((m, i) => {
    const r = new SshReader(m, 1);
    assert.equal(r.uint32(), i);
    assert.ok(r.string().equals(Buffer.alloc(1000, i & 0xff)));
  });
}

describe("re-keying between our client and server", { concurrency: 4 }, () => {
  test("the client re-keys on demand while both sides keep sending", async () => {
    const p = await connectedPair();
    try {
      for (let i = 0; i < 50; i++) p.client.send(numbered(i));
      const rekeyed = p.client.rekey();
      for (let i = 50; i < 100; i++) {
        p.client.send(numbered(i));
        p.server.send(numbered(i - 50));
      }
      await rekeyed;
      await until(() => p.received.server.length === 100 && p.received.client.length === 50, "messages");
      assertInOrder(p.received.server, 100);
      assertInOrder(p.received.client, 50);
      assert.ok(p.logs.server.includes("debug1: rekey completed"));
    } finally {
      p.close();
    }
  });

  test("the server re-keys on demand", async () => {
    const p = await connectedPair();
    try {
      await p.server.rekey();
      p.client.send(numbered(0));
      await until(() => p.received.server.length === 1, "a message under the new keys");
      assert.ok(p.logs.client.includes("debug1: rekey completed"));
    } finally {
      p.close();
    }
  });

  test("volume limit re-keys repeatedly and loses nothing", async () => {
    const p = await connectedPair({ rekeyLimit: { bytes: 64 * 1024 } });
    try {
      for (let i = 0; i < 1000; i++) {
        p.client.send(numbered(i));
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 1));
      }
      await until(() => p.received.server.length === 1000, "1000 messages");
      assertInOrder(p.received.server, 1000);
      const rekeys = p.logs.client.filter((l) => l === "debug1: rekeying after data limit").length;
      assert.ok(rekeys >= 10, `only ${rekeys} re-keys for ~1 MB with a 64 KiB limit`);
    } finally {
      p.close();
    }
  });

  test("time limit re-keys after authentication", async () => {
    const p = await connectedPair({ rekeyLimit: { seconds: 1 } });
    try {
      await until(() => p.logs.client.includes("debug1: rekeying after time limit"), "a timed re-key", 5000);
      await until(() => p.logs.client.includes("debug1: rekey completed"), "its completion", 5000);
      p.client.send(numbered(0));
      await until(() => p.received.server.length === 1, "a message after it");
    } finally {
      p.close();
    }
  });

  for (const cipher of [
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes128-cbc",
    "3des-cbc",
  ]) {
    test(`${cipher} with zlib@openssh.com: data intact across re-keys`, async () => {
      const p = await connectedPair({
        ciphers: [cipher],
        compression: ["zlib@openssh.com"],
        macs: ["hmac-sha2-256"],
      });
      try {
        for (let i = 0; i < 30; i++) {
          p.client.send(numbered(i));
          p.server.send(numbered(i));
          if (i % 10 === 0) await p.client.rekey();
        }
        await until(() => p.received.server.length === 30 && p.received.client.length === 30, "messages");
        assertInOrder(p.received.server, 30);
        assertInOrder(p.received.client, 30);
      } finally {
        p.close();
      }
    });
  }
});
