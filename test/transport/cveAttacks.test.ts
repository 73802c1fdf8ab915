/**
 * One test per class of published SSH transport vulnerability, replaying the attack's messages against
 * our server and our client: each attack must end that connection with an SshError, a log line and
 * (where the keys allow) a DISCONNECT, without the victim proceeding.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { getDiffieHellman, randomBytes } from "node:crypto";
import { encodeExtInfo } from "../../src/transport/extInfo.js";
import type { Role } from "../../src/transport/messagePolicy.js";
import { DisconnectReason, Msg, SshError, SshReader, SshWriter } from "../../src/wire/index.js";
import {
  authenticatePair,
  expectRefusal,
  Harness,
  internals,
  kexInitPayload,
  msg,
  peerReady,
  plainPacketFor,
  RawPeer,
  sleep,
  until,
  victimReady,
  withTimeout,
  type Pair,
  type Victim,
} from "../helpers/scriptedPeer.js";

const h = new Harness();
after(() => h.close());

const ROLES: readonly Role[] = ["server", "client"];
const IGNORE = msg((w) => w.byte(Msg.IGNORE).string("terrapin"));
const USERAUTH_SUCCESS = Buffer.from([Msg.USERAUTH_SUCCESS]);
const MB = 1024 * 1024;

/** transport.ts QUEUE_HIGH_WATER and QUEUE_HARD_LIMIT. */
const QUEUE_HIGH_WATER = 1 * MB;
const QUEUE_HARD_LIMIT = 32 * MB;

function ping(data: Buffer): Buffer {
  return msg((w) => w.byte(Msg.PING).string(data));
}

async function bothReady(p: Pair): Promise<void> {
  await Promise.all([peerReady(p.peer), victimReady(p.victim)]);
}

/** The victim sent a DISCONNECT with `reason` that the scripted peer decrypted. */
async function peerGotDisconnect(p: Pair, reason: number): Promise<void> {
  const d = await p.peer.disconnectReceived();
  assert.ok(d, `the peer received no DISCONNECT; it saw types ${p.peer.received.map((x) => x[0]).join(",")}`);
  assert.equal(d.reason, reason, `DISCONNECT reason (${d.description})`);
}

async function rawGotDisconnect(raw: RawPeer, reason: number): Promise<void> {
  const d = await raw.disconnectReceived();
  assert.ok(d, "the raw peer received no DISCONNECT");
  assert.equal(d.reason, reason, `DISCONNECT reason (${d.description})`);
}

/** Wait for a pair's first exchange, run `inject` on the scripted peer, expect refusal. */
async function afterKex(victimRole: Role, inject: (p: Pair) => void | Promise<void>): Promise<Pair> {
  const p = await h.pair(victimRole);
  await bothReady(p);
  await inject(p);
  return p;
}

// ---- Terrapin --------------------------------------------------------------------------------------------

