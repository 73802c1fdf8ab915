/**
 * Malformed input in every state of a connection, against our server and our client: version exchange,
 * before KEXINIT, during the key exchange after KEXINIT, after NEWKEYS before SERVICE_REQUEST, and in the
 * user authentication phase. Each case must end that one connection cleanly (close with an SshError of a
 * meaningful code, a DISCONNECT whenever the peer can read one, an error line in the log) while the
 * server keeps serving: an honest client completes key exchange and a service request in parallel.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { encodeExtInfo } from "../../src/transport/extInfo.js";
import type { Role } from "../../src/transport/messagePolicy.js";
import { DisconnectReason, Msg, SshReader, type SshErrorCode } from "../../src/wire/index.js";
import {
  expectRefusal,
  framePlain,
  Harness,
  internals,
  kexInitPayload,
  msg,
  peerReady,
  plainPacketFor,
  victimReady,
  type Pair,
  type RawPeer,
  type ScriptedOptions,
} from "../helpers/scriptedPeer.js";

const h = new Harness();
after(() => h.close());

const IGNORE = msg((w) => w.byte(Msg.IGNORE).string("padding"));
const NEWKEYS = Buffer.from([Msg.NEWKEYS]);
const EXT_INFO = encodeExtInfo(new Map([["server-sig-algs", "ssh-ed25519"]]));

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** A KEXINIT whose first name-list is 100 KB long (the reader's bound is 64 KiB). */
function kexInitHugeNameList(): Buffer {
  const names = Array.from({ length: (100 * 1024) / 20 }, (_, i) => `x${i}`.padEnd(19, "y")).join(",");
  return msg((w) => w.byte(Msg.KEXINIT).raw(randomBytes(16)).string(names));
}

/** A KEXINIT whose first name-list claims 2^31 bytes. */
function kexInitHugeLength(): Buffer {
  return Buffer.concat([Buffer.from([Msg.KEXINIT]), randomBytes(16), uint32(2 ** 31), Buffer.from("abc")]);
}

// ---- raw cases: before encryption ------------------------------------------------------------------------

interface RawCase {
  name: string;
  codes: SshErrorCode[];
  send(raw: RawPeer): void;
  /** The DISCONNECT reason expected (default: the error's own). */
  reason?: number;
}

const lengthCases = (): RawCase[] => [
  ...[0, 1, 3].map((n) => ({
    name: `packet_length ${n}`,
    codes: ["MALFORMED"] as SshErrorCode[],
    send: (raw: RawPeer) => raw.sendBytes(Buffer.concat([uint32(n), Buffer.alloc(16)])),
  })),
  {
    name: "packet_length 13 (4 + 13 not a multiple of 8)",
    codes: ["BAD_PADDING"],
    send: (raw) => raw.sendBytes(Buffer.concat([uint32(13), Buffer.alloc(13)])),
  },
  ...[0x7fffffff, 0xffffffff].map((n) => ({
    name: `packet_length 0x${n.toString(16)}`,
    codes: ["PACKET_TOO_LARGE"] as SshErrorCode[],
    send: (raw: RawPeer) => raw.sendBytes(Buffer.concat([uint32(n), Buffer.alloc(16)])),
  })),
  {
    name: "padding_length 3",
    codes: ["BAD_PADDING"],
    send: (raw) => raw.sendPacket(IGNORE, { paddingLength: 3 }),
  },
  {
    name: "padding_length beyond the packet",
    codes: ["BAD_PADDING"],
    send: (raw) => raw.sendPacket(IGNORE, { paddingLength: 200 }),
  },
  {
    name: "padding_length leaving no payload",
    codes: ["BAD_PADDING", "MALFORMED"],
    send: (raw) => raw.sendBytes(Buffer.concat([uint32(12), Buffer.from([11]), Buffer.alloc(11)])),
  },
];

