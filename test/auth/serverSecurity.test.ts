/**
 * Our server authentication against a scripted client (our client Transport sending hand-made
 * USERAUTH messages): nothing of the connection layer is acted on before success; the authenticated key
 * is the one whose signature verified (x/crypto CVE-2024-45337); an invalid user gets the same answers,
 * as late, as a valid one with wrong credentials (CVE-2018-15473); malformed keyboard-interactive
 * responses end the connection (russh CVE-2026-42189); other services, a change of user name,
 * MaxAuthTries, wrong host keys in publickey-hostbound-v00, replayed and SHA-1 signatures.
 */
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, describe, test } from "node:test";
import { constantTimeEqual, type AuthPolicy, type ServerAuthOptions } from "../../src/auth/index.js";
import {
  encodeInfoResponse,
  encodeKeyboardInteractiveRequest,
  encodeNoneRequest,
  encodePasswordRequest,
  encodePublicKeyRequest,
  publicKeySignedData,
  type PublicKeyRequestFields,
} from "../../src/auth/signedData.js";
import { PrivateKey } from "../../src/keys/index.js";
import { Msg, SshError, SshWriter } from "../../src/wire/index.js";
import {
  connectClient,
  startAuthServer,
  type AuthServer,
  type ClientConnection,
} from "../helpers/authHelpers.js";
import { nextMessage } from "../helpers/nextMessage.js";
import { testHostKeys } from "../helpers/transportServer.js";
import { withTimeout } from "../helpers/scriptedPeer.js";

const keyA = PrivateKey.generate("ssh-ed25519");
const keyB = PrivateKey.generate("ssh-ed25519");
const keyC = PrivateKey.generate("ecdsa-sha2-nistp256");
const stranger = PrivateKey.generate("ssh-ed25519");

const servers: AuthServer[] = [];
const clients: ClientConnection[] = [];

async function serve(options: Omit<ServerAuthOptions, "log">): Promise<AuthServer> {
  const s = await startAuthServer(() => ({ failureDelayMs: 5, hostKeys: testHostKeys(), ...options }));
  servers.push(s);
  return s;
}

interface Raw extends ClientConnection {
  send(p: Buffer): void;
  next(): Promise<{ type: number; payload: Buffer }>;
  /** The DISCONNECT that ended it, as the transport reported it. */
  ended(): Promise<string>;
}

async function raw(s: AuthServer): Promise<Raw> {
  const c = await connectClient(s.server.port);
  clients.push(c);
  await c.transport.requestService("ssh-userauth");
  return {
    ...c,
    send: (p) => c.transport.send(p),
    next: () => withTimeout(nextMessage(c.transport), 5000, "a reply"),
    ended: async () => {
      const err = await withTimeout(c.closed, 5000, "the disconnect");
      return err?.message ?? "closed";
    },
  };
}

const pk = (c: Raw, user: string, key: PrivateKey, method = "publickey-hostbound-v00@openssh.com") => {
  const fields: PublicKeyRequestFields = {
    username: user,
    service: "ssh-connection",
    method,
    algorithm: key.defaultSignatureAlgorithm(),
    keyBlob: key.publicKey.blob,
    ...(method.includes("hostbound") ? { hostKeyBlob: c.transport.hostKey!.blob } : {}),
  };
  return {
    fields,
    query: () => encodePublicKeyRequest(fields),
    signed: (signer = key, sessionId = c.transport.sessionId!) =>
      encodePublicKeyRequest(fields, signer.sign(publicKeySignedData(sessionId, fields), fields.algorithm)),
  };
};

after(async () => {
  for (const c of clients) if (!c.transport.isClosed) c.transport.disconnect();
  await Promise.all(servers.map((s) => s.close()));
});