describe("Terrapin (CVE-2023-48795): strict KEX", () => {
  for (const role of ROLES) {
    test(`${role}: an IGNORE injected before NEWKEYS in the strict initial exchange ends the connection`, async () => {
      const p = await h.pair(role, {
        setup: (peer) => peer.onOutgoing((x) => (x[0] === Msg.NEWKEYS ? [IGNORE, x] : undefined)),
      });
      const err = await expectRefusal(p.victim, "PROTOCOL");
      assert.match(err.message, /unexpected message type 2 /);
      assert.equal(p.victim.ready, false, "the victim completed the key exchange");
      await peerGotDisconnect(p, DisconnectReason.PROTOCOL_ERROR);
    });

    test(`${role}: an IGNORE before a strict KEXINIT is refused (KEXINIT was not the first packet)`, async () => {
      const peerRole: Role = role === "server" ? "client" : "server";
      const send = (raw: RawPeer): void => {
        raw.sendVersion();
        raw.sendPacket(IGNORE);
        raw.sendPacket(kexInitPayload(peerRole, { strict: true }));
      };
      const { raw, victim } = role === "server" ? await h.rawClient() : await h.rawServer(send);
      if (role === "server") send(raw);
      const err = await expectRefusal(victim, "PROTOCOL");
      assert.match(err.message, /KEXINIT was not the first packet/);
      await rawGotDisconnect(raw, DisconnectReason.PROTOCOL_ERROR);
    });

    test(`${role}: without strict KEX the same IGNORE before KEXINIT is allowed (control)`, async () => {
      const peerRole: Role = role === "server" ? "client" : "server";
      const send = (raw: RawPeer): void => {
        raw.sendVersion();
        raw.sendPacket(IGNORE);
        raw.sendPacket(kexInitPayload(peerRole, { strict: false }));
      };
      const { raw, victim } = role === "server" ? await h.rawClient() : await h.rawServer(send);
      if (role === "server") send(raw);
      await until(() => victim.log.some((l) => l.includes("SSH2_MSG_KEXINIT received")), 5000, "KEXINIT");
      await sleep(50);
      assert.equal(victim.transport.isClosed, false, victim.log.join("\n"));
      assert.equal(victim.transport.strictKex, false);
      raw.end();
    });

    test(`${role}: requireStrictKex refuses a peer that does not offer kex-strict`, async () => {
      const peerRole: Role = role === "server" ? "client" : "server";
      const send = (raw: RawPeer): void => {
        raw.sendVersion();
        raw.sendPacket(kexInitPayload(peerRole, { strict: false }));
      };
      let pair;
      if (role === "server") {
        const server = await h.server({ requireStrictKex: true });
        pair = await h.rawClient(server);
        send(pair.raw);
        const err = await expectRefusal(pair.victim, "KEX_FAILED");
        assert.match(err.message, /strict KEX/);
        await rawGotDisconnect(pair.raw, DisconnectReason.KEY_EXCHANGE_FAILED);
        // A peer that does offer it gets through.
        await server.honestClient();
      } else {
        pair = await h.rawServer(send, { requireStrictKex: true });
        const err = await expectRefusal(pair.victim, "KEX_FAILED");
        assert.match(err.message, /strict KEX/);
        await rawGotDisconnect(pair.raw, DisconnectReason.KEY_EXCHANGE_FAILED);
        const ok = await h.pair("client", { victim: { requireStrictKex: true } });
        await bothReady(ok);
      }
    });

    test(`${role}: sequence numbers restart at 0 after each NEWKEYS under strict KEX`, async () => {
      const p = await h.pair(role);
      await bothReady(p);
      assert.equal(p.peer.transport.strictKex, true);
      assert.equal(p.victim.transport.strictKex, true);
      const pi = internals(p.peer.transport);
      const vi = internals(p.victim.transport);
      const roundTrip = async (): Promise<void> => {
        const data = randomBytes(32);
        const pong = new Promise<Buffer>((resolve) => p.peer.transport.once("pong", resolve));
        p.peer.sendRaw(ping(data));
        assert.deepEqual(await withTimeout(pong, 5000, "PONG"), data);
      };
      const check = (when: string): void => {
        for (const [name, c] of [
          ["peer writer", pi.writer],
          ["peer reader", pi.reader],
          ["victim writer", vi.writer],
          ["victim reader", vi.reader],
        ] as const) {
          // Counters restart with each key set; under strict KEX the sequence number does too.
          assert.equal(c.seq, c.packets, `${when}: ${name} sequence number counts from the last NEWKEYS`);
        }
      };
      for (let i = 0; i < 3; i++) await roundTrip();
      check("after the first exchange");
      assert.ok(vi.reader.seq >= 3);
      await authenticatePair(p); // we re-key only once authenticated, as OpenSSH
      await roundTrip();
      check("after authentication");
      await withTimeout(p.victim.transport.rekey(), 10_000, "re-key");
      await roundTrip();
      check("after a re-key");
      assert.equal(p.victim.transport.isClosed, false);
    });

    test(`${role}: a peer that keeps counting sequence numbers across strict NEWKEYS fails the MAC`, async () => {
      const p = await h.pair(role, {
        // Encrypt-then-MAC keeps packet_length in clear, so the wrong sequence number shows as a MAC
        // failure every time (under chacha20 it would first garble the length).
        peer: { ciphers: ["aes128-ctr"], macs: ["hmac-sha2-256-etm@openssh.com"] },
        setup: (peer) =>
          peer.onOutgoing((x) => {
            // The peer's transport skips its reset (as a non-strict implementation would).
            if (x[0] === Msg.NEWKEYS) internals(peer.transport).strict = false;
            return undefined;
          }),
      });
      if (role === "server") {
        // The scripted client speaks first after NEWKEYS only when asked.
        p.peer.transport.once("ready", () => p.peer.transport.requestService("ssh-userauth").catch(() => {}));
      }
      await expectRefusal(p.victim, "MAC");
      assert.equal(p.victim.transport.authenticated, false);
    });
  }
});