/** Before the peer's KEXINIT; `peerRole` is the attacker's role. */
function preKexInitCases(peerRole: Role): RawCase[] {
  const cases: RawCase[] = [
    ...lengthCases(),
    {
      name: "a truncated KEXINIT",
      codes: ["MALFORMED"],
      send: (raw) => raw.sendPacket(kexInitPayload(peerRole).subarray(0, 40)),
    },
    {
      name: "KEXINIT with a 100 KB name-list",
      codes: ["MALFORMED"],
      send: (raw) => raw.sendPacket(kexInitHugeNameList()),
    },
    {
      name: "KEXINIT with a name-list of 2^31 bytes",
      codes: ["MALFORMED"],
      send: (raw) => raw.sendPacket(kexInitHugeLength()),
    },
    {
      name: "KEXINIT with no common cipher",
      codes: ["KEX_FAILED"],
      reason: DisconnectReason.KEY_EXCHANGE_FAILED,
      send: (raw) => raw.sendPacket(kexInitPayload(peerRole, { ciphers: ["rot13-cbc@example.com"] })),
    },
    { name: "NEWKEYS first", codes: ["PROTOCOL"], send: (raw) => raw.sendPacket(NEWKEYS) },
    {
      name: "a key exchange message before KEXINIT",
      codes: ["PROTOCOL"],
      send: (raw) =>
        raw.sendPacket(msg((w) => w.byte(peerRole === "client" ? 30 : 31).string(randomBytes(32)))),
    },
    {
      name: "strict KEX: IGNORE, then a strict KEXINIT",
      codes: ["PROTOCOL"],
      send: (raw) => {
        raw.sendPacket(IGNORE);
        raw.sendPacket(kexInitPayload(peerRole, { strict: true }));
      },
    },
    {
      name: "a DEBUG message cut short",
      codes: ["MALFORMED"],
      send: (raw) => raw.sendPacket(Buffer.from([Msg.DEBUG])),
    },
    {
      name: "EXT_INFO before any key exchange",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(EXT_INFO),
    },
    {
      name: "USERAUTH_SUCCESS before any key exchange",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(Buffer.from([Msg.USERAUTH_SUCCESS])),
    },
    {
      name: "CHANNEL_OPEN before any key exchange",
      codes: ["PROTOCOL"],
      send: (raw) =>
        raw.sendPacket(msg((w) => w.byte(Msg.CHANNEL_OPEN).string("session").uint32(0).uint32(1).uint32(1))),
    },
    {
      name: "an unknown message (200)",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(Buffer.from([200])),
    },
  ];
  if (peerRole === "client") {
    cases.push(
      {
        name: "KEXDH_REPLY from a client",
        codes: ["PROTOCOL"],
        send: (raw) =>
          raw.sendPacket(msg((w) => w.byte(Msg.KEXDH_REPLY).string("k").string("f").string("s"))),
      },
      {
        name: "SERVICE_REQUEST before any key exchange",
        codes: ["PROTOCOL"],
        send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.SERVICE_REQUEST).string("ssh-userauth"))),
      },
      {
        name: "SERVICE_ACCEPT from a client",
        codes: ["PROTOCOL"],
        send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.SERVICE_ACCEPT).string("ssh-userauth"))),
      },
      {
        name: "USERAUTH_REQUEST before any key exchange",
        codes: ["PROTOCOL"],
        send: (raw) =>
          raw.sendPacket(
            msg((w) => w.byte(Msg.USERAUTH_REQUEST).string("root").string("ssh-connection").string("none")),
          ),
      },
    );
  } else {
    cases.push(
      {
        name: "SERVICE_REQUEST from a server",
        codes: ["PROTOCOL"],
        send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.SERVICE_REQUEST).string("ssh-userauth"))),
      },
      {
        name: "SERVICE_ACCEPT before any key exchange",
        codes: ["PROTOCOL"],
        send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.SERVICE_ACCEPT).string("ssh-userauth"))),
      },
    );
  }
  return cases;
}

