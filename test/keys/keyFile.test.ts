/**
 * The one entry point for private key files: format detection, dispatch, and refusals of files that are
 * not private keys we read.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  inspectPrivateKey,
  parsePrivateKey,
  PrivateKey,
  serializePrivateKey,
  type SerializePrivateKeyOptions,
} from "../../src/keys/index.js";
import { SshError } from "../../src/wire/index.js";

function assertSshError(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SshError, `expected SshError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const rsa = PrivateKey.generate("ssh-rsa", 2048);
rsa.comment = "rsa key";
const ec = PrivateKey.generate("ecdsa-sha2-nistp256");

describe("parsePrivateKey / serializePrivateKey / inspectPrivateKey", () => {
  const cases: [SerializePrivateKeyOptions, PrivateKey, string][] = [
    [{ format: "openssh" }, rsa, "openssh"],
    [{ format: "openssh", passphrase: "pw", rounds: 1 }, rsa, "openssh"],
    [{ format: "pem" }, rsa, "pkcs1"],
    [{ format: "pem", passphrase: "pw" }, rsa, "pkcs1"],
    [{ format: "pem" }, ec, "sec1"],
    [{ format: "pem", passphrase: "pw" }, ec, "sec1"],
    [{ format: "pkcs8" }, ec, "pkcs8"],
    [{ format: "pkcs8", passphrase: "pw" }, rsa, "pkcs8"],
  ];
  for (const [options, key, format] of cases) {
    test(`${options.format}${options.passphrase ? " encrypted" : ""} ${key.type} is ${format}`, () => {
      const text = serializePrivateKey(key, options);
      const encrypted = options.passphrase !== undefined;
      assert.deepEqual(inspectPrivateKey(text), { format, encrypted });
      assert.deepEqual(inspectPrivateKey(Buffer.from(text)), { format, encrypted });
      const again = parsePrivateKey(Buffer.from(text), options.passphrase);
      assert.ok(again.publicKey.equals(key.publicKey));
      assert.equal(again.comment, options.format === "openssh" ? key.comment : "");
      if (encrypted) assertSshError(() => parsePrivateKey(text), "PASSPHRASE_REQUIRED");
      if (encrypted) assertSshError(() => parsePrivateKey(text, "wrong"), "BAD_PASSPHRASE");
    });
  }

  test("comment option (openssh), DER input", () => {
    const text = serializePrivateKey(ec, { format: "openssh", comment: "given" });
    assert.equal(parsePrivateKey(text).comment, "given");
    const der = ec.keyObject.export({ format: "der", type: "sec1" });
    assert.deepEqual(inspectPrivateKey(der), { format: "der", encrypted: false });
    assert.ok(parsePrivateKey(der).publicKey.equals(ec.publicKey));
  });

  test("files that are not private keys we read", () => {
    assertSshError(() => parsePrivateKey(""), "KEY_FORMAT", /no BEGIN/);
    assertSshError(() => parsePrivateKey("hello world\n"), "KEY_FORMAT");
    assertSshError(() => parsePrivateKey(rsa.publicKey.toLine("x")), "KEY_FORMAT", /public key/);
    assertSshError(
      () => parsePrivateKey(rsa.publicKey.keyObject.export({ type: "spki", format: "pem" }) as string),
      "UNSUPPORTED",
      /public key/,
    );
    assertSshError(
      () => parsePrivateKey("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n"),
      "UNSUPPORTED",
      /PuTTY/,
    );
    assertSshError(
      () =>
        parsePrivateKey(
          "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nAAAA\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n",
        ),
      "UNSUPPORTED",
      /ssh\.com/,
    );
    assertSshError(
      () => parsePrivateKey("-----BEGIN DSA PRIVATE KEY-----\nMAA=\n-----END DSA PRIVATE KEY-----\n"),
      "UNSUPPORTED",
      /DSA/,
    );
    assertSshError(() => inspectPrivateKey("-----BEGIN CERTIFICATE-----\n"), "KEY_FORMAT");
    assertSshError(
      () => serializePrivateKey(ec, { format: "ppk" } as unknown as SerializePrivateKeyOptions),
      "UNSUPPORTED",
    );
  });
});
