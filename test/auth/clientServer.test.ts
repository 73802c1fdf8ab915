/**
 * Our client authentication against our server authentication: publickey for every key type (host-bound,
 * RSA algorithm from server-sig-algs), signers that are slow or fail, AuthenticationMethods chains,
 * password retries and change requests, keyboard-interactive over several rounds (one without prompts)
 * and given up for another method, banners, "none", AUTH_FAILED, MaxAuthTries, abort, and the hand-over
 * of the messages that follow USERAUTH_SUCCESS to the layer above.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  authenticateClient,
  authenticateServer,
  type ClientAuthOptions,
  type ServerAuthOptions,
  type UserKeySigner,
} from "../../src/auth/index.js";
import { PrivateKey, type KeyType, type PublicKey } from "../../src/keys/index.js";
import type { TransportOptions } from "../../src/transport/index.js";
import { Msg, SshError, SshReader, SshWriter } from "../../src/wire/index.js";
import {
  connectClient,
  startAuthServer,
  type AuthServer,
  type ClientConnection,
} from "../helpers/authHelpers.js";
import { withTimeout } from "../helpers/scriptedPeer.js";
import { startTransportServer, testHostKeys, type TransportServer } from "../helpers/transportServer.js";

const USER = "alice";
const keyTypes: KeyType[] = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
];
const userKeys = new Map(
  keyTypes.map((t) => [t, PrivateKey.generate(t, t === "ssh-rsa" ? 2048 : undefined)]),
);
const stranger = PrivateKey.generate("ssh-ed25519");
const ed = userKeys.get("ssh-ed25519")!;

const servers: Array<{ close(): Promise<void> }> = [];
const clients: ClientConnection[] = [];
after(async () => {
  for (const c of clients) if (!c.transport.isClosed) c.transport.disconnect();
  await Promise.all(servers.map((s) => s.close()));
});

const allow =
  (...keys: PrivateKey[]) =>
  ({ key }: { key: PublicKey }) =>
    keys.some((k) => k.publicKey.equals(key));

async function serve(
  options: Omit<ServerAuthOptions, "log">,
  transport: Partial<Omit<TransportOptions, "role" | "socket">> = {},
): Promise<AuthServer> {
  const s = await startAuthServer(
    () => ({ failureDelayMs: 5, hostKeys: testHostKeys(), ...options }),
    transport,
  );
  servers.push(s);
  return s;
}

async function login(s: AuthServer, options: Partial<ClientAuthOptions>) {
  const c = await connectClient(s.server.port);
  clients.push(c);
  const log: string[] = [];
  const outcome = await withTimeout(
    authenticateClient(c.transport, {
      username: USER,
      log: (l, m) => log.push(`${l}: ${m}`),
      ...options,
    }).then(
      (result) => ({ result, error: null }),
      (error: SshError) => ({ result: null, error }),
    ),
    10_000,
    "authentication",
  );
  const server = await withTimeout(s.connections[0]!.result, 5000, "the server");
  return { ...outcome, log, server, serverLog: s.connections[0]!.log, transport: c.transport };
}

describe("client and server authentication together", { concurrency: 8 }, () => {
  for (const [type, key] of userKeys) {
    test(`publickey ${type}, host-bound`, async () => {
      const s = await serve({ policy: { checkPublicKey: allow(key) } });
      const r = await login(s, { keys: [stranger, key] });
      assert.deepEqual(r.result, { method: "publickey", methods: ["publickey"] });
      assert.ok(r.server.user!.publicKey!.equals(key.publicKey));
      const alg = type === "ssh-rsa" ? "rsa-sha2-512" : type;
      assert.ok(
        r.serverLog.some((l) => l.includes(`publickey-hostbound-v00@openssh.com have ${alg} signature`)),
      );
      assert.ok(r.log.some((l) => l.startsWith("debug1: Offering public key: ED25519 SHA256:")));
    });
  }

  test("RSA: rsa-sha2-256 when the server lists only that", async () => {
    const rsa = userKeys.get("ssh-rsa")!;
    const s = await serve(
      { policy: { checkPublicKey: allow(rsa) } },
      { serverSigAlgs: ["ssh-ed25519", "rsa-sha2-256"] },
    );
    const r = await login(s, { keys: [rsa] });
    assert.equal(r.result!.method, "publickey");
    assert.ok(r.serverLog.some((l) => l.includes("have rsa-sha2-256 signature")));
  });

  test("RSA: skipped when the server lists no RSA algorithm we accept", async () => {
    const rsa = userKeys.get("ssh-rsa")!;
    const s = await serve(
      { policy: { checkPublicKey: allow(rsa) } },
      { serverSigAlgs: ["ssh-ed25519", "ssh-rsa"] },
    );
    const r = await login(s, { keys: [rsa] });
    assert.equal(r.error!.code, "AUTH_FAILED");
    assert.ok(
      r.log.some((l) => /Skipping ssh-rsa key RSA SHA256:\S+: no mutual signature algorithm/.test(l)),
    );
  });

  test("an agent-like signer: asynchronous, and one that fails is skipped", async () => {
    const failing: UserKeySigner = {
      publicKey: stranger.publicKey,
      comment: "broken",
      sign: async () => Promise.reject(new Error("agent refused")),
    };
    const slow: UserKeySigner = {
      publicKey: ed.publicKey,
      comment: "agent-key",
      sign: (data, alg) => new Promise((resolve) => setTimeout(() => resolve(ed.sign(data, alg)), 20)),
    };
    const s = await serve({ policy: { checkPublicKey: allow(stranger, ed) } });
    const r = await login(s, { keys: [failing, slow] });
    assert.equal(r.result!.method, "publickey");
    assert.ok(
      r.log.some(
        (l) => l.startsWith("debug1: signing failed for broken ED25519") && l.endsWith("agent refused"),
      ),
    );
    assert.ok(r.server.user!.publicKey!.equals(ed.publicKey));
  });

  test("AuthenticationMethods publickey,password", async () => {
    const s = await serve({
      policy: { checkPublicKey: allow(ed), checkPassword: ({ password }) => password === "pw" },
      authenticationMethods: [["publickey", "password"]],
    });
    const r = await login(s, { keys: [ed], password: "pw" });
    assert.deepEqual(r.result, { method: "password", methods: ["publickey", "password"] });
    assert.deepEqual(r.server.user!.methods, ["publickey", "password"]);
    assert.ok(r.log.includes('verbose: Authenticated using "publickey" with partial success.'));
  });

  test("AuthenticationMethods publickey,publickey needs two different keys", async () => {
    const ecdsa = userKeys.get("ecdsa-sha2-nistp256")!;
    const s = await serve({
      policy: { checkPublicKey: allow(ed, ecdsa) },
      authenticationMethods: [["publickey", "publickey"]],
    });
    const r = await login(s, { keys: [ed, ed, ecdsa] });
    assert.deepEqual(r.result, { method: "publickey", methods: ["publickey", "publickey"] });
    assert.ok(r.server.user!.publicKey!.equals(ecdsa.publicKey));
    assert.ok(r.serverLog.some((l) => l.includes("refusing previously-used ED25519")));
  });

  test("password: a second prompt after a wrong one", async () => {
    const s = await serve({ policy: { checkPassword: ({ password }) => password === "right" } });
    const attempts: number[] = [];
    const r = await login(s, {
      password: ({ attempt }) => (attempts.push(attempt), attempt === 1 ? "wrong" : "right"),
    });
    assert.equal(r.result!.method, "password");
    assert.deepEqual(attempts, [1, 2]);
    assert.ok(r.log.includes("info: Permission denied, please try again."));
  });

  test("password change request (RFC 4252 §8)", async () => {
    let current = "old";
    const s = await serve({
      policy: {
        checkPassword: ({ password }) =>
          password === current ? { changeRequired: "Password expired. Choose another:" } : false,
        changePassword: ({ oldPassword, newPassword }) => {
          if (oldPassword !== current || newPassword.length < 3) return false;
          current = newPassword;
          return true;
        },
      },
    });
    const prompts: string[] = [];
    const r = await login(s, {
      password: "old",
      changePassword: (prompt) => (prompts.push(prompt), "new-one"),
    });
    assert.equal(r.result!.method, "password");
    assert.deepEqual(prompts, ["Password expired. Choose another:"]);
    assert.equal(current, "new-one");
  });

  test("password change refused by the client: AUTH_FAILED", async () => {
    const s = await serve({
      policy: { checkPassword: () => ({ changeRequired: "Expired" }), changePassword: () => true },
    });
    const r = await login(s, { password: "old", changePassword: () => null });
    assert.equal(r.error!.code, "AUTH_FAILED");
  });

  test("keyboard-interactive: several rounds, one without prompts", async () => {
    const s = await serve({
      policy: {
        keyboardInteractive: async ({ username }, ask) => {
          await ask({ name: "Notice", instructions: "Your password expires soon", prompts: [] });
          const [pw, otp] = await ask({
            prompts: [
              { prompt: "Password: ", echo: false },
              { prompt: "Code: ", echo: true },
            ],
          });
          const [again] = await ask({
            instructions: "once more",
            prompts: [{ prompt: "Code again: ", echo: true }],
          });
          return username === USER && pw === "pw" && otp === "123" && again === "123";
        },
      },
    });
    const seen: string[] = [];
    const r = await login(s, {
      keyboardInteractive: (c) => {
        seen.push(
          `${c.name}|${c.instructions}|${c.prompts.map((p) => `${p.prompt}${p.echo ? "+" : "-"}`).join(",")}`,
        );
        return c.prompts.map((p) => (p.prompt === "Password: " ? "pw" : "123"));
      },
    });
    assert.deepEqual(r.result, { method: "keyboard-interactive", methods: ["keyboard-interactive"] });
    assert.deepEqual(seen, [
      "Notice|Your password expires soon|",
      "||Password: -,Code: +",
      "|once more|Code again: +",
    ]);
  });

  test("keyboard-interactive given up (null): the next method's request takes over", async () => {
    let conversations = 0;
    const s = await serve({
      policy: {
        keyboardInteractive: async (_ctx, ask) => {
          conversations++;
          await ask({ prompts: [{ prompt: "Token: ", echo: true }] });
          return true;
        },
        checkPassword: ({ password }) => password === "pw",
      },
    });
    const r = await login(s, { keyboardInteractive: () => null, password: "pw" });
    assert.deepEqual(r.result, { method: "password", methods: ["password"] });
    assert.equal(conversations, 1);
    assert.deepEqual(r.server.user!.methods, ["password"]);
  });

  test("banner, and none accepted by the policy", async () => {
    const s = await serve({
      policy: { allowNone: ({ username }) => username === USER },
      banner: "Be nice.\n",
    });
    const banners: string[] = [];
    const r = await login(s, { onBanner: (m) => banners.push(m) });
    assert.deepEqual(r.result, { method: "none", methods: ["none"] });
    assert.deepEqual(banners, ["Be nice.\n"]);
    assert.deepEqual(r.server.user, { username: USER, methods: ["none"] });
  });

  test("nothing works: AUTH_FAILED Permission denied (…), disconnected", async () => {
    const s = await serve({ policy: { checkPublicKey: () => false, checkPassword: () => false } });
    const r = await login(s, { keys: [stranger], password: "x" });
    assert.ok(r.error instanceof SshError);
    assert.equal(r.error.code, "AUTH_FAILED");
    assert.equal(r.error.message, "Permission denied (publickey,password).");
    assert.equal(r.transport.isClosed, true);
    assert.ok(r.log.includes("debug1: No more authentication methods to try."));
  });

  test("MaxAuthTries seen from the client: the server's disconnect", async () => {
    const keys = [1, 2, 3].map(() => PrivateKey.generate("ssh-ed25519"));
    const s = await serve({ policy: { checkPublicKey: allow(ed) }, maxAuthTries: 2 });
    const r = await login(s, { keys: [...keys, ed] });
    assert.equal(r.error!.code, "DISCONNECTED");
    assert.match(r.error!.message, /Too many authentication failures/);
  });

  test("abort while a password is being asked for", async () => {
    const s = await serve({ policy: { checkPassword: () => true } });
    const ac = new AbortController();
    const r = await login(s, {
      signal: ac.signal,
      password: () => {
        setTimeout(() => ac.abort(), 10);
        return new Promise<string>(() => {});
      },
    });
    assert.equal(r.error!.code, "ABORTED");
    assert.equal(r.transport.isClosed, true);
    assert.match(r.server.error!.message, /13: authentication cancelled/);
  });

  test("messages right behind USERAUTH_SUCCESS reach the handler set after the await", async () => {
    let server!: TransportServer;
    server = await startTransportServer({}, (conn) => {
      void authenticateServer(conn.transport, {
        policy: { checkPassword: () => true },
        failureDelayMs: 5,
      }).then(() => {
        // Sent in the same tick as USERAUTH_SUCCESS: one TCP write with it.
        for (const name of ["first@test", "second@test"]) {
          conn.transport.send(
            Buffer.from(new SshWriter().byte(Msg.GLOBAL_REQUEST).string(name).boolean(false).toBuffer()),
          );
        }
      });
    });
    servers.push(server);
    const c = await connectClient(server.port);
    clients.push(c);
    await authenticateClient(c.transport, { username: USER, password: "pw" });
    const got: string[] = [];
    const two = new Promise<void>((resolve) =>
      c.transport.setMessageHandler((type, payload) => {
        if (type === Msg.GLOBAL_REQUEST) got.push(new SshReader(payload, 1).ascii());
        if (got.length === 2) resolve();
      }),
    );
    await withTimeout(two, 5000, "the global requests");
    assert.deepEqual(got, ["first@test", "second@test"]);
  });
});