/** After the peer's KEXINIT, before the method's messages are done. */
function duringKexCases(peerRole: Role): RawCase[] {
  const cases: RawCase[] = [
    ...lengthCases(),
    {
      name: "a second KEXINIT",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(kexInitPayload(peerRole)),
    },
    {
      name: "NEWKEYS before the exchange is done",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(NEWKEYS),
    },
    {
      name: "strict KEX: an IGNORE during the exchange",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(IGNORE),
    },
    {
      name: "SERVICE_REQUEST during the exchange",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.SERVICE_REQUEST).string("ssh-userauth"))),
    },
    {
      name: "SERVICE_ACCEPT during the exchange",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.SERVICE_ACCEPT).string("ssh-userauth"))),
    },
    {
      name: "USERAUTH_SUCCESS during the exchange",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(Buffer.from([Msg.USERAUTH_SUCCESS])),
    },
    {
      name: "strict KEX: a (truncated) DEBUG during the exchange",
      codes: ["PROTOCOL"],
      send: (raw) => raw.sendPacket(Buffer.from([Msg.DEBUG, 1, 0, 0])),
    },
  ];
  if (peerRole === "client") {
    cases.push(
      {
        name: "KEXDH_REPLY from a client",
        codes: ["PROTOCOL"],
        send: (raw) =>
          raw.sendPacket(msg((w) => w.byte(Msg.KEXDH_REPLY).string("k").string("f").string("s"))),
      },
      {
        name: "KEX_ECDH_INIT with a 31-byte X25519 value",
        codes: ["KEX_FAILED"],
        reason: DisconnectReason.KEY_EXCHANGE_FAILED,
        send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.KEX_ECDH_INIT).string(randomBytes(31)))),
      },
      {
        name: "KEX_ECDH_INIT with a value length of 2^31",
        codes: ["MALFORMED"],
        send: (raw) =>
          raw.sendPacket(Buffer.concat([Buffer.from([Msg.KEX_ECDH_INIT]), uint32(2 ** 31), randomBytes(32)])),
      },
      {
        name: "KEX_ECDH_INIT with a 5000-byte value",
        codes: ["MALFORMED"],
        send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.KEX_ECDH_INIT).string(randomBytes(5000)))),
      },
      {
        name: "KEX_ECDH_INIT with trailing bytes",
        codes: ["MALFORMED"],
        send: (raw) =>
          raw.sendPacket(msg((w) => w.byte(Msg.KEX_ECDH_INIT).string(randomBytes(32)).uint32(7))),
      },
      {
        name: "KEX_ECDH_INIT cut short",
        codes: ["MALFORMED"],
        send: (raw) => raw.sendPacket(Buffer.from([Msg.KEX_ECDH_INIT, 0, 0])),
      },
    );
  } else {
    cases.push(
      {
        name: "KEX_ECDH_INIT from a server",
        codes: ["PROTOCOL"],
        send: (raw) => raw.sendPacket(msg((w) => w.byte(Msg.KEX_ECDH_INIT).string(randomBytes(32)))),
      },
      {
        name: "KEX_ECDH_REPLY with trailing bytes",
        codes: ["MALFORMED"],
        send: (raw) =>
          raw.sendPacket(
            msg((w) => w.byte(Msg.KEX_ECDH_REPLY).string("k").string(randomBytes(32)).string("s").byte(0)),
          ),
      },
      {
        name: "KEX_ECDH_REPLY with a garbage host key",
        codes: ["KEY_FORMAT", "UNSUPPORTED"],
        send: (raw) =>
          raw.sendPacket(
            msg((w) =>
              w.byte(Msg.KEX_ECDH_REPLY).string(randomBytes(40)).string(randomBytes(32)).string("s"),
            ),
          ),
      },
      {
        name: "KEX_ECDH_REPLY with a host key length of 2^31",
        codes: ["MALFORMED"],
        send: (raw) =>
          raw.sendPacket(Buffer.concat([Buffer.from([Msg.KEX_ECDH_REPLY]), uint32(2 ** 31), randomBytes(8)])),
      },
    );
  }
  return cases;
}

const VERSION_CASES_FOR_SERVER: RawCase[] = [
  {
    name: "a line before the identification string",
    codes: ["VERSION"],
    send: (raw) => raw.sendBytes("hello\r\n"),
  },
  {
    name: "an identification line of 300 bytes",
    codes: ["VERSION"],
    send: (raw) => raw.sendBytes(`SSH-2.0-${"a".repeat(300)}\r\n`),
  },
  {
    name: "300 bytes without a line end",
    codes: ["VERSION"],
    send: (raw) => raw.sendBytes("SSH-2.0-" + "b".repeat(292)),
  },
  { name: "protocol version 1.5", codes: ["VERSION"], send: (raw) => raw.sendBytes("SSH-1.5-OpenSSH_1\r\n") },
  {
    name: "a NUL byte in the line",
    codes: ["VERSION"],
    send: (raw) => raw.sendBytes("SSH-2.0-nul\0byte\r\n"),
  },
  { name: "an empty software version", codes: ["VERSION"], send: (raw) => raw.sendBytes("SSH-2.0-\r\n") },
  { name: "a CR inside the line", codes: ["VERSION"], send: (raw) => raw.sendBytes("SSH-2.0-a\rb\r\n") },
  { name: "binary garbage", codes: ["VERSION"], send: (raw) => raw.sendBytes(randomBytes(1024)) },
  {
    name: "a packet instead of a version line",
    codes: ["VERSION"],
    send: (raw) => raw.sendPacket(kexInitPayload("client")),
  },
];

