/**
 * AgentClient against the real OpenSSH ssh-agent (started here in the foreground on a socket of ours, keys
 * loaded by ssh-add and by our addKey, checked with ssh-add -l / -L), and against fake agents on Unix sockets
 * that answer with garbage, oversized or out-of-step messages, bad signatures, or not at all.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import {
  AgentClient,
  AgentFrameReader,
  AgentMsg,
  AgentSignFlag,
  encodeAgentFrame,
  type AgentFrame,
} from "../../src/agent/index.js";
import {
  fingerprintLine,
  parsePrivateKey,
  PrivateKey,
  PublicKey,
  signatureAlgorithmsForKeyType,
  signatureBlobAlgorithm,
  type KeyType,
} from "../../src/keys/index.js";
import { SshError, SshReader, SshWriter } from "../../src/wire/index.js";
import { makeTempDir, mapLimit, removeTempDir, sshKeygen } from "../keys/sshKeygen.js";

// --- Helpers: a real ssh-agent, ssh-add, fake agents ---

interface RunningAgent {
  readonly sock: string;
  stop(): Promise<void>;
}

/** Environment without anything that would let ssh-agent ask a person (confirm) or reach another agent. */
function quietEnv(sock?: string): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ["DISPLAY", "WAYLAND_DISPLAY", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE", "SSH_AUTH_SOCK"]) {
    delete env[k];
  }
  if (sock) env["SSH_AUTH_SOCK"] = sock;
  return env;
}