// ---- AsyncSSH rogue extension / rogue session ----------------------------------------------------------

describe("AsyncSSH rogue extension negotiation (CVE-2023-46445)", () => {
  const extInfo = (): Buffer => encodeExtInfo(new Map([["server-sig-algs", "ssh-rsa"]]));

  for (const role of ROLES) {
    test(`${role}: an EXT_INFO injected in plaintext before NEWKEYS is refused`, async () => {
      const p = await h.pair(role, { setup: (peer) => peer.sendRaw(extInfo()) });
      const err = await expectRefusal(p.victim, "PROTOCOL");
      assert.match(err.message, /unexpected message type 7 /);
      assert.equal(p.victim.transport.peerExtensions.size, 0);
      assert.equal(p.victim.ready, false);
      await peerGotDisconnect(p, DisconnectReason.PROTOCOL_ERROR);
    });

    test(`${role}: an EXT_INFO that is not the first message after NEWKEYS is refused`, async () => {
      const p = await h.pair(role, {
        // A server sends EXT_INFO right after its NEWKEYS: put an IGNORE before it.
        setup: (peer) => peer.onOutgoing((x) => (x[0] === Msg.EXT_INFO ? [IGNORE, x] : undefined)),
      });
      if (role === "server") {
        // Our client sends no EXT_INFO: script one after an IGNORE.
        await peerReady(p.peer);
        p.peer.sendRaw(IGNORE);
        p.peer.sendRaw(extInfo());
      }
      const err = await expectRefusal(p.victim, "PROTOCOL");
      assert.match(err.message, /unexpected message type 7 /);
      assert.equal(p.victim.transport.peerExtensions.size, 0);
      await peerGotDisconnect(p, DisconnectReason.PROTOCOL_ERROR);
    });

    test(`${role}: EXT_INFO as the first message after NEWKEYS is accepted (control)`, async () => {
      const p = await h.pair(role);
      if (role === "server") {
        await peerReady(p.peer);
        p.peer.sendRaw(extInfo());
        await until(() => p.victim.transport.peerExtensions.size > 0, 5000, "EXT_INFO to be taken");
        await p.peer.transport.requestService("ssh-userauth");
      } else {
        await bothReady(p);
        assert.ok(p.victim.transport.peerExtensions.has("server-sig-algs"));
      }
      assert.equal(p.victim.transport.isClosed, false);
    });
  }
});

describe("AsyncSSH rogue session attack (CVE-2023-46446)", () => {
  test("client: a USERAUTH_SUCCESS from the server before any service request is refused", async () => {
    const p = await h.pair("client");
    p.peer.transport.once("ready", () => p.peer.sendRaw(USERAUTH_SUCCESS));
    const err = await expectRefusal(p.victim, "PROTOCOL");
    assert.match(err.message, /unexpected message type 52 in phase service/);
    assert.equal(p.victim.transport.authenticated, false);
    assert.deepEqual(p.victim.handled, []);
    await peerGotDisconnect(p, DisconnectReason.PROTOCOL_ERROR);
  });

  test("client: a USERAUTH_SUCCESS injected during the key exchange is refused", async () => {
    const p = await h.pair("client", { setup: (peer) => peer.sendRaw(USERAUTH_SUCCESS) });
    await expectRefusal(p.victim, "PROTOCOL");
    assert.equal(p.victim.transport.authenticated, false);
    assert.equal(p.victim.ready, false);
    assert.deepEqual(p.victim.handled, []);
  });
});

// ---- libssh, Erlang/OTP, Paramiko: the server's state machine ----------------------------------------