const VERSION_CASES_FOR_CLIENT: RawCase[] = [
  {
    name: "an identification line of 300 bytes",
    codes: ["VERSION"],
    send: (raw) => raw.sendBytes(`SSH-2.0-${"a".repeat(300)}\r\n`),
  },
  {
    name: "a pre-banner line of 300 bytes",
    codes: ["VERSION"],
    send: (raw) => raw.sendBytes(`${"c".repeat(300)}\r\n`),
  },
  {
    name: "1025 lines before the identification string",
    codes: ["VERSION"],
    send: (raw) => raw.sendBytes("banner\r\n".repeat(1025) + "SSH-2.0-late\r\n"),
  },
  { name: "protocol version 1.5", codes: ["VERSION"], send: (raw) => raw.sendBytes("SSH-1.5-OpenSSH_1\r\n") },
  {
    name: "a NUL byte in the line",
    codes: ["VERSION"],
    send: (raw) => raw.sendBytes("SSH-2.0-nul\0byte\r\n"),
  },
  { name: "protocol 3.0", codes: ["VERSION"], send: (raw) => raw.sendBytes("SSH-3.0-future\r\n") },
];

/** A state before encryption: what the raw peer sends before the case's bytes. */
type RawState = "version" | "pre-kexinit" | "kex";

async function runRawCase(victimRole: Role, state: RawState, c: RawCase): Promise<void> {
  const peerRole: Role = victimRole === "server" ? "client" : "server";
  const send = (raw: RawPeer): void => {
    if (state !== "version") raw.sendVersion();
    if (state === "kex") raw.sendPacket(kexInitPayload(peerRole));
    c.send(raw);
  };
  const server = victimRole === "server" ? await h.server() : null;
  const honest = server?.honestClient();
  const { raw, victim } = server ? await h.rawClient(server) : await h.rawServer(send);
  if (server) send(raw);
  const err = await expectRefusal(victim, c.codes);
  assert.doesNotMatch(err.message, /internal error/);
  const d = await raw.disconnectReceived();
  if (state === "version") {
    assert.equal(d, null, "a DISCONNECT before the version exchange completed");
  } else {
    assert.ok(d, "the peer received no DISCONNECT");
    assert.equal(d.reason, c.reason ?? err.disconnectReason, `DISCONNECT reason (${d.description})`);
  }
  assert.equal(victim.ready, false);
  assert.deepEqual(victim.handled, []);
  await honest;
}

// ---- scripted cases: under encryption ------------------------------------------------------------------

interface ScriptedCase {
  name: string;
  codes: SshErrorCode[];
  inject(p: Pair): void | Promise<void>;
  reason?: number;
  /** Runs as the peer's transport is made (the case then starts at once, without waiting for kex). */
  setup?: (p: Pair["peer"]) => void;
  peerOptions?: ScriptedOptions;
  /** Skip the check that the peer decrypted a DISCONNECT (the keys disagree on purpose). */
  noDisconnectCheck?: boolean;
}

function raw(p: Pair, payload: Buffer): void {
  p.peer.sendRaw(payload);
}

/**
 * The peer's own transport sends its KEXINIT (so that it can follow the re-key and still read the
 * victim's DISCONNECT, which a KEXINIT of ours it knows nothing about would prevent).
 */
function startRekey(p: Pair): void {
  p.peer.startKex();
}