describe("server authentication security", { concurrency: 8 }, () => {
  test("connection-layer messages before success end the connection, unseen", async () => {
    let asked = 0;
    const s = await serve({ policy: { checkPassword: () => (asked++, true) } });
    const c = await raw(s);
    c.send(
      Buffer.from(new SshWriter().byte(Msg.GLOBAL_REQUEST).string("tcpip-forward").boolean(true).toBuffer()),
    );
    assert.match(await c.ended(), /unexpected message type 80/);
    const r = await s.connections[0]!.result;
    assert.equal(r.user, null);
    assert.equal(asked, 0);
    assert.deepEqual(s.connections[0]!.afterAuth, []);
    assert.equal(s.connections[0]!.transport.authenticated, false);
  });

  test("a CHANNEL_OPEN pipelined behind a failing request is refused, not handed up", async () => {
    const s = await serve({ policy: { checkPassword: () => false } });
    const c = await raw(s);
    c.send(encodePasswordRequest("alice", "ssh-connection", "wrong"));
    c.send(
      Buffer.from(
        new SshWriter()
          .byte(Msg.CHANNEL_OPEN)
          .string("session")
          .uint32(0)
          .uint32(1 << 20)
          .uint32(32768)
          .toBuffer(),
      ),
    );
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
    assert.match(await c.ended(), /unexpected message type 90/);
    assert.deepEqual(s.connections[0]!.afterAuth, []);
    assert.equal((await s.connections[0]!.result).user, null);
  });

  test("a request pipelined behind a successful one reaches the connection layer, in order", async () => {
    const s = await serve({ policy: { checkPassword: () => true } });
    const c = await raw(s);
    c.send(encodePasswordRequest("alice", "ssh-connection", "right"));
    c.send(
      Buffer.from(
        new SshWriter().byte(Msg.GLOBAL_REQUEST).string("keepalive@openssh.com").boolean(true).toBuffer(),
      ),
    );
    assert.equal((await c.next()).type, Msg.USERAUTH_SUCCESS);
    assert.equal((await c.next()).type, Msg.REQUEST_FAILURE);
    assert.deepEqual(s.connections[0]!.afterAuth, [Msg.GLOBAL_REQUEST]);
  });

  test("query key A, sign with allowed key B: the identity is B", async () => {
    const s = await serve({
      policy: { checkPublicKey: ({ key }) => key.equals(keyA.publicKey) || key.equals(keyB.publicKey) },
    });
    const c = await raw(s);
    c.send(pk(c, "alice", keyA).query());
    assert.equal((await c.next()).type, Msg.USERAUTH_PK_OK);
    c.send(pk(c, "alice", keyB).signed());
    assert.equal((await c.next()).type, Msg.USERAUTH_SUCCESS);
    const r = await s.connections[0]!.result;
    assert.ok(r.user!.publicKey!.equals(keyB.publicKey));
    assert.ok(!r.user!.publicKey!.equals(keyA.publicKey));
  });

  test("query allowed key A, then a signature by A in a request naming key B: failure", async () => {
    const s = await serve({
      policy: { checkPublicKey: ({ key }) => key.equals(keyA.publicKey) || key.equals(keyB.publicKey) },
    });
    const c = await raw(s);
    c.send(pk(c, "alice", keyA).query());
    assert.equal((await c.next()).type, Msg.USERAUTH_PK_OK);
    // B's request (same key type, so only the key differs), with A's signature over it.
    c.send(pk(c, "alice", keyB).signed(keyA));
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
    // A itself still works: the failures left no state behind.
    c.send(pk(c, "alice", keyA).signed());
    assert.equal((await c.next()).type, Msg.USERAUTH_SUCCESS);
    assert.ok((await s.connections[0]!.result).user!.publicKey!.equals(keyA.publicKey));
  });

  test("an invalid user gets the same answers, no sooner than failureDelayMs", async () => {
    const delay = 60;
    const policy: AuthPolicy = {
      userExists: (u) => u === "alice",
      checkPublicKey: ({ key }) => key.equals(keyA.publicKey),
      checkPassword: ({ password }) => constantTimeEqual(password, "secret"),
      keyboardInteractive: async (_ctx, ask) => {
        const [a] = await ask({
          name: "",
          instructions: "Verification",
          prompts: [{ prompt: "Code: ", echo: true }],
        });
        return a === "123456";
      },
    };
    const s = await serve({ policy, failureDelayMs: delay, banner: "Hello\n", maxAuthTries: 10 });
    async function transcript(user: string) {
      const c = await raw(s);
      const out: Array<{ type: number; hex: string; ms?: number }> = [];
      const step = async (p: Buffer, timed: boolean, replies = 1) => {
        const t0 = performance.now();
        c.send(p);
        for (let i = 0; i < replies; i++) {
          const m = await c.next();
          const ms = performance.now() - t0;
          out.push({
            type: m.type,
            hex: m.payload.toString("hex"),
            ...(timed && m.type === Msg.USERAUTH_FAILURE ? { ms } : {}),
          });
        }
      };
      await step(encodeNoneRequest(user, "ssh-connection"), false, 2); // banner + failure
      await step(pk(c, user, stranger).query(), true);
      await step(pk(c, user, keyC).signed(), true);
      await step(encodePasswordRequest(user, "ssh-connection", "wrong"), true);
      await step(encodeKeyboardInteractiveRequest(user, "ssh-connection"), false);
      await step(encodeInfoResponse(["000000"]), true);
      c.transport.disconnect();
      return out;
    }
    const [valid, invalid] = await Promise.all([transcript("alice"), transcript("mallory")]);
    const bytes = (t: typeof valid) => t.map(({ type, hex }) => ({ type, hex }));
    assert.deepEqual(bytes(invalid), bytes(valid));
    assert.deepEqual(
      valid.map((m) => m.type),
      [Msg.USERAUTH_BANNER, 51, 51, 51, 51, Msg.USERAUTH_INFO_REQUEST, 51],
    );
    for (const t of [valid, invalid]) {
      const timed = t.filter((m) => m.ms !== undefined);
      assert.equal(timed.length, 4);
      for (const m of timed) assert.ok(m.ms! >= delay - 1, `answered after ${m.ms} ms`);
    }
    const logs = s.connections.map((c) => c.log.join("\n")).join("\n");
    assert.match(logs, /info: Invalid user mallory from 127\.0\.0\.1 port \d+/);
    assert.match(logs, /info: Failed password for invalid user mallory from 127\.0\.0\.1 port \d+ ssh2/);
    assert.match(logs, /info: Failed password for alice from 127\.0\.0\.1 port \d+ ssh2/);
  });

  test("an invalid user never succeeds, whatever the policy says", async () => {
    const s = await serve({
      policy: { userExists: () => false, checkPassword: () => true, checkPublicKey: () => true },
    });
    const c = await raw(s);
    c.send(encodePasswordRequest("ghost", "ssh-connection", "anything"));
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
    c.send(pk(c, "ghost", keyA).query());
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
    c.send(pk(c, "ghost", keyA).signed());
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
  });

  describe("malformed keyboard-interactive responses end the connection", () => {
    const kbdPolicy = (): AuthPolicy => ({
      // A careless policy that swallows errors and says yes: the server must not care.
      keyboardInteractive: async (_ctx, ask) => {
        try {
          await ask({
            prompts: [
              { prompt: "One: ", echo: false },
              { prompt: "Two: ", echo: false },
            ],
          });
        } catch {
          return true;
        }
        return true;
      },
    });
    const cases: Array<[string, Buffer, RegExp]> = [
      ["too few responses", encodeInfoResponse(["1"]), /1 responses to 2 prompts/],
      ["too many responses", encodeInfoResponse(["1", "2", "3"]), /3 responses to 2 prompts/],
      [
        "a huge count",
        Buffer.from(new SshWriter().byte(Msg.USERAUTH_INFO_RESPONSE).uint32(0xffffffff).toBuffer()),
        /4294967295 responses/,
      ],
      [
        "a truncated response",
        Buffer.from(
          new SshWriter()
            .byte(Msg.USERAUTH_INFO_RESPONSE)
            .uint32(2)
            .string("1")
            .uint32(100)
            .raw(Buffer.from("abc"))
            .toBuffer(),
        ),
        /truncated/,
      ],
      ["trailing bytes", Buffer.concat([encodeInfoResponse(["1", "2"]), Buffer.from([0])]), /trailing/],
    ];
    for (const [name, response, why] of cases) {
      test(name, async () => {
        const s = await serve({ policy: kbdPolicy() });
        const c = await raw(s);
        c.send(encodeKeyboardInteractiveRequest("alice", "ssh-connection"));
        assert.equal((await c.next()).type, Msg.USERAUTH_INFO_REQUEST);
        c.send(response);
        assert.match(await c.ended(), why);
        const r = await s.connections[0]!.result;
        assert.equal(r.user, null);
        assert.ok(r.error instanceof SshError);
      });
    }
    test("a response without a pending request", async () => {
      const s = await serve({ policy: kbdPolicy() });
      const c = await raw(s);
      c.send(encodeNoneRequest("alice", "ssh-connection"));
      assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
      c.send(encodeInfoResponse([]));
      assert.match(await c.ended(), /USERAUTH_INFO_RESPONSE without a pending USERAUTH_INFO_REQUEST/);
      assert.equal((await s.connections[0]!.result).user, null);
    });
    test("a response after the conversation ended", async () => {
      const s = await serve({ policy: kbdPolicy() });
      const c = await raw(s);
      c.send(encodeKeyboardInteractiveRequest("alice", "ssh-connection"));
      assert.equal((await c.next()).type, Msg.USERAUTH_INFO_REQUEST);
      // A new request abandons the conversation (RFC 4256 §3.4); a late response to it is then stray.
      c.send(encodePasswordRequest("alice", "ssh-connection", "x"));
      assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
      c.send(encodeInfoResponse(["1", "2"]));
      assert.match(await c.ended(), /without a pending/);
    });
  });

  test("a service other than ssh-connection: failure, as for an invalid user", async () => {
    const s = await serve({ policy: { checkPassword: () => true, checkPublicKey: () => true } });
    const c = await raw(s);
    c.send(encodePasswordRequest("alice", "ssh-agent-forward", "right"));
    const f = await c.next();
    assert.equal(f.type, Msg.USERAUTH_FAILURE);
    const expected = new SshWriter().byte(51).nameList(["publickey", "password"]).boolean(false).toBuffer();
    assert.deepEqual(f.payload, Buffer.from(expected));
    assert.match(s.connections[0]!.log.join("\n"), /unsupported service ssh-agent-forward/);
  });

  for (const [what, second, msg] of [
    [
      "user name",
      encodeNoneRequest("bob", "ssh-connection"),
      /Change of username or service not allowed: \(alice,ssh-connection\) -> \(bob,ssh-connection\)/,
    ],
    [
      "service",
      encodeNoneRequest("alice", "other-service"),
      /\(alice,ssh-connection\) -> \(alice,other-service\)/,
    ],
  ] as const) {
    test(`a change of ${what} mid-way: disconnect`, async () => {
      const s = await serve({ policy: { checkPassword: () => false } });
      const c = await raw(s);
      c.send(encodePasswordRequest("alice", "ssh-connection", "x"));
      assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
      c.send(second);
      assert.match(await c.ended(), msg);
      assert.equal((await s.connections[0]!.result).error!.code, "PROTOCOL");
    });
  }

  test("MaxAuthTries: the initial none is free, the 3rd failure disconnects", async () => {
    const s = await serve({ policy: { checkPassword: () => false }, maxAuthTries: 3 });
    const c = await raw(s);
    c.send(encodeNoneRequest("alice", "ssh-connection"));
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
    for (let i = 0; i < 2; i++) {
      c.send(encodePasswordRequest("alice", "ssh-connection", `guess${i}`));
      assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
    }
    c.send(encodePasswordRequest("alice", "ssh-connection", "guess2"));
    assert.match(await c.ended(), /Received disconnect: 2: Too many authentication failures/);
    const r = await s.connections[0]!.result;
    assert.equal(r.error!.code, "AUTH_FAILED");
    assert.match(s.connections[0]!.log.join("\n"), /maximum authentication attempts exceeded for alice/);
  });

  test("publickey-hostbound-v00 naming another host key: disconnect", async () => {
    const s = await serve({ policy: { checkPublicKey: () => true } });
    const c = await raw(s);
    const p = pk(c, "alice", keyA);
    const fields = { ...p.fields, hostKeyBlob: stranger.publicKey.blob };
    c.send(
      encodePublicKeyRequest(
        fields,
        keyA.sign(publicKeySignedData(c.transport.sessionId!, fields), "ssh-ed25519"),
      ),
    );
    assert.match(await c.ended(), /contained wrong host key/);
    assert.equal((await s.connections[0]!.result).user, null);
  });

  test("a signature made for another session (replay) fails", async () => {
    const s = await serve({ policy: { checkPublicKey: () => true } });
    const c = await raw(s);
    c.send(pk(c, "alice", keyA, "publickey").signed(keyA, Buffer.alloc(32, 7)));
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
  });

  test("verifiesSignatures: the signature is left to publicKeyVerified, which has the last word", async () => {
    const seen: { valid: boolean }[] = [];
    const s = await serve({
      policy: {
        checkPublicKey: () => true,
        verifiesSignatures: true,
        // As nsshd's monitor: it verifies, here against this connection's session id.
        publicKeyVerified: ({ key, request, signature }) => {
          const valid = key.verify(publicKeySignedData(sessionId!, request), signature, [request.algorithm]);
          seen.push({ valid });
          return valid;
        },
      },
    });
    const c = await raw(s);
    const sessionId = c.transport.sessionId;
    c.send(pk(c, "alice", keyA, "publickey").signed(keyA, Buffer.alloc(32, 7)));
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE, "a replayed signature, refused by the policy");
    c.send(pk(c, "alice", keyA, "publickey").signed());
    assert.equal((await c.next()).type, Msg.USERAUTH_SUCCESS);
    // The policy saw the bad signature too: the server did not refuse it first.
    assert.deepEqual(seen, [{ valid: false }, { valid: true }]);
  });

  test("without verifiesSignatures a bad signature never reaches publicKeyVerified", async () => {
    let asked = 0;
    const s = await serve({
      policy: { checkPublicKey: () => true, publicKeyVerified: () => (asked++, true) },
    });
    const c = await raw(s);
    c.send(pk(c, "alice", keyA, "publickey").signed(keyA, Buffer.alloc(32, 7)));
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
    assert.equal(asked, 0);
  });

  test("ssh-rsa (SHA-1) signatures are refused unless configured", async () => {
    const rsa = PrivateKey.generate("ssh-rsa", 2048);
    for (const [algs, expected] of [
      [undefined, Msg.USERAUTH_FAILURE],
      [["ssh-rsa", "rsa-sha2-512"], Msg.USERAUTH_SUCCESS],
    ] as const) {
      const s = await serve({
        policy: { checkPublicKey: () => true },
        ...(algs ? { publicKeyAlgorithms: algs } : {}),
      });
      const c = await raw(s);
      const fields = { ...pk(c, "alice", rsa, "publickey").fields, algorithm: "ssh-rsa" };
      c.send(
        encodePublicKeyRequest(
          fields,
          rsa.sign(publicKeySignedData(c.transport.sessionId!, fields), "ssh-rsa"),
        ),
      );
      assert.equal((await c.next()).type, expected);
    }
  });

  test("a policy that throws counts as no", async () => {
    const s = await serve({
      policy: {
        checkPassword: () => {
          throw new Error("directory down");
        },
      },
    });
    const c = await raw(s);
    c.send(encodePasswordRequest("alice", "ssh-connection", "x"));
    assert.equal((await c.next()).type, Msg.USERAUTH_FAILURE);
    assert.match(s.connections[0]!.log.join("\n"), /authentication policy failed: directory down/);
  });

  test("a policy that never answers does not outlive the connection", async () => {
    const s = await serve({ policy: { checkPassword: () => new Promise<boolean>(() => {}) } });
    const c = await raw(s);
    c.send(encodePasswordRequest("alice", "ssh-connection", "x"));
    await new Promise((r) => setTimeout(r, 20));
    c.transport.disconnect();
    const r = await withTimeout(s.connections[0]!.result, 5000, "the server to give up");
    assert.equal(r.user, null);
    assert.match(r.error!.message, /closed|disconnect/i);
  });

  test("abort: a pending policy call is dropped and the client disconnected", async () => {
    const ac = new AbortController();
    const s = await startAuthServer(() => ({
      policy: { checkPassword: () => (setTimeout(() => ac.abort(), 10), new Promise<boolean>(() => {})) },
      signal: ac.signal,
    }));
    servers.push(s);
    const c = await raw(s);
    c.send(encodePasswordRequest("alice", "ssh-connection", "x"));
    assert.match(await c.ended(), /11: authentication aborted/);
    assert.equal((await s.connections[0]!.result).error!.code, "ABORTED");
  });

  test("AuthenticationMethods naming a method the policy lacks is a configuration error", async () => {
    const s = await serve({
      policy: { checkPublicKey: () => true },
      authenticationMethods: [["publickey", "password"]],
    });
    await raw(s).then(
      (c) => c.ended(),
      () => "closed before the service was accepted",
    );
    assert.equal((await s.connections[0]!.result).error!.code, "CONFIG");
  });

  test("constantTimeEqual", () => {
    assert.equal(constantTimeEqual("secret", "secret"), true);
    assert.equal(constantTimeEqual("secret", "secreT"), false);
    assert.equal(constantTimeEqual("secret", "secret-and-longer"), false);
    assert.equal(constantTimeEqual("", ""), true);
    assert.equal(constantTimeEqual("pässwörd", "pässwörd"), true);
  });
});