describe("libssh authentication bypass (CVE-2018-10933)", () => {
  for (const when of ["after the key exchange", "after the service accept"] as const) {
    test(`server: a client's USERAUTH_SUCCESS ${when} is refused`, async () => {
      const p = await afterKex("server", async (pair) => {
        if (when === "after the service accept") await pair.peer.transport.requestService("ssh-userauth");
        pair.peer.sendRaw(USERAUTH_SUCCESS);
      });
      const err = await expectRefusal(p.victim, "PROTOCOL");
      assert.match(err.message, /unexpected message type 52 /);
      assert.equal(p.victim.transport.authenticated, false);
      assert.deepEqual(p.victim.handled, []);
      await peerGotDisconnect(p, DisconnectReason.PROTOCOL_ERROR);
    });
  }
});

describe("connection messages before authentication (Erlang/OTP CVE-2025-32433, Paramiko CVE-2018-7750)", () => {
  const messages: Array<[string, Buffer]> = [
    [
      "CHANNEL_OPEN session",
      msg((w) =>
        w
          .byte(Msg.CHANNEL_OPEN)
          .string("session")
          .uint32(0)
          .uint32(2 * MB)
          .uint32(32768),
      ),
    ],
    [
      "GLOBAL_REQUEST tcpip-forward",
      msg((w) =>
        w.byte(Msg.GLOBAL_REQUEST).string("tcpip-forward").boolean(true).string("0.0.0.0").uint32(0),
      ),
    ],
    [
      "CHANNEL_REQUEST exec",
      msg((w) =>
        w.byte(Msg.CHANNEL_REQUEST).uint32(0).string("exec").boolean(true).string("touch /tmp/pwned"),
      ),
    ],
  ];
  for (const [name, payload] of messages) {
    for (const when of ["after the key exchange", "after the service accept"] as const) {
      test(`server: ${name} ${when} ends the connection unseen by the layer above`, async () => {
        const p = await afterKex("server", async (pair) => {
          if (when === "after the service accept") await pair.peer.transport.requestService("ssh-userauth");
          pair.peer.sendRaw(payload);
        });
        const err = await expectRefusal(p.victim, "PROTOCOL");
        assert.match(err.message, new RegExp(`unexpected message type ${payload[0]} `));
        assert.deepEqual(p.victim.handled, [], "the message handler saw the message");
        await peerGotDisconnect(p, DisconnectReason.PROTOCOL_ERROR);
      });
    }
    test(`server: ${name} during the key exchange is refused too`, async () => {
      const p = await h.pair("server", { setup: (peer) => peer.sendRaw(payload) });
      await expectRefusal(p.victim, "PROTOCOL");
      assert.deepEqual(p.victim.handled, []);
    });
  }
});

// ---- russh: huge packet_length -------------------------------------------------------------------------

describe("russh unbounded allocation (CVE-2024-43410)", () => {
  for (const length of [0xfffffff0, 256 * 1024 + 1]) {
    for (const role of ROLES) {
      test(`${role}: packet_length ${length} in plaintext ends the connection without allocating it`, async () => {
        const rss = process.memoryUsage().rss;
        const header = Buffer.alloc(4 + 64);
        header.writeUInt32BE(length, 0);
        const send = (raw: RawPeer): void => {
          raw.sendVersion();
          raw.sendBytes(header);
        };
        const { raw, victim } = role === "server" ? await h.rawClient() : await h.rawServer(send);
        const start = Date.now();
        if (role === "server") send(raw);
        const err = await expectRefusal(victim, "PACKET_TOO_LARGE", 2000);
        assert.ok(Date.now() - start < 2000, "the connection did not end promptly");
        assert.match(err.message, /Bad packet length|exceeds/);
        assert.ok(process.memoryUsage().rss - rss < 50 * MB, "memory jumped");
        await rawGotDisconnect(raw, DisconnectReason.PROTOCOL_ERROR);
      });

      test(`${role}: packet_length ${length} under encryption ends the connection without allocating it`, async () => {
        const p = await h.pair(role);
        await bothReady(p);
        const rss = process.memoryUsage().rss;
        const start = Date.now();
        p.peer.sendBytes(p.peer.withPacketLength(length));
        await expectRefusal(p.victim, "PACKET_TOO_LARGE", 2000);
        assert.ok(Date.now() - start < 2000, "the connection did not end promptly");
        assert.ok(process.memoryUsage().rss - rss < 50 * MB, "memory jumped");
        await peerGotDisconnect(p, DisconnectReason.PROTOCOL_ERROR);
      });
    }
  }
});

