/**
 * resolveLists (src/transport/options.ts) shares its result between calls with the same inputs (a resumed
 * connection in nsshd resolves them again with a fresh options object), never between different ones, and
 * still rejects bad input every time.
 */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { resolveLists, type TransportOptions } from "../../src/transport/index.js";
import { SshError } from "../../src/wire/index.js";
import { testHostKeys } from "../helpers/transportServer.js";

const server = (more: Partial<TransportOptions> = {}): TransportOptions => ({
  role: "server",
  socket: new PassThrough(),
  hostKeys: testHostKeys(),
  ...more,
});

test("the same inputs in a fresh options object: the same lists, frozen", () => {
  const a = resolveLists(server({ ciphers: "aes128-ctr,aes256-ctr" }));
  const b = resolveLists(server({ ciphers: "aes128-ctr,aes256-ctr" }));
  assert.equal(a, b);
  assert.deepEqual(a.cipher, ["aes128-ctr", "aes256-ctr"]);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.cipher));
});

test("different inputs: different lists", () => {
  const a = resolveLists(server({ ciphers: "aes128-ctr" }));
  const b = resolveLists(server({ ciphers: ["aes256-ctr"] }));
  const c = resolveLists(server({ ciphers: "aes128-ctr", hostKeys: testHostKeys().slice(0, 1) }));
  assert.deepEqual(a.cipher, ["aes128-ctr"]);
  assert.deepEqual(b.cipher, ["aes256-ctr"]);
  assert.notEqual(a, c);
  assert.deepEqual(c.hostKey, ["ssh-ed25519"]);
  const client = resolveLists({ role: "client", socket: new PassThrough(), verifyHostKey: () => true });
  assert.notEqual(client, resolveLists(server()));
});

test("bad input is rejected every time, cached or not", () => {
  for (let i = 0; i < 2; i++) {
    assert.throws(
      () => resolveLists(server({ ciphers: "no-such-cipher" })),
      (e: unknown) =>
        e instanceof SshError && e.code === "CONFIG" && /Bad cipher 'no-such-cipher'/.test(e.message),
    );
  }
  const ok = { role: "client" as const, socket: new PassThrough(), verifyHostKey: () => true };
  resolveLists(ok);
  assert.throws(
    () => resolveLists({ role: "client", socket: new PassThrough() }),
    (e: unknown) => e instanceof SshError && e.code === "CONFIG" && /verifyHostKey/.test(e.message),
  );
});
