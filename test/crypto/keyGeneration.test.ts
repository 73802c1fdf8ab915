/**
 * New private keys (src/crypto/keyGeneration.ts): what they are, and that making many X25519 exchange keys
 * under a small young generation does not freeze the process (Node 20 deadlocks a JWK export of a key
 * generateKeyPairSync made when a collection inside the export finalizes the key's generation job).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPublicKey, diffieHellman, sign, verify } from "node:crypto";
import { test } from "node:test";
import { generatePrivateKey } from "../../src/crypto/index.js";

test("each kind gives a new private KeyObject that signs or agrees as its public half expects", () => {
  const data = Buffer.from("signed");
  for (const [spec, type] of [
    [{ kind: "ed25519" }, "ed25519"],
    [{ kind: "x25519" }, "x25519"],
    [{ kind: "ec", namedCurve: "prime256v1" }, "ec"],
    [{ kind: "rsa", bits: 1024 }, "rsa"],
  ] as const) {
    const privateKey = generatePrivateKey(spec);
    assert.equal(privateKey.type, "private");
    assert.equal(privateKey.asymmetricKeyType, type);
    const publicKey = createPublicKey(privateKey);
    if (type === "x25519") {
      const other = generatePrivateKey({ kind: "x25519" });
      assert.deepEqual(
        diffieHellman({ privateKey, publicKey: createPublicKey(other) }),
        diffieHellman({ privateKey: other, publicKey }),
      );
    } else {
      const algorithm = type === "ed25519" ? null : "sha256";
      assert.ok(verify(algorithm, data, publicKey, sign(algorithm, data, privateKey)), type);
    }
  }
  const a = createPublicKey(generatePrivateKey({ kind: "ed25519" })).export({ format: "jwk" }).x;
  const b = createPublicKey(generatePrivateKey({ kind: "ed25519" })).export({ format: "jwk" }).x;
  assert.notEqual(a, b, "two keys are two keys");
});

test("100,000 X25519 exchange keys with a 1 MiB young generation, as nsshd's workers run, finish", () => {
  // A JWK export of generateKeyPairSync's own KeyObjects hung in this loop within some 5,000-60,000 keys.
  const program = `
    import { X25519KeyPair } from ${JSON.stringify(new URL("../../src/crypto/kex/x25519.js", import.meta.url).href)};
    let kept = [];
    for (let i = 0; i < 100000; i++) {
      kept.push(new X25519KeyPair().publicValue);
      if (kept.length > 64) kept = [];
    }
    console.log("done");
  `;
  const r = spawnSync(process.execPath, ["--max-semi-space-size=1", "--input-type=module", "-e", program], {
    encoding: "utf8",
    timeout: 28_000,
  });
  assert.equal(r.signal, null, "the process froze (killed at the timeout)");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "done");
});