/** `ssh-agent -D -a sock`: foreground, our socket; resolves once the socket exists. */
async function startAgent(sock: string): Promise<RunningAgent> {
  const child: ChildProcess = spawn("ssh-agent", ["-D", "-a", sock], {
    stdio: ["ignore", "pipe", "pipe"],
    env: quietEnv(),
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 5000;
  while (!fs.existsSync(sock)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`ssh-agent did not start: ${log}`);
    }
    await delay(20);
  }
  return {
    sock,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function sshAdd(sock: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      "ssh-add",
      args,
      { env: quietEnv(sock), encoding: "utf8" },
      (err, stdout, stderr) => {
        const status = err ? ((err as { code?: unknown }).code as number) : 0;
        resolve({ status: typeof status === "number" ? status : -1, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

/** `ssh-add -l` lines ([] for "The agent has no identities."). */
async function agentList(sock: string, flag = "-l"): Promise<string[]> {
  const r = await sshAdd(sock, [flag]);
  if (r.status === 1 && /no identities/.test(r.stdout + r.stderr)) return [];
  assert.equal(r.status, 0, `ssh-add ${flag}: ${r.stderr}`);
  return r.stdout.trimEnd().split("\n");
}

interface FakeAgent {
  readonly path: string;
  connections: number;
  readonly requests: AgentFrame[];
  /** Socket errors the fake saw (a client dropping the connection mid-write shows up here). */
  readonly errors: Error[];
  close(): Promise<void>;
}

/** A net.Server on a Unix socket that hands each request message to `respond`. */
async function fakeAgent(
  sockPath: string,
  respond: (req: AgentFrame, socket: net.Socket, fake: FakeAgent) => void,
): Promise<FakeAgent> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    fake.connections++;
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", (err) => fake.errors.push(err));
    const reader = new AgentFrameReader();
    s.on("data", (d: Buffer) => {
      for (const f of reader.push(d)) {
        fake.requests.push(f);
        respond(f, s, fake);
      }
    });
  });
  const fake: FakeAgent = {
    path: sockPath,
    connections: 0,
    requests: [],
    errors: [],
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(sockPath, () => resolve());
  });
  return fake;
}

function identitiesAnswer(entries: [Buffer, string][]): Buffer {
  const w = new SshWriter().uint32(entries.length);
  for (const [blob, comment] of entries) w.string(blob).string(comment);
  return encodeAgentFrame(AgentMsg.IDENTITIES_ANSWER, w.toBuffer());
}

function signResponse(signature: Buffer): Buffer {
  return encodeAgentFrame(AgentMsg.SIGN_RESPONSE, new SshWriter().string(signature).toBuffer());
}

/** Parse a SIGN_REQUEST as a fake agent sees it. */
function parseSignRequest(req: AgentFrame): { blob: Buffer; data: Buffer; flags: number } {
  const r = new SshReader(req.payload);
  const blob = Buffer.from(r.string());
  const data = Buffer.from(r.string());
  const flags = r.uint32();
  r.done();
  return { blob, data, flags };
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<SshError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SshError, `expected an SshError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected SshError(${code})`);
}

const KEYS = [
  { name: "ed25519", args: ["-t", "ed25519"] },
  { name: "ecdsa256", args: ["-t", "ecdsa", "-b", "256"] },
  { name: "ecdsa384", args: ["-t", "ecdsa", "-b", "384"] },
  { name: "ecdsa521", args: ["-t", "ecdsa", "-b", "521"] },
  { name: "rsa2048", args: ["-t", "rsa", "-b", "2048"] },
];

const isOurs = (line: string): boolean => !/\((DSA|[A-Z0-9]+-CERT)\)$/.test(line);

let dir = "";
before(async () => {
  dir = makeTempDir("nssh-agent-");
  await mapLimit([...KEYS, { name: "dsa", args: ["-t", "dsa"] }], 2, (k) =>
    sshKeygen([
      "-q",
      ...k.args,
      "-N",
      "",
      "-C",
      `${k.name} key, ünïcode comment`,
      "-f",
      path.join(dir, k.name),
    ]),
  );
  // A certificate for the ed25519 key: ssh-add loads it next to the key; we skip certificates for now.
  await sshKeygen(["-q", "-t", "ed25519", "-N", "", "-C", "ca", "-f", path.join(dir, "ca")]);
  await sshKeygen([
    "-q",
    "-s",
    path.join(dir, "ca"),
    "-I",
    "cert",
    "-n",
    "user",
    path.join(dir, "ed25519.pub"),
  ]);
});
after(() => removeTempDir(dir));

// --- Against OpenSSH's ssh-agent, keys loaded by ssh-add ---

describe("AgentClient with OpenSSH ssh-agent and keys from ssh-add", () => {
  let agent: RunningAgent;
  let client: AgentClient;
  before(async () => {
    agent = await startAgent(path.join(dir, "agent.sock"));
    for (const k of [...KEYS.map((k) => k.name), "dsa"]) {
      const r = await sshAdd(agent.sock, [path.join(dir, k)]);
      assert.equal(r.status, 0, `ssh-add ${k}: ${r.stderr}`);
    }
    client = new AgentClient(agent.sock);
  });
  after(async () => {
    client.close();
    await agent.stop();
  });

  test("listKeys gives ssh-add -l's keys, comments and fingerprints, skipping DSA and certificates", async () => {
    const listed = await agentList(agent.sock);
    assert.ok(listed.some((l) => l.endsWith("(DSA)")));
    assert.ok(listed.some((l) => l.endsWith("(ED25519-CERT)")));
    const keys = await client.listKeys();
    assert.deepEqual(
      keys.map((k) => fingerprintLine(k.publicKey, k.comment)),
      listed.filter(isOurs),
    );
    assert.equal(keys.length, KEYS.length);
    for (const k of keys) assert.match(k.comment, /^[a-z0-9]+ key, ünïcode comment$/);
    // AgentKey fits the auth layer's signer shape (a compile-time check).
    const signer: { readonly publicKey: PublicKey; sign(d: Buffer, alg: string): Promise<Buffer> } = keys[0]!;
    assert.ok(signer.publicKey);
    // And the same public keys as the .pub files, in ssh-add -L's form.
    assert.deepEqual(
      keys.map((k) => k.publicKey.toLine(k.comment)),
      (await agentList(agent.sock, "-L")).filter((l) => !/^(ssh-dss|\S+-cert-v01@openssh\.com) /.test(l)),
    );
  });

  test("sign with every key and every algorithm it can make (ssh-rsa included), verified by PublicKey", async () => {
    const keys = await client.listKeys();
    let count = 0;
    for (const key of keys) {
      for (const alg of signatureAlgorithmsForKeyType(key.publicKey.type)) {
        const data = randomBytes(100);
        const sig = await key.sign(data, alg.name);
        assert.equal(signatureBlobAlgorithm(sig), alg.name);
        assert.ok(key.publicKey.verify(data, sig, [alg.name]), `${alg.name} verifies`);
        assert.ok(!key.publicKey.verify(Buffer.concat([data, Buffer.from([0])]), sig));
        count++;
      }
    }
    assert.equal(count, 4 + 3); // ed25519 and three ECDSA curves; RSA: rsa-sha2-512, rsa-sha2-256, ssh-rsa
  });

  test("concurrent requests are serialized on the one connection", async () => {
    const keys = await client.listKeys();
    const jobs = keys.flatMap((key) =>
      signatureAlgorithmsForKeyType(key.publicKey.type).map(async (alg) => {
        const data = randomBytes(32);
        const sig = await client.sign(key.publicKey, data, alg.name);
        assert.ok(key.publicKey.verify(data, sig, [alg.name]));
      }),
    );
    const lists = [client.listKeys(), client.listKeys()];
    await Promise.all([...jobs, ...lists]);
    for (const l of await Promise.all(lists)) assert.equal(l.length, KEYS.length);
  });

  test("signing with a key the agent does not hold is SshError(AGENT); the client stays usable", async () => {
    const stranger = PrivateKey.generate("ssh-ed25519").publicKey;
    await rejectsWith(client.sign(stranger, Buffer.from("data"), "ssh-ed25519"), "AGENT", /refused/);
    assert.equal((await client.listKeys()).length, KEYS.length);
  });

  test("an algorithm the key cannot make is refused before asking the agent", async () => {
    const [ed] = await client.listKeys();
    await rejectsWith(client.sign(ed!.publicKey, Buffer.from("x"), "rsa-sha2-256"), "UNSUPPORTED");
  });
});

// --- Managing keys: addKey, removeKey, removeAll, lock, unlock ---

describe("AgentClient managing OpenSSH ssh-agent's keys", () => {
  let agent: RunningAgent;
  let client: AgentClient;
  const added: PrivateKey[] = [];
  before(async () => {
    agent = await startAgent(path.join(dir, "agent2.sock"));
    client = new AgentClient(agent.sock);
  });
  after(async () => {
    client.close();
    await agent.stop();
  });

  test("addKey: ssh-add -l lists the keys with the right fingerprints and comments, and they sign", async () => {
    const generated: [KeyType, number?][] = [
      ["ssh-ed25519"],
      ["ecdsa-sha2-nistp256"],
      ["ecdsa-sha2-nistp384"],
      ["ecdsa-sha2-nistp521"],
      ["ssh-rsa", 2048],
    ];
    for (const [type, bits] of generated) added.push(PrivateKey.generate(type, bits));
    // Keys made by ssh-keygen too (RSA's iqmp/p/q as OpenSSH orders them, ECDSA scalars with leading zeros).
    for (const k of KEYS) added.push(parsePrivateKey(fs.readFileSync(path.join(dir, k.name))));
    for (const [i, key] of added.entries()) await client.addKey(key, `added ${i} ${key.type}`);

    const expected = added.map((key, i) => fingerprintLine(key, `added ${i} ${key.type}`));
    assert.deepEqual(await agentList(agent.sock), expected);
    assert.deepEqual(
      await agentList(agent.sock, "-L"),
      added.map((key, i) => key.publicKey.toLine(`added ${i} ${key.type}`)),
    );
    const keys = await client.listKeys();
    assert.deepEqual(
      keys.map((k) => fingerprintLine(k.publicKey, k.comment)),
      expected,
    );
    for (const key of keys) {
      for (const alg of signatureAlgorithmsForKeyType(key.publicKey.type)) {
        const data = randomBytes(64);
        assert.ok(key.publicKey.verify(data, await key.sign(data, alg.name), [alg.name]));
      }
    }
  });

  test("addKey's comment defaults to the key's own", async () => {
    const key = PrivateKey.generate("ssh-ed25519");
    key.comment = "its own comment";
    await client.addKey(key);
    assert.ok((await agentList(agent.sock)).includes(fingerprintLine(key, "its own comment")));
    await client.removeKey(key.publicKey);
  });

  test("addKey with confirm: listed, but signing is refused when nobody can confirm", async () => {
    const key = PrivateKey.generate("ssh-ed25519");
    await client.addKey(key, "needs confirmation", { confirm: true });
    assert.ok((await agentList(agent.sock)).includes(fingerprintLine(key, "needs confirmation")));
    await rejectsWith(client.sign(key.publicKey, Buffer.from("x"), "ssh-ed25519"), "AGENT", /refused/);
    await client.removeKey(key.publicKey);
  });

  test("addKey with a lifetime: the agent forgets the key when it runs out", async () => {
    const key = PrivateKey.generate("ecdsa-sha2-nistp256");
    // ssh-agent counts lifetimes in whole seconds of its clock: a key of 1 s added late in a second can be
    // gone a few milliseconds later, before the first look. One of 2 s lives at least a second.
    await client.addKey(key, "short-lived", { lifetime: 2, confirm: false });
    const line = fingerprintLine(key, "short-lived");
    assert.ok((await agentList(agent.sock)).includes(line));
    const deadline = Date.now() + 5000;
    while ((await agentList(agent.sock)).includes(line)) {
      assert.ok(Date.now() < deadline, "the key outlived its lifetime");
      await delay(250);
    }
    await rejectsWith(client.addKey(key, "x", { lifetime: 0 }), "CONFIG");
  });

  test("removeKey removes one key; removing it again is SshError(AGENT)", async () => {
    const victim = added[0]!;
    await client.removeKey(victim.publicKey);
    const listed = await agentList(agent.sock);
    assert.equal(listed.length, added.length - 1);
    assert.ok(!listed.some((l) => l.includes(victim.publicKey.fingerprintSha256())));
    await rejectsWith(client.removeKey(victim.publicKey), "AGENT", /refused: remove/);
  });

  test("lock and unlock", async () => {
    const before = (await client.listKeys()).length;
    assert.ok(before > 0);
    await client.lock("sesame");
    assert.deepEqual(await client.listKeys(), []);
    assert.deepEqual(await agentList(agent.sock), []);
    await rejectsWith(client.sign(added[1]!.publicKey, Buffer.from("x"), added[1]!.type), "AGENT");
    await rejectsWith(client.lock("again"), "AGENT", /refused: lock/);
    await rejectsWith(client.unlock("wrong"), "AGENT", /refused: unlock/);
    await client.unlock(Buffer.from("sesame"));
    assert.equal((await client.listKeys()).length, before);
  });

  test("removeAll empties the agent", async () => {
    await client.removeAll();
    assert.deepEqual(await agentList(agent.sock), []);
    assert.deepEqual(await client.listKeys(), []);
  });
});

// --- Broken agents ---

describe("AgentClient with broken agents", () => {
  let n = 0;
  const fakes: FakeAgent[] = [];
  const clients: AgentClient[] = [];
  const fake = async (respond: Parameters<typeof fakeAgent>[1]): Promise<FakeAgent> => {
    const f = await fakeAgent(path.join(dir, `fake${n++}.sock`), respond);
    fakes.push(f);
    return f;
  };
  const clientOf = (f: FakeAgent, timeout = 5000): AgentClient => {
    const c = new AgentClient(f.path, { timeout });
    clients.push(c);
    return c;
  };
  after(async () => {
    for (const c of clients) c.close();
    for (const f of fakes) await f.close();
  });

  const garbage: [string, Buffer, RegExp][] = [
    [
      "a truncated key blob",
      Buffer.from("0000000f0c0000000100000020aabbccddeeff", "hex"),
      /truncated key blob/,
    ],
    ["nkeys of 2^32-1 in a short message", Buffer.from("000000050cffffffff", "hex"), /keys announced/],
    ["trailing bytes after the keys", Buffer.from("000000070c00000000abcd", "hex"), /trailing/],
    ["an empty message", Buffer.from("00000000", "hex"), /empty message/],
    ["a message over 256 KiB", Buffer.from("00040001", "hex"), /over the limit of 262144/],
    ["text, not the agent protocol", Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n"), /over the limit/],
    ["a success instead of the identities", encodeAgentFrame(AgentMsg.SUCCESS), /unexpected agent message 6/],
  ];
  for (const [what, reply, message] of garbage) {
    test(`${what} is SshError(AGENT), and the next request opens a new connection`, async () => {
      let calls = 0;
      const f = await fake((_req, s) => {
        if (calls++ === 0) s.write(reply);
        else s.write(identitiesAnswer([]));
      });
      const c = clientOf(f);
      await rejectsWith(c.listKeys(), "AGENT", message);
      assert.deepEqual(await c.listKeys(), []);
      assert.ok(f.connections >= 1);
    });
  }

  test("an oversized message is refused at its length field, before the body is buffered", async () => {
    const f = await fake((_req, s) => {
      // Announce 1 GiB and send 300 KiB of it, then nothing: waiting for the rest would hang until timeout.
      s.write(Buffer.from("400000000c", "hex"));
      s.write(Buffer.alloc(300 * 1024));
    });
    const c = clientOf(f, 10_000);
    const t0 = Date.now();
    await rejectsWith(c.listKeys(), "AGENT", /1073741824 bytes, over the limit/);
    assert.ok(Date.now() - t0 < 2000);
  });

  test("an agent that closes the connection without answering is SshError(AGENT)", async () => {
    const f = await fake((_req, s) => s.destroy());
    await rejectsWith(clientOf(f).listKeys(), "AGENT", /closed the connection/);
  });

  test("an agent that never answers: timeout, then abort; the queue and the client survive", async () => {
    let answer = false;
    const f = await fake((_req, s) => {
      if (answer) s.write(identitiesAnswer([]));
    });
    const c = clientOf(f, 300);
    // Two requests queued: both fail by the timeout, the second without ever reaching the wire.
    const [a, b] = [c.listKeys(), c.listKeys()];
    await rejectsWith(a, "AGENT", /did not answer within 300 ms \(list keys\)/);
    await rejectsWith(b, "AGENT", /did not answer/);
    const ac = new AbortController();
    const aborted = c.listKeys({ signal: ac.signal });
    setTimeout(() => ac.abort(new Error("user gave up")), 50);
    const err = await rejectsWith(aborted, "ABORTED");
    assert.equal((err.cause as Error).message, "user gave up");
    await rejectsWith(c.listKeys({ signal: AbortSignal.abort() }), "ABORTED");
    answer = true;
    assert.deepEqual(await c.listKeys(), []);
    // The timed-out and aborted exchanges each cost their connection.
    assert.equal(f.connections, 3);
  });

  test("requests reach the agent one at a time, in order", async () => {
    let outstanding = 0;
    let overlap = false;
    const f = await fake((req, s) => {
      if (outstanding++ > 0) overlap = true;
      setTimeout(() => {
        outstanding--;
        if (req.type === AgentMsg.REQUEST_IDENTITIES) s.write(identitiesAnswer([]));
        else s.write(encodeAgentFrame(AgentMsg.FAILURE));
      }, 20);
    });
    const c = clientOf(f);
    const stranger = PrivateKey.generate("ssh-ed25519").publicKey;
    const results = await Promise.allSettled([
      c.listKeys(),
      c.sign(stranger, Buffer.from("a"), "ssh-ed25519"),
      c.listKeys(),
      c.removeAll(),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ["fulfilled", "rejected", "fulfilled", "rejected"],
    );
    assert.ok(!overlap);
    assert.deepEqual(
      f.requests.map((r) => r.type),
      [
        AgentMsg.REQUEST_IDENTITIES,
        AgentMsg.SIGN_REQUEST,
        AgentMsg.REQUEST_IDENTITIES,
        AgentMsg.REMOVE_ALL_IDENTITIES,
      ],
    );
    assert.equal(f.connections, 1);
  });

  test("an answer nobody asked for drops the connection", async () => {
    const f = await fake((_req, s) => s.write(Buffer.concat([identitiesAnswer([]), identitiesAnswer([])])));
    const c = clientOf(f);
    assert.deepEqual(await c.listKeys(), []);
    await delay(50);
    assert.deepEqual(await c.listKeys(), []);
    assert.equal(f.connections, 2);
  });

  test("listKeys skips key types we do not support and fails on a corrupt key of a known type", async () => {
    const ed = PrivateKey.generate("ssh-ed25519").publicKey;
    const typed = (t: string): Buffer => new SshWriter().string(t).string(randomBytes(32)).toBuffer();
    let corrupt = false;
    const f = await fake((_req, s) => {
      const entries: [Buffer, string][] = [
        [typed("ssh-dss"), "dsa"],
        [typed("sk-ssh-ed25519@openssh.com"), "security key"],
        [typed("ssh-ed25519-cert-v01@openssh.com"), "certificate"],
        [ed.blob, "the one we know"],
      ];
      if (corrupt)
        entries.push([new SshWriter().string("ssh-ed25519").string(randomBytes(31)).toBuffer(), "bad"]);
      s.write(identitiesAnswer(entries));
    });
    const c = clientOf(f);
    const keys = await c.listKeys();
    assert.equal(keys.length, 1);
    assert.ok(keys[0]!.publicKey.equals(ed));
    assert.equal(keys[0]!.comment, "the one we know");
    corrupt = true;
    await rejectsWith(c.listKeys(), "AGENT", /does not parse \(bad\)/);
  });

  test("signatures: checked for their algorithm and verified before they are returned", async () => {
    const rsa = parsePrivateKey(fs.readFileSync(path.join(dir, "rsa2048")));
    const ed = PrivateKey.generate("ssh-ed25519");
    let mode: "honest" | "ignore flags" | "bad signature" | "garbage" | "truncated" = "honest";
    const f = await fake((req, s) => {
      const { blob, data, flags } = parseSignRequest(req);
      const key = blob.equals(rsa.publicKey.blob) ? rsa : ed;
      if (mode === "honest") {
        // As ssh-agent decides the algorithm from the flags (§4.5.1).
        const alg =
          key === ed
            ? "ssh-ed25519"
            : flags & AgentSignFlag.RSA_SHA2_256
              ? "rsa-sha2-256"
              : flags & AgentSignFlag.RSA_SHA2_512
                ? "rsa-sha2-512"
                : "ssh-rsa";
        s.write(signResponse(key.sign(data, alg)));
      } else if (mode === "ignore flags") {
        s.write(signResponse(key.sign(data, key === ed ? "ssh-ed25519" : "ssh-rsa")));
      } else if (mode === "bad signature") {
        s.write(
          signResponse(key.sign(Buffer.concat([data, Buffer.from("!")]), key.defaultSignatureAlgorithm())),
        );
      } else if (mode === "truncated") {
        s.write(encodeAgentFrame(AgentMsg.SIGN_RESPONSE, Buffer.from("00000004abcd", "hex")));
      } else {
        // A well-formed sign response whose signature is no signature blob at all.
        s.write(signResponse(Buffer.from("abcd")));
      }
    });
    const c = clientOf(f);
    const data = Buffer.from("session id and userauth request");
    for (const alg of ["rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"]) {
      assert.ok(rsa.publicKey.verify(data, await c.sign(rsa.publicKey, data, alg), [alg]));
    }
    assert.deepEqual(
      f.requests.map((r) => parseSignRequest(r).flags),
      [AgentSignFlag.RSA_SHA2_256, AgentSignFlag.RSA_SHA2_512, 0],
    );
    mode = "ignore flags";
    await rejectsWith(
      c.sign(rsa.publicKey, data, "rsa-sha2-256"),
      "AGENT",
      /ssh-rsa signature when rsa-sha2-256/,
    );
    mode = "bad signature";
    await rejectsWith(c.sign(ed.publicKey, data, "ssh-ed25519"), "AGENT", /does not verify/);
    await rejectsWith(c.sign(rsa.publicKey, data, "rsa-sha2-512"), "AGENT", /does not verify/);
    mode = "garbage";
    await rejectsWith(c.sign(ed.publicKey, data, "ssh-ed25519"), "AGENT", /malformed signature/);
    mode = "truncated";
    await rejectsWith(c.sign(ed.publicKey, data, "ssh-ed25519"), "AGENT", /malformed sign response/);
  });

  test("a request over the agent's 256 KiB limit is refused without sending it", async () => {
    const f = await fake(() => assert.fail("nothing should be sent"));
    const ed = PrivateKey.generate("ssh-ed25519").publicKey;
    await rejectsWith(clientOf(f).sign(ed, Buffer.alloc(300 * 1024), "ssh-ed25519"), "AGENT", /exceeds/);
    assert.equal(f.requests.length, 0);
  });

  test("close(): the request in flight and later ones fail with SshError(AGENT)", async () => {
    const f = await fake(() => undefined);
    const c = clientOf(f);
    const pending = c.listKeys();
    await delay(50);
    c.close();
    await rejectsWith(pending, "AGENT", /closed/);
    await rejectsWith(c.listKeys(), "AGENT", /closed/);
  });
});

// --- No agent ---

describe("AgentClient without an agent", () => {
  test("no SSH_AUTH_SOCK: OpenSSH's message", () => {
    const saved = process.env["SSH_AUTH_SOCK"];
    delete process.env["SSH_AUTH_SOCK"];
    try {
      for (const make of [() => new AgentClient(), () => new AgentClient("")]) {
        assert.throws(make, (err: unknown) => {
          assert.ok(err instanceof SshError);
          assert.equal(err.code, "AGENT");
          assert.equal(err.message, "Could not open a connection to your authentication agent.");
          return true;
        });
      }
    } finally {
      if (saved !== undefined) process.env["SSH_AUTH_SOCK"] = saved;
    }
  });

  test("SSH_AUTH_SOCK is the default socket", async () => {
    const saved = process.env["SSH_AUTH_SOCK"];
    process.env["SSH_AUTH_SOCK"] = path.join(dir, "from-env.sock");
    try {
      assert.equal(new AgentClient().socketPath, path.join(dir, "from-env.sock"));
    } finally {
      if (saved === undefined) delete process.env["SSH_AUTH_SOCK"];
      else process.env["SSH_AUTH_SOCK"] = saved;
    }
  });

  test("a socket that is not there: SshError(AGENT) naming it", async () => {
    const c = new AgentClient(path.join(dir, "missing.sock"));
    await rejectsWith(c.listKeys(), "AGENT", /Error connecting to agent .*missing\.sock: .*ENOENT/);
    c.close();
  });
});