function encryptedCases(peerRole: Role): ScriptedCase[] {
  const kexInit = (): Buffer => kexInitPayload(peerRole, { strict: false, extInfo: false });
  return [
    ...[0, 1, 3].map((n): ScriptedCase => ({
      name: `packet_length ${n}`,
      codes: ["MALFORMED"],
      inject: (p) => p.peer.sendBytes(p.peer.withPacketLength(n)),
    })),
    {
      name: "packet_length 13 (not a multiple of the block size)",
      codes: ["BAD_PADDING"],
      inject: (p) => p.peer.sendBytes(p.peer.withPacketLength(13)),
    },
    {
      name: "packet_length 0xfffffff0",
      codes: ["PACKET_TOO_LARGE"],
      inject: (p) => p.peer.sendBytes(p.peer.withPacketLength(0xfffffff0)),
    },
    {
      name: "a bit flipped in the encrypted body (bad MAC)",
      codes: ["MAC"],
      reason: DisconnectReason.MAC_ERROR,
      inject: (p) => {
        const wire = p.peer.frame(IGNORE);
        wire[9]! ^= 0x10;
        p.peer.sendBytes(wire);
      },
    },
    {
      name: "a bit flipped in the MAC",
      codes: ["MAC"],
      reason: DisconnectReason.MAC_ERROR,
      inject: (p) => {
        const wire = p.peer.frame(IGNORE);
        wire[wire.length - 1]! ^= 0x80;
        p.peer.sendBytes(wire);
      },
    },
    {
      name: "a bit flipped in packet_length",
      codes: ["BAD_PADDING", "MAC"],
      inject: (p) => {
        const wire = p.peer.frame(IGNORE);
        wire[3]! ^= 0x01;
        p.peer.sendBytes(wire);
      },
    },
    {
      name: "padding_length 3 in an authentic packet",
      codes: ["BAD_PADDING"],
      inject: (p) => p.peer.sendBytes(p.peer.seal(plainPacketFor(p.peer.sealer, IGNORE, 3))),
    },
    {
      name: "padding_length beyond an authentic packet",
      codes: ["BAD_PADDING"],
      inject: (p) => p.peer.sendBytes(p.peer.seal(plainPacketFor(p.peer.sealer, IGNORE, 250))),
    },
    {
      name: "an authentic packet with an empty payload",
      codes: ["BAD_PADDING", "MALFORMED"],
      inject: (p) => p.peer.sendBytes(p.peer.seal(plainPacketFor(p.peer.sealer, Buffer.alloc(0)))),
    },
    { name: "NEWKEYS outside a key exchange", codes: ["PROTOCOL"], inject: (p) => raw(p, NEWKEYS) },
    {
      name: "KEX_ECDH_INIT outside a key exchange",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.KEX_ECDH_INIT).string(randomBytes(32))),
        ),
    },
    {
      name: "KEXDH_REPLY outside a key exchange",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.KEXDH_REPLY).string("k").string("f").string("s")),
        ),
    },
    { name: "a truncated KEXINIT", codes: ["MALFORMED"], inject: (p) => raw(p, kexInit().subarray(0, 30)) },
    {
      name: "KEXINIT with a 100 KB name-list",
      codes: ["MALFORMED"],
      inject: (p) => raw(p, kexInitHugeNameList()),
    },
    {
      name: "KEXINIT with a name-list of 2^31 bytes",
      codes: ["MALFORMED"],
      inject: (p) => raw(p, kexInitHugeLength()),
    },
    {
      name: "a second KEXINIT during a re-key",
      codes: ["PROTOCOL"],
      inject: (p) => {
        startRekey(p);
        raw(p, kexInit());
      },
    },
    {
      name: "KEXINIT, then NEWKEYS at once",
      codes: ["PROTOCOL"],
      inject: (p) => {
        startRekey(p);
        raw(p, NEWKEYS);
      },
    },
    {
      name: "KEXINIT, then a connection message during the re-key",
      codes: ["PROTOCOL"],
      inject: (p) => {
        startRekey(p);
        raw(
          p,
          msg((w) => w.byte(Msg.GLOBAL_REQUEST).string("keepalive@openssh.com").boolean(true)),
        );
      },
    },
    {
      name: "a re-key KEXINIT with no common cipher",
      codes: ["KEX_FAILED"],
      reason: DisconnectReason.KEY_EXCHANGE_FAILED,
      inject: (p) => raw(p, kexInitPayload(peerRole, { ciphers: ["rot13-cbc@example.com"] })),
    },
    {
      name: "a PING with 2 KB of data",
      codes: ["MALFORMED"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.PING).string(randomBytes(2048))),
        ),
    },
    {
      name: "a DEBUG cut short",
      codes: ["MALFORMED"],
      inject: (p) => raw(p, Buffer.from([Msg.DEBUG, 0, 0, 0, 0, 9])),
    },
    {
      name: "an UNIMPLEMENTED cut short",
      codes: ["MALFORMED"],
      inject: (p) => raw(p, Buffer.from([Msg.UNIMPLEMENTED, 0, 0])),
    },
    {
      name: "CHANNEL_OPEN before authentication",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.CHANNEL_OPEN).string("session").uint32(0).uint32(1).uint32(1)),
        ),
    },
    {
      name: "GLOBAL_REQUEST before authentication",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.GLOBAL_REQUEST).string("tcpip-forward").boolean(true)),
        ),
    },
  ];
}

