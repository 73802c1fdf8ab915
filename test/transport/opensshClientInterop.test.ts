/**
 * Our server transport against the real OpenSSH `ssh` client (9.2): for every key exchange method, cipher,
 * MAC, host key algorithm and compression method both implement, varied one kind at a time with the others
 * at their defaults, ssh completes key exchange and gets SERVICE_ACCEPT for ssh-userauth. Its -vvv log must
 * show the negotiated algorithms, NEWKEYS and SERVICE_ACCEPT; our side must agree on the algorithms, log
 * no error, and the host key ssh wrote to known_hosts must be ours. There is no user authentication yet:
 * the server answers every USERAUTH_REQUEST with USERAUTH_FAILURE (publickey), so ssh gives up with 255.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { signatureAlgorithm } from "../../src/keys/index.js";
import type { NegotiatedAlgorithms, TransportOptions } from "../../src/transport/index.js";
import { Msg, SshReader, SshWriter } from "../../src/wire/index.js";
import { runOpenSshClient, type OpenSshClientResult } from "../helpers/opensshClient.js";
import {
  startTransportServer,
  type TransportServer,
  type TransportServerConnection,
} from "../helpers/transportServer.js";

/** What ssh 9.2 negotiates with our server when nothing is configured on either side. */
const DEFAULTS = {
  kex: "sntrup761x25519-sha512",
  hostKey: "ssh-ed25519",
  cipher: "chacha20-poly1305@openssh.com",
  mac: null as string | null,
  compression: "none",
};
type Expected = typeof DEFAULTS;

interface Case {
  name: string;
  /** ssh -o options. */
  ssh: Record<string, string>;
  /** What both sides must negotiate, over DEFAULTS. */
  expect: Partial<Expected>;
}

/**
 * A transport server whose connections answer each USERAUTH_REQUEST with USERAUTH_FAILURE and are filed
 * by the user name they asked for: each case uses its own user name, so concurrent cases on one server
 * find their own connection.
 */
interface InteropServer {
  server: TransportServer;
  byUser: Map<string, TransportServerConnection>;
}

