/**
 * Our client transport against a real OpenSSH sshd: every key exchange, cipher, MAC, host key algorithm
 * and compression OpenSSH 9.2 shares with us completes key exchange and reaches SERVICE_ACCEPT; after a
 * (test-only) publickey login, re-keying on demand and by volume, and zlib@openssh.com, keep packets flowing.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { PrivateKey, parsePublicKeyLine } from "../../src/keys/index.js";
import { Transport, type TransportOptions } from "../../src/transport/index.js";
import { authenticateClient } from "../../src/auth/index.js";
import { Connection } from "../../src/connection/index.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";

const skip = opensshAvailable() ? false : "OpenSSH sshd is not installed";
const user = os.userInfo().username;

interface Connected {
  transport: Transport;
  log: string[];
  closed: Promise<Error | null>;
}

async function connectTo(server: OpenSshServer, options: Partial<TransportOptions> = {}): Promise<Connected> {
  const socket = net.connect(server.port, "127.0.0.1");
  const log: string[] = [];
  const seen: string[] = [];
  const transport = new Transport({
    role: "client",
    socket,
    verifyHostKey: (key) => {
      seen.push(key.toLine());
      return [...server.hostPublicKeys.values()].some((line) => parsePublicKeyLine(line).key.equals(key));
    },
    log: (level, message) => log.push(`${level}: ${message}`),
    ...options,
  });
  const closed = new Promise<Error | null>((resolve) => transport.once("close", resolve));
  await new Promise<void>((resolve, reject) => {
    transport.once("ready", resolve);
    void closed.then((err) => reject(err ?? new Error("closed before ready")));
  });
  return { transport, log, closed };
}

async function handshakeCase(server: OpenSshServer, options: Partial<TransportOptions>): Promise<Connected> {
  const c = await connectTo(server, options);
  await c.transport.requestService("ssh-userauth");
  c.transport.disconnect();
  return c;
}

/** Log in with the real auth layer; the connection layer then answers keepalive round trips. */
async function login(t: Transport, key: PrivateKey): Promise<Connection> {
  await authenticateClient(t, { username: user, keys: [key], methods: ["publickey"] });
  return new Connection(t);
}

/** keepalive@openssh.com with want-reply: sshd answers failure, which proves packets flow both ways. */
async function roundTrip(conn: Connection): Promise<boolean> {
  return (await conn.globalRequest("keepalive@openssh.com", Buffer.alloc(0), true)).success;
}

describe("our client transport against OpenSSH sshd", { skip, concurrency: 4 }, () => {
  let server: OpenSshServer;
  const clientKey = PrivateKey.generate("ssh-ed25519");

  before(async () => {
    server = await startOpenSshServer([
      "KexAlgorithms +diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1",
      "Ciphers +aes128-cbc,aes192-cbc,aes256-cbc,3des-cbc",
      "HostKeyAlgorithms +ssh-rsa",
      "Compression yes",
    ]);
    fs.writeFileSync(path.join(server.dir, "authorized_keys"), clientKey.publicKey.toLine() + "\n");
  });
  after(async () => {
    await server?.stop();
  });

  const kexes = [
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
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group1-sha1",
    "diffie-hellman-group-exchange-sha1",
  ];
  for (const kex of kexes) {
    test(`kex ${kex}`, { timeout: 30_000 }, async () => {
      const c = await handshakeCase(server, { kex: [kex] });
      assert.equal(c.transport.negotiated?.kex, kex);
      assert.ok(c.log.includes(`debug1: kex: algorithm: ${kex}`));
      assert.ok(c.log.includes("debug2: service_accept: ssh-userauth"));
    });
  }

  const ciphers = [
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-cbc",
    "aes192-cbc",
    "aes256-cbc",
    "3des-cbc",
  ];
  for (const cipher of ciphers) {
    test(`cipher ${cipher}`, { timeout: 30_000 }, async () => {
      const c = await handshakeCase(server, { ciphers: [cipher], kex: ["curve25519-sha256"] });
      assert.equal(c.transport.negotiated?.cipherC2S, cipher);
      assert.equal(c.transport.negotiated?.cipherS2C, cipher);
    });
  }

  const macs = [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha1-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
    "hmac-sha1",
  ];
  for (const mac of macs) {
    test(`mac ${mac} under aes128-ctr`, { timeout: 30_000 }, async () => {
      const c = await handshakeCase(server, {
        ciphers: ["aes128-ctr"],
        macs: [mac],
        kex: ["curve25519-sha256"],
      });
      assert.equal(c.transport.negotiated?.macC2S, mac);
      assert.equal(c.transport.negotiated?.macS2C, mac);
    });
  }

  const hostKeyAlgorithms: Array<[string, string]> = [
    ["ssh-ed25519", "ed25519"],
    ["ecdsa-sha2-nistp256", "ecdsa"],
    ["ecdsa-sha2-nistp384", "ecdsa384"],
    ["ecdsa-sha2-nistp521", "ecdsa521"],
    ["rsa-sha2-512", "rsa"],
    ["rsa-sha2-256", "rsa"],
    ["ssh-rsa", "rsa"],
  ];
  for (const [alg, file] of hostKeyAlgorithms) {
    test(`host key ${alg}`, { timeout: 30_000 }, async () => {
      const c = await handshakeCase(server, { hostKeyAlgorithms: [alg], kex: ["curve25519-sha256"] });
      assert.equal(c.transport.negotiated?.hostKey, alg);
      const expected = parsePublicKeyLine(server.hostPublicKeys.get(file)!).key;
      assert.ok(c.transport.hostKey?.equals(expected));
    });
  }

  test("a host key the verifier refuses ends the connection", { timeout: 30_000 }, async () => {
    await assert.rejects(connectTo(server, { verifyHostKey: () => false }), { code: "HOST_KEY" });
  });

  test(
    "after login: re-key on demand, twice, with packets flowing between",
    { timeout: 30_000 },
    async () => {
      const c = await connectTo(server, { kex: ["curve25519-sha256"] });
      const conn = await login(c.transport, clientKey);
      assert.equal(await roundTrip(conn), false);
      await c.transport.rekey();
      assert.equal(await roundTrip(conn), false);
      await c.transport.rekey();
      assert.equal(await roundTrip(conn), false);
      assert.ok(c.log.filter((l) => l === "debug1: rekey completed").length >= 2);
      c.transport.disconnect();
    },
  );

  test("after login: re-key forced by volume (RekeyLimit)", { timeout: 30_000 }, async () => {
    const c = await connectTo(server, { kex: ["curve25519-sha256"], rekeyLimit: { bytes: 1024 } });
    const conn = await login(c.transport, clientKey);
    for (let i = 0; i < 40; i++) assert.equal(await roundTrip(conn), false);
    assert.ok(c.log.some((l) => l === "debug1: rekeying after data limit"));
    assert.ok(c.log.some((l) => l === "debug1: rekey completed"));
    c.transport.disconnect();
  });

  test("zlib@openssh.com starts after login and carries packets", { timeout: 30_000 }, async () => {
    const c = await connectTo(server, { compression: ["zlib@openssh.com"], kex: ["curve25519-sha256"] });
    assert.equal(c.transport.negotiated?.compressionC2S, "zlib@openssh.com");
    const conn = await login(c.transport, clientKey);
    for (let i = 0; i < 5; i++) assert.equal(await roundTrip(conn), false);
    await c.transport.rekey();
    assert.equal(await roundTrip(conn), false);
    c.transport.disconnect();
  });
});