// ---- x/crypto: short AEAD packets ---------------------------------------------------------------------

describe("x/crypto empty/short AEAD packets (CVE-2021-43565)", () => {
  const ciphers = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"];
  const cases: Array<{ name: string; codes: Array<SshError["code"]>; wire: (p: Pair) => Buffer }> = [
    { name: "packet_length 0", codes: ["MALFORMED"], wire: (p) => p.peer.withPacketLength(0) },
    { name: "packet_length 4", codes: ["MALFORMED"], wire: (p) => p.peer.withPacketLength(4) },
    {
      // Not a multiple of GCM's 16-byte block; under chacha20 a valid length whose tag then fails.
      name: "packet_length 8",
      codes: ["BAD_PADDING", "MAC"],
      wire: (p) => p.peer.withPacketLength(8),
    },
    {
      name: "an authentic packet with an empty payload",
      codes: ["BAD_PADDING", "MALFORMED"],
      wire: (p) => p.peer.seal(plainPacketFor(p.peer.sealer, Buffer.alloc(0))),
    },
    {
      name: "an authentic packet whose padding_length exceeds it",
      codes: ["BAD_PADDING"],
      wire: (p) => p.peer.seal(plainPacketFor(p.peer.sealer, Buffer.from([Msg.IGNORE]), 255)),
    },
  ];
  for (const cipher of ciphers) {
    for (const role of ROLES) {
      test(`${role} under ${cipher}: short and empty packets end the connection cleanly`, async (t) => {
        for (const c of cases) {
          await t.test(c.name, async () => {
            const p = await h.pair(role, { peer: { ciphers: [cipher] } });
            await bothReady(p);
            assert.equal(p.victim.transport.negotiated?.cipherC2S, cipher);
            p.peer.sendBytes(c.wire(p));
            const err = await expectRefusal(p.victim, c.codes);
            await peerGotDisconnect(p, err.disconnectReason);
            if (role === "server") await (await h.server()).honestClient();
          });
        }
      });
    }
  }
});

// ---- russh: degenerate key exchange values -------------------------------------------------------------