async function startInteropServer(
  options: Partial<Omit<TransportOptions, "role" | "socket">> = {},
  opts: { replyDelayMs?: number; onConnection?: (c: TransportServerConnection) => void } = {},
): Promise<InteropServer> {
  const byUser = new Map<string, TransportServerConnection>();
  const server = await startTransportServer(options, (conn) => {
    conn.transport.setMessageHandler((type, payload) => {
      if (type !== Msg.USERAUTH_REQUEST) return;
      const user = new SshReader(payload, 1).utf8(256, "user name");
      byUser.set(user, conn);
      conn.log.push(`test: USERAUTH_REQUEST for ${user}, answering USERAUTH_FAILURE`);
      // RFC 4252 §5.1: name-list of methods that can continue, partial success false.
      const failure = Buffer.from(
        new SshWriter().byte(Msg.USERAUTH_FAILURE).nameList(["publickey"]).boolean(false).toBuffer(),
      );
      const reply = (): void => {
        if (!conn.transport.isClosed) conn.transport.send(failure);
      };
      if (opts.replyDelayMs) setTimeout(reply, opts.replyDelayMs);
      else reply();
    });
    opts.onConnection?.(conn);
  });
  return { server, byUser };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

let userCounter = 0;

/** Run ssh against `srv` with `c`'s options and check both sides. */
async function runCase(srv: InteropServer, c: Case): Promise<void> {
  const want: Expected = { ...DEFAULTS, ...c.expect };
  const user = `interop${++userCounter}`;
  const r = await runOpenSshClient(srv.server.port, { options: c.ssh, user, timeoutMs: 20_000 });
  const conn = srv.byUser.get(user);
  const context = (): string => describeRun(srv, r, conn);

  assert.equal(r.timedOut, false, `ssh timed out${context()}`);
  const expectLine = (re: RegExp, what: string): void => assert.match(r.stderr, re, `${what}${context()}`);
  expectLine(new RegExp(`^debug1: kex: algorithm: ${esc(want.kex)}\\r?$`, "m"), "kex algorithm");
  expectLine(new RegExp(`^debug1: kex: host key algorithm: ${esc(want.hostKey)}\\r?$`, "m"), "host key");
  const macText = want.mac ?? "<implicit>";
  for (const dir of ["server->client", "client->server"]) {
    expectLine(
      new RegExp(
        `^debug1: kex: ${esc(dir)} cipher: ${esc(want.cipher)} MAC: ${esc(macText)} compression: ${esc(want.compression)}\\r?$`,
        "m",
      ),
      `${dir} algorithms`,
    );
  }
  expectLine(/^debug1: SSH2_MSG_NEWKEYS received\r?$/m, "NEWKEYS received");
  expectLine(/^debug\d: SSH2_MSG_SERVICE_ACCEPT received\r?$/m, "SERVICE_ACCEPT received");
  expectLine(/Permission denied \(publickey\)/, "our USERAUTH_FAILURE reached ssh");
  assert.equal(r.status, 255, `ssh exit status${context()}`);

  // Our side.
  assert.ok(conn, `our server saw no USERAUTH_REQUEST for ${user}${context()}`);
  const closeError = await withTimeout(conn.closed, 5000, "the server connection to close");
  assert.ok(
    closeError === null || closeError.code === "CONNECTION_LOST",
    `server connection ended with ${closeError?.code}: ${closeError?.message}${context()}`,
  );
  const errors = conn.log.filter((l) => l.startsWith("error:"));
  assert.deepEqual(errors, [], `server logged errors${context()}`);
  const expectedNegotiated: NegotiatedAlgorithms = {
    kex: want.kex,
    hostKey: want.hostKey,
    cipherC2S: want.cipher,
    cipherS2C: want.cipher,
    macC2S: want.mac,
    macS2C: want.mac,
    compressionC2S: want.compression,
    compressionS2C: want.compression,
  };
  assert.deepEqual(conn.transport.negotiated, expectedNegotiated, `server negotiated${context()}`);

  // The host key ssh saw and stored is ours, for the negotiated algorithm.
  const keyType = signatureAlgorithm(want.hostKey)!.keyType;
  const hostKey = srv.server.hostKeys.find((k) => k.type === keyType)!.publicKey;
  expectLine(
    new RegExp(`^debug1: Server host key: ${esc(keyType)} ${esc(hostKey.fingerprintSha256())}\\r?$`, "m"),
    "server host key fingerprint",
  );
  assertKnownHosts(r, srv.server.port, `${keyType} ${hostKey.blob.toString("base64")}`);
}

/** Both sides' logs, for assertion messages. */
function describeRun(
  srv: InteropServer,
  r: OpenSshClientResult,
  conn: TransportServerConnection | undefined,
): string {
  const ours = conn
    ? conn.log.join("\n")
    : srv.server.connections
        .filter((x) => ![...srv.byUser.values()].includes(x))
        .map((x, i) => `[connection without user ${i}]\n${x.log.join("\n")}`)
        .join("\n");
  return `\n--- ssh -vvv (status ${r.status}) ---\n${r.stderr}\n--- our server ---\n${ours}`;
}

function assertKnownHosts(r: OpenSshClientResult, port: number, keyText: string): void {
  const lines = r.knownHosts.split("\n").filter((l) => l.trim() !== "");
  assert.deepEqual(lines, [`[127.0.0.1]:${port} ${keyText}`], `known_hosts ssh wrote:\n${r.knownHosts}`);
}

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

const WEAK_KEX = [
  "diffie-hellman-group14-sha1",
  "diffie-hellman-group1-sha1",
  "diffie-hellman-group-exchange-sha1",
];
const KEX_CASES = [
  "sntrup761x25519-sha512@openssh.com",
  "sntrup761x25519-sha512",
  "curve25519-sha256",
  "curve25519-sha256@libssh.org",
  "ecdh-sha2-nistp256",
  "ecdh-sha2-nistp384",
  "ecdh-sha2-nistp521",
  "diffie-hellman-group-exchange-sha256",
  "diffie-hellman-group16-sha512",
  "diffie-hellman-group18-sha512",
  "diffie-hellman-group14-sha256",
  ...WEAK_KEX,
];

const CBC_CIPHERS = ["aes128-cbc", "aes192-cbc", "aes256-cbc", "3des-cbc"];
const CIPHER_CASES = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes192-ctr",
  "aes256-ctr",
  ...CBC_CIPHERS,
];
const AEAD = new Set(["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]);

const MAC_CASES = [
  "hmac-sha2-256-etm@openssh.com",
  "hmac-sha2-512-etm@openssh.com",
  "hmac-sha1-etm@openssh.com",
  "hmac-sha2-256",
  "hmac-sha2-512",
  "hmac-sha1",
];

const HOST_KEY_CASES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
];

/** One server per group, shared by its cases; the group's cases run four at a time. */
function group(
  name: string,
  serverOptions: Partial<Omit<TransportOptions, "role" | "socket">>,
  cases: Case[],
): void {
  describe(name, { concurrency: 4 }, () => {
    let srv: InteropServer;
    before(
      async () => {
        srv = await startInteropServer(serverOptions);
      },
      { timeout: 20_000 },
    );
    after(
      async () => {
        await srv?.server.close();
      },
      { timeout: 10_000 },
    );
    for (const c of cases) test(c.name, { timeout: 30_000 }, () => runCase(srv, c));
  });
}

describe("OpenSSH ssh client against our server transport", { concurrency: 2 }, () => {
  group(
    "key exchange",
    { kex: "+" + WEAK_KEX.join(",") },
    KEX_CASES.map((kex) => ({ name: kex, ssh: { KexAlgorithms: kex }, expect: { kex } })),
  );

  group(
    "ciphers",
    { ciphers: "+" + CBC_CIPHERS.join(",") },
    CIPHER_CASES.map((cipher) => ({
      name: cipher,
      ssh: { Ciphers: cipher },
      // Under a non-AEAD cipher the first MAC of ssh's default list that we have is chosen.
      expect: { cipher, mac: AEAD.has(cipher) ? null : "hmac-sha2-256-etm@openssh.com" },
    })),
  );

  group(
    "MACs under aes128-ctr",
    {},
    MAC_CASES.map((mac) => ({
      name: mac,
      ssh: { Ciphers: "aes128-ctr", MACs: mac },
      expect: { cipher: "aes128-ctr", mac },
    })),
  );

  group(
    "host key algorithms",
    { hostKeyAlgorithms: "+ssh-rsa" },
    HOST_KEY_CASES.map((hostKey) => ({
      name: hostKey,
      ssh: { HostKeyAlgorithms: hostKey },
      expect: { hostKey },
    })),
  );

  group("compression", {}, [
    {
      name: "zlib@openssh.com (Compression=yes)",
      ssh: { Compression: "yes" },
      expect: { compression: "zlib@openssh.com" },
    },
  ]);
});

/**
 * Re-keying with the real ssh client needs user authentication first. OpenSSH 9.2's ssh replaces its whole
 * dispatch table with input_userauth_error when it sends SERVICE_REQUEST (sshconnect2.c ssh_userauth2) and
 * keeps it until USERAUTH_SUCCESS, so a KEXINIT from the server at any point between the first NEWKEYS and
 * USERAUTH_SUCCESS is fatal: "input_userauth_error: bad message during authentication: type 20". OpenSSH
 * itself never starts a re-key before authentication, by volume or by time (packet.c
 * ssh_packet_need_rekeying: "client can't cope with rekeying pre-auth").
 */
describe("re-keying before authentication", { concurrency: 3 }, () => {
  test(
    "forced re-key with the real ssh client",
    {
      skip: "ssh cannot re-key before USERAUTH_SUCCESS (see above); this test comes with user authentication",
    },
    () => {},
  );

  test("rekey() asked for during user authentication waits for it, so ssh is not disturbed", async () => {
    const rekeys: Array<Promise<string>> = [];
    const srv = await startInteropServer(
      {},
      {
        onConnection: (conn) =>
          conn.transport.once("service", () => {
            conn.log.push("test: calling rekey() after SERVICE_ACCEPT");
            rekeys.push(
              conn.transport.rekey().then(
                () => "completed",
                (err: Error) => `rejected: ${err.message}`,
              ),
            );
          }),
      },
    );
    try {
      const r = await runOpenSshClient(srv.server.port, { user: "rekey", timeoutMs: 20_000 });
      const conn = srv.server.connections[0];
      const context = describeRun(srv, r, conn);
      assert.equal(r.timedOut, false, `ssh timed out${context}`);
      assert.match(r.stderr, /^debug1: SSH2_MSG_SERVICE_ACCEPT received\r?$/m, context);
      assert.doesNotMatch(r.stderr, /bad message during authentication/, context);
      assert.match(r.stderr, /Permission denied \(publickey\)/, context);
      assert.ok(conn, "no connection");
      await withTimeout(conn.closed, 5000, "the server connection to close");
      assert.equal(conn.log.filter((l) => l.endsWith("SSH2_MSG_KEXINIT sent")).length, 1, context);
      assert.equal(rekeys.length, 1, context);
      // Authentication never succeeded, so the re-key never started; the connection's end rejects it.
      assert.match(await rekeys[0]!, /^rejected: /, context);
    } finally {
      await srv.server.close();
    }
  });

  // Limit-driven re-keys wait for authentication, as OpenSSH's do: a small RekeyLimit must not kill
  // OpenSSH clients that are still authenticating.
  for (const [name, rekeyLimit, replyDelayMs] of [
    ["a volume limit (rekeyLimit.bytes 64)", { bytes: 64 }, 0],
    ["a time limit (rekeyLimit.seconds 1) while the user takes 1.5 s", { seconds: 1 }, 1500],
  ] as const) {
    test(
      `${name} does not start a re-key before authentication`,
      {
        timeout: 30_000,
      },
      async () => {
        const srv = await startInteropServer({ rekeyLimit }, { replyDelayMs });
        try {
          const r = await runOpenSshClient(srv.server.port, { user: "limit", timeoutMs: 20_000 });
          const context = describeRun(srv, r, srv.server.connections[0]);
          assert.doesNotMatch(r.stderr, /bad message during authentication/, context);
          assert.match(r.stderr, /Permission denied \(publickey\)/, context);
        } finally {
          await srv.server.close();
        }
      },
    );
  }
});