const EXT_INFO_NOT_FIRST: ScriptedCase = {
  name: "EXT_INFO that is not the first message after NEWKEYS",
  codes: ["PROTOCOL"],
  inject: (p) => {
    raw(p, IGNORE);
    raw(p, EXT_INFO);
  },
};

/** After NEWKEYS, before SERVICE_REQUEST: cases for a hostile client against our server. */
function serverServiceCases(): ScriptedCase[] {
  return [
    ...encryptedCases("client"),
    EXT_INFO_NOT_FIRST,
    {
      name: "SERVICE_REQUEST for a service not offered",
      codes: ["PROTOCOL"],
      reason: DisconnectReason.SERVICE_NOT_AVAILABLE,
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_REQUEST).string("ssh-connection")),
        ),
    },
    {
      name: "SERVICE_REQUEST with a name length of 2^31",
      codes: ["MALFORMED"],
      inject: (p) =>
        raw(p, Buffer.concat([Buffer.from([Msg.SERVICE_REQUEST]), uint32(2 ** 31), Buffer.from("ssh")])),
    },
    {
      name: "SERVICE_REQUEST with a 100-byte name",
      codes: ["MALFORMED"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_REQUEST).string("s".repeat(100))),
        ),
    },
    {
      name: "SERVICE_ACCEPT from a client",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_ACCEPT).string("ssh-userauth")),
        ),
    },
    {
      name: "EXT_INFO claiming 2^32-1 extensions",
      codes: ["MALFORMED"],
      inject: (p) => raw(p, Buffer.concat([Buffer.from([Msg.EXT_INFO]), uint32(0xffffffff)])),
    },
    {
      name: "USERAUTH_REQUEST before the service request",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.USERAUTH_REQUEST).string("root").string("ssh-connection").string("none")),
        ),
    },
    {
      name: "USERAUTH_SUCCESS from a client",
      codes: ["PROTOCOL"],
      inject: (p) => raw(p, Buffer.from([Msg.USERAUTH_SUCCESS])),
    },
    {
      name: "strict KEX: the client does not reset its sequence number at NEWKEYS",
      codes: ["MAC"],
      reason: DisconnectReason.MAC_ERROR,
      peerOptions: { ciphers: ["aes256-ctr"], macs: ["hmac-sha2-512-etm@openssh.com"] },
      noDisconnectCheck: true,
      setup: (peer) =>
        peer.onOutgoing((x) => {
          if (x[0] === Msg.NEWKEYS) internals(peer.transport).strict = false;
          return undefined;
        }),
      inject: (p) => {
        p.peer.transport.once("ready", () => p.peer.transport.requestService("ssh-userauth").catch(() => {}));
      },
    },
  ];
}

/** In the user authentication phase: a hostile client against our server. */
function serverUserauthCases(): ScriptedCase[] {
  return [
    ...encryptedCases("client"),
    { ...EXT_INFO_NOT_FIRST, name: "EXT_INFO from a client in the authentication phase" },
    {
      name: "a second SERVICE_REQUEST",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_REQUEST).string("ssh-userauth")),
        ),
    },
    {
      name: "SERVICE_ACCEPT from a client",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_ACCEPT).string("ssh-userauth")),
        ),
    },
    {
      name: "USERAUTH_SUCCESS from a client",
      codes: ["PROTOCOL"],
      inject: (p) => raw(p, Buffer.from([Msg.USERAUTH_SUCCESS])),
    },
    {
      name: "USERAUTH_FAILURE from a client",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.USERAUTH_FAILURE).string("publickey").boolean(false)),
        ),
    },
    {
      name: "USERAUTH_BANNER from a client",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.USERAUTH_BANNER).string("hi").string("")),
        ),
    },
    {
      name: "USERAUTH_PK_OK (60) from a client",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.USERAUTH_PK_OK).string("ssh-ed25519").string("k")),
        ),
    },
    {
      name: "CHANNEL_REQUEST before authentication",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.CHANNEL_REQUEST).uint32(0).string("exec").boolean(true).string("id")),
        ),
    },
  ];
}