describe("russh degenerate key exchange values (CVE-2023-28113)", () => {
  const p14 = getDiffieHellman("modp14").getPrime();
  const p14big = BigInt("0x" + p14.toString("hex"));
  const mag = (v: bigint): Buffer =>
    v === 0n ? Buffer.alloc(0) : Buffer.from(v.toString(16).padStart(512, "0"), "hex");
  const dhValues: Array<[string, Buffer]> = [
    ["0", Buffer.alloc(0)],
    ["1", Buffer.from([1])],
    ["p-1", mag(p14big - 1n)],
    ["p", Buffer.from(p14)],
  ];
  const x25519Values: Array<[string, Buffer]> = [
    ["all zero", Buffer.alloc(32)],
    ["u=1 (order 4)", Buffer.concat([Buffer.from([1]), Buffer.alloc(31)])],
    [
      "a point of order 8",
      Buffer.from("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", "hex"),
    ],
    [
      "another point of order 8",
      Buffer.from("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", "hex"),
    ],
    ["p-1", Buffer.from("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "hex")],
  ];
  const methods = [
    { kex: "diffie-hellman-group14-sha256", mpint: true, values: dhValues },
    { kex: "curve25519-sha256", mpint: false, values: x25519Values },
  ];

  for (const m of methods) {
    for (const [name, value] of m.values) {
      test(`server: KEX_ECDH_INIT/KEXDH_INIT with ${m.kex} value ${name} fails the key exchange`, async () => {
        const p = await h.pair("server", {
          peer: { kex: [m.kex] },
          setup: (peer) =>
            peer.onOutgoing((x) => {
              if (x[0] !== Msg.KEXDH_INIT) return undefined;
              return [
                msg((w) =>
                  m.mpint ? w.byte(Msg.KEXDH_INIT).mpint(value) : w.byte(Msg.KEXDH_INIT).string(value),
                ),
              ];
            }),
        });
        await expectRefusal(p.victim, "KEX_FAILED");
        assert.equal(p.victim.ready, false);
        assert.equal(p.victim.transport.sessionId, null, "the server went on to make keys");
        await peerGotDisconnect(p, DisconnectReason.KEY_EXCHANGE_FAILED);
      });

      test(`client: KEXDH_REPLY with ${m.kex} value ${name} fails the key exchange`, async () => {
        const p = await h.pair("client", {
          peer: { kex: [m.kex] },
          victim: { kex: [m.kex] },
          setup: (peer) =>
            peer.onOutgoing((x) => {
              if (x[0] !== Msg.KEXDH_REPLY) return undefined;
              const r = new SshReader(x, 1);
              const hostKey = r.string();
              r.string(); // the server's honest value
              const signature = r.string();
              const w = new SshWriter().byte(Msg.KEXDH_REPLY).string(hostKey);
              if (m.mpint) w.mpint(value);
              else w.string(value);
              return [Buffer.from(w.string(signature).toBuffer())];
            }),
        });
        await expectRefusal(p.victim, "KEX_FAILED");
        assert.equal(p.victim.ready, false);
        assert.equal(p.victim.transport.sessionId, null, "the client went on to make keys");
        await peerGotDisconnect(p, DisconnectReason.KEY_EXCHANGE_FAILED);
      });
    }
  }
});

// ---- x/crypto: a stalled re-key and an ever-growing queue ----------------------------------------------

describe("x/crypto unbounded queue during a stalled key exchange (CVE-2025-22869)", () => {
  const chunk = msg((w) =>
    w
      .byte(Msg.CHANNEL_DATA)
      .uint32(0)
      .string(Buffer.alloc(32 * 1024, 0x61)),
  );

  async function flood(victim: Victim): Promise<{ firstFalse: number; maxQueued: number; sent: number }> {
    const vi = internals(victim.transport);
    let sent = 0;
    let firstFalse = -1;
    let maxQueued = 0;
    while (!victim.transport.isClosed) {
      const ok = victim.transport.send(chunk);
      sent += chunk.length;
      if (!ok && firstFalse < 0) firstFalse = sent;
      maxQueued = Math.max(maxQueued, vi.queuedBytes);
      assert.ok(sent < 2 * QUEUE_HARD_LIMIT, "the transport never gave up on the stalled exchange");
    }
    return { firstFalse, maxQueued, sent };
  }

  for (const who of ["the peer", "the server"] as const) {
    test(`server: ${who} starts a re-key the peer never finishes while the server keeps sending`, async () => {
      const p = await h.pair("server");
      await bothReady(p);
      // The peer may start a re-key at any time; we start one only once authenticated.
      if (who === "the server") await authenticatePair(p);
      p.peer.pause(); // the peer goes quiet: it will never answer the server's KEXINIT
      const vi = internals(p.victim.transport);
      let rekey: Promise<void> | null = null;
      if (who === "the peer") p.peer.sendRaw(kexInitPayload("client", { strict: false, extInfo: false }));
      else rekey = p.victim.transport.rekey();
      rekey?.catch(() => {});
      await until(() => vi.kex !== null, 5000, "the re-key to start");
      await sleep(20);
      const rss = process.memoryUsage().rss;
      const { firstFalse, maxQueued, sent } = await flood(p.victim);
      assert.ok(firstFalse > 0, "send() never asked the caller to wait");
      assert.ok(
        firstFalse <= QUEUE_HIGH_WATER + chunk.length,
        `send() said wait only after ${firstFalse} bytes`,
      );
      assert.ok(maxQueued <= QUEUE_HARD_LIMIT + chunk.length, `queued ${maxQueued} bytes`);
      assert.ok(sent <= QUEUE_HARD_LIMIT + 2 * chunk.length);
      const err = await expectRefusal(p.victim, "PROTOCOL");
      assert.match(err.message, /stalls key exchange/);
      assert.throws(
        () => p.victim.transport.send(chunk),
        (e: unknown) => e instanceof SshError && e.code === "CONNECTION_LOST",
      );
      assert.ok(process.memoryUsage().rss - rss < 3 * QUEUE_HARD_LIMIT, "memory grew past the queue's bound");
      assert.equal(vi.queuedBytes, 0, "the closed transport still holds the queued messages");
      assert.equal(vi.queue.length, 0);
      if (rekey) await assert.rejects(rekey);
    });
  }
});

// ---- OpenSSH: PING flood during key exchange -----------------------------------------------------------

describe("OpenSSH PING flood during key exchange (CVE-2025-26466)", () => {
  for (const role of ROLES) {
    test(`${role}: PINGs flooded during a key exchange get no PONG; after it a PING gets its PONG`, async () => {
      const p = await h.pair(role);
      await bothReady(p);
      await authenticatePair(p); // so that the victim may start a re-key
      const vi = internals(p.victim.transport);
      p.peer.pause(); // does not answer the victim's KEXINIT, so the exchange stays open
      const rekey = p.victim.transport.rekey();
      await until(() => vi.kex !== null, 5000, "the re-key to start");
      const written = vi.writer.packets;
      const read = vi.reader.packets;
      const socketQueued = vi.socket.writableLength;
      const rss = process.memoryUsage().rss;
      const N = 5000;
      const data = randomBytes(1000);
      for (let i = 0; i < N; i++) p.peer.sendRaw(ping(data));
      await until(() => vi.reader.packets >= read + N, 20_000, "the victim to read every PING");
      assert.equal(vi.writer.packets, written, "the victim wrote packets (PONGs) during the key exchange");
      assert.equal(vi.queue.length, 0, "the victim queued replies during the key exchange");
      assert.equal(vi.queuedBytes, 0);
      assert.ok(vi.socket.writableLength <= socketQueued);
      assert.ok(process.memoryUsage().rss - rss < 50 * MB, "memory grew with the flood");
      assert.equal(p.victim.transport.isClosed, false);

      p.peer.transport.resume();
      await withTimeout(rekey, 10_000, "the re-key to complete");
      const after = randomBytes(64);
      const pong = new Promise<Buffer>((resolve) => p.peer.transport.once("pong", resolve));
      p.peer.sendRaw(ping(after));
      assert.deepEqual(await withTimeout(pong, 5000, "a PONG"), after);
      assert.equal(p.victim.transport.isClosed, false);
    });

    test(
      `${role}: a peer that floods PINGs and never reads cannot grow our output without bound`,
      { timeout: 30_000 },
      async () => {
        const p = await h.pair(role);
        await bothReady(p);
        const vi = internals(p.victim.transport);
        p.peer.pause();
        internals(p.peer.transport).socket.pause(); // stop reading from the TCP connection at all
        const data = Buffer.alloc(1000, 0x70);
        let last = -1;
        for (let round = 0; round < 40 && !p.victim.transport.isClosed; round++) {
          if (vi.socket.writableLength > 4 * MB) break; // already past any sensible bound
          for (let i = 0; i < 1000; i++) p.peer.sendRaw(ping(data));
          await sleep(25);
          if (vi.reader.packets === last) break; // the victim stopped reading: back-pressure works
          last = vi.reader.packets;
        }
        const buffered = vi.socket.writableLength;
        p.peer.end();
        assert.ok(
          p.victim.transport.isClosed || buffered <= 4 * MB,
          `the victim buffered ${buffered} bytes of replies for a peer that does not read`,
        );
      },
    );

    test(`${role}: a PING after the peer's own KEXINIT is refused (RFC 4253 §7.1)`, async () => {
      const p = await h.pair(role);
      await bothReady(p);
      p.peer.pause();
      p.peer.sendRaw(
        kexInitPayload(role === "server" ? "client" : "server", { strict: false, extInfo: false }),
      );
      p.peer.sendRaw(ping(Buffer.from("flood")));
      const err = await expectRefusal(p.victim, "PROTOCOL");
      assert.match(err.message, /unexpected message type 192 during key exchange/);
    });
  }
});