/** After NEWKEYS (our client has not asked for a service yet): a hostile server against our client. */
function clientServiceCases(): ScriptedCase[] {
  return [
    ...encryptedCases("server"),
    EXT_INFO_NOT_FIRST,
    {
      name: "SERVICE_REQUEST from a server",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_REQUEST).string("ssh-userauth")),
        ),
    },
    {
      name: "an unsolicited SERVICE_ACCEPT",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_ACCEPT).string("ssh-userauth")),
        ),
    },
    {
      name: "USERAUTH_SUCCESS before any service request",
      codes: ["PROTOCOL"],
      inject: (p) => raw(p, Buffer.from([Msg.USERAUTH_SUCCESS])),
    },
    {
      name: "USERAUTH_FAILURE before any service request",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.USERAUTH_FAILURE).string("publickey").boolean(false)),
        ),
    },
  ];
}

/** In the user authentication phase: a hostile server against our client. */
function clientUserauthCases(): ScriptedCase[] {
  return [
    ...encryptedCases("server"),
    {
      name: "a second SERVICE_ACCEPT",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_ACCEPT).string("ssh-userauth")),
        ),
    },
    {
      name: "SERVICE_REQUEST from a server",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.SERVICE_REQUEST).string("ssh-userauth")),
        ),
    },
    {
      name: "USERAUTH_REQUEST from a server",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.USERAUTH_REQUEST).string("root").string("ssh-connection").string("none")),
        ),
    },
    {
      name: "USERAUTH_INFO_RESPONSE from a server",
      codes: ["PROTOCOL"],
      inject: (p) =>
        raw(
          p,
          msg((w) => w.byte(Msg.USERAUTH_INFO_RESPONSE).uint32(0)),
        ),
    },
  ];
}

type ScriptedState = "service" | "userauth";

async function runScriptedCase(victimRole: Role, state: ScriptedState, c: ScriptedCase): Promise<void> {
  const server = victimRole === "server" ? await h.server() : null;
  const honest = server?.honestClient();
  let serviceAccepted: Promise<void> | null = null;
  const p = await h.pair(victimRole, {
    ...(server ? { server } : {}),
    ...(c.peerOptions ? { peer: c.peerOptions } : {}),
    setup: (peer) => {
      c.setup?.(peer);
      // A hostile server injects right after it accepted our client's service request.
      if (victimRole === "client" && state === "userauth") {
        serviceAccepted = new Promise((resolve) => peer.transport.once("service", () => resolve()));
      }
    },
  });
  if (!c.setup) {
    await Promise.all([peerReady(p.peer), victimReady(p.victim)]);
    if (state === "userauth") {
      if (victimRole === "server") {
        await p.peer.transport.requestService("ssh-userauth");
      } else {
        p.victim.transport.requestService("ssh-userauth").catch(() => {});
        await serviceAccepted;
      }
    }
  }
  await c.inject(p);
  const err = await expectRefusal(p.victim, c.codes);
  assert.doesNotMatch(err.message, /internal error/);
  if (c.reason !== undefined) assert.equal(err.disconnectReason, c.reason);
  if (!c.noDisconnectCheck) {
    const d = await p.peer.disconnectReceived();
    assert.ok(d, `the peer received no DISCONNECT; it saw ${p.peer.received.map((x) => x[0]).join(",")}`);
    assert.equal(d.reason, c.reason ?? err.disconnectReason, `DISCONNECT reason (${d.description})`);
  }
  assert.deepEqual(p.victim.handled, [], "the layer above was handed a message");
  assert.equal(p.victim.transport.authenticated, false);
  await honest;
}

// ---- the tests -----------------------------------------------------------------------------------------

describe("our server, malformed input", () => {
  describe("in the version exchange", () => {
    for (const c of VERSION_CASES_FOR_SERVER) test(c.name, () => runRawCase("server", "version", c));
  });
  describe("before KEXINIT", () => {
    for (const c of preKexInitCases("client")) test(c.name, () => runRawCase("server", "pre-kexinit", c));
  });
  describe("during the key exchange, after KEXINIT", () => {
    for (const c of duringKexCases("client")) test(c.name, () => runRawCase("server", "kex", c));
    test("KEX_DH_GEX_REQUEST with min > max", () =>
      runRawCase("server", "pre-kexinit", {
        name: "gex bounds",
        codes: ["KEX_FAILED"],
        reason: DisconnectReason.KEY_EXCHANGE_FAILED,
        send: (raw) => {
          raw.sendPacket(kexInitPayload("client", { kex: ["diffie-hellman-group-exchange-sha256"] }));
          raw.sendPacket(msg((w) => w.byte(Msg.KEX_DH_GEX_REQUEST).uint32(8192).uint32(4096).uint32(2048)));
        },
      }));
  });
  describe("after NEWKEYS, before SERVICE_REQUEST", () => {
    for (const c of serverServiceCases()) test(c.name, () => runScriptedCase("server", "service", c));
  });
  describe("in the user authentication phase", () => {
    for (const c of serverUserauthCases()) test(c.name, () => runScriptedCase("server", "userauth", c));
  });
  test("a peer that hangs up in the middle of a packet: CONNECTION_LOST, nothing sent, others served", async () => {
    const server = await h.server();
    const honest = server.honestClient();
    for (const state of ["version", "pre-kexinit", "kex"] as const) {
      const { raw, victim } = await h.rawClient(server);
      if (state === "version") raw.sendBytes("SSH-2.0-half");
      else raw.sendVersion();
      if (state === "kex") raw.sendPacket(kexInitPayload("client"));
      if (state !== "version") raw.sendBytes(framePlain(IGNORE).subarray(0, 7));
      raw.socket.end();
      const err = await victim.closed;
      assert.equal(err?.code, "CONNECTION_LOST", `${state}: ${err?.message}`);
      assert.ok(!victim.log.some((l) => l.startsWith("error: ")), "a hang-up is not logged as an error");
      assert.equal(await raw.disconnectReceived(), null);
    }
    await honest;
  });

  test("many malformed connections at once, while an honest client gets through", async () => {
    const server = await h.server();
    const cases = preKexInitCases("client");
    const runs = cases.map(async (c) => {
      const { raw, victim } = await h.rawClient(server);
      raw.sendVersion();
      c.send(raw);
      await expectRefusal(victim, c.codes);
    });
    await Promise.all([...runs, server.honestClient(), server.honestClient()]);
  });
});

describe("our client, malformed input", () => {
  describe("in the version exchange", () => {
    for (const c of VERSION_CASES_FOR_CLIENT) test(c.name, () => runRawCase("client", "version", c));
  });
  describe("before KEXINIT", () => {
    for (const c of preKexInitCases("server")) test(c.name, () => runRawCase("client", "pre-kexinit", c));
  });
  describe("during the key exchange, after KEXINIT", () => {
    for (const c of duringKexCases("server")) test(c.name, () => runRawCase("client", "kex", c));
    test("KEX_ECDH_REPLY with a corrupted signature", async () => {
      const p = await h.pair("client", {
        setup: (peer) =>
          peer.onOutgoing((x) => {
            if (x[0] !== Msg.KEX_ECDH_REPLY) return undefined;
            const r = new SshReader(x, 1);
            const hostKey = r.string();
            const value = r.string();
            const sig = Buffer.from(r.string());
            sig[sig.length - 1]! ^= 1;
            return [msg((w) => w.byte(Msg.KEX_ECDH_REPLY).string(hostKey).string(value).string(sig))];
          }),
      });
      const err = await expectRefusal(p.victim, "HOST_KEY");
      assert.equal(err.disconnectReason, DisconnectReason.HOST_KEY_NOT_VERIFIABLE);
      assert.equal(p.victim.ready, false);
      const d = await p.peer.disconnectReceived();
      assert.equal(d?.reason, DisconnectReason.HOST_KEY_NOT_VERIFIABLE);
    });
    test("a host key the verifier refuses", async () => {
      const p = await h.pair("client", { victim: { verifyHostKey: () => false } });
      const err = await expectRefusal(p.victim, "HOST_KEY");
      assert.match(err.message, /Host key verification failed/);
      assert.equal(p.victim.ready, false);
    });
  });
  describe("after NEWKEYS, before SERVICE_REQUEST", () => {
    for (const c of clientServiceCases()) test(c.name, () => runScriptedCase("client", "service", c));
  });
  describe("in the user authentication phase", () => {
    for (const c of clientUserauthCases()) test(c.name, () => runScriptedCase("client", "userauth", c));
  });
});
