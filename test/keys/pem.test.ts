/**
 * PEM private keys: PKCS#1, SEC1, PKCS#8, plain and encrypted (legacy Proc-Type/DEK-Info and PBES2), and
 * how damaged files, wrong passphrases and unsupported key kinds are reported.
 */
import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import {
  parseDerPrivateKey,
  parsePemPrivateKey,
  parsePrivateKey,
  PrivateKey,
  serializePemPrivateKey,
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

const KEYS = {
  ed25519: PrivateKey.generate("ssh-ed25519"),
  ecdsa256: PrivateKey.generate("ecdsa-sha2-nistp256"),
  ecdsa384: PrivateKey.generate("ecdsa-sha2-nistp384"),
  ecdsa521: PrivateKey.generate("ecdsa-sha2-nistp521"),
  rsa: PrivateKey.generate("ssh-rsa", 2048),
};
const rsa = KEYS.rsa;
const ec = KEYS.ecdsa256;

/** Remove one whole 64-column base64 line from the middle of the body (48 bytes). */
function cutMiddleLine(text: string): string {
  const lines = text.split("\n");
  const body = lines.map((l, i) => ({ l, i })).filter(({ l }) => /^[A-Za-z0-9+/]{64}$/.test(l));
  assert.ok(body.length >= 2);
  lines.splice(body[1]!.i, 1);
  return lines.join("\n");
}

describe("PEM writing and reading", () => {
  for (const [name, key] of Object.entries(KEYS)) {
    for (const format of ["pem", "pkcs8"] as const) {
      for (const passphrase of ["", "secret pass"]) {
        test(`${name} ${format} ${passphrase ? "encrypted" : "plain"}`, () => {
          if (name === "ed25519" && format === "pem") {
            assertSshError(
              () => serializePemPrivateKey(key, { format, passphrase }),
              "UNSUPPORTED",
              /PKCS#8/,
            );
            return;
          }
          const text = serializePemPrivateKey(key, { format, passphrase });
          const label =
            format === "pkcs8"
              ? passphrase
                ? "ENCRYPTED PRIVATE KEY"
                : "PRIVATE KEY"
              : name === "rsa"
                ? "RSA PRIVATE KEY"
                : "EC PRIVATE KEY";
          assert.match(text, new RegExp(`^-----BEGIN ${label}-----\n`));
          if (format === "pem" && passphrase) {
            assert.match(text, /\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,[0-9A-F]{32}\n/);
          }
          const again = parsePemPrivateKey(text, passphrase || undefined);
          assert.ok(again.publicKey.equals(key.publicKey));
          assert.equal(again.comment, "");
          const data = Buffer.from("to sign");
          assert.ok(key.publicKey.verify(data, again.sign(data)));
          if (passphrase) {
            assertSshError(
              () => parsePemPrivateKey(text, "secret pasS"),
              "BAD_PASSPHRASE",
              /incorrect passphrase/,
            );
            assertSshError(() => parsePemPrivateKey(text), "PASSPHRASE_REQUIRED");
            assertSshError(() => parsePemPrivateKey(text, ""), "PASSPHRASE_REQUIRED");
            assert.ok(parsePemPrivateKey(text, Buffer.from(passphrase)).publicKey.equals(key.publicKey));
          }
        });
      }
    }
  }

  test("cipher names: SSH CBC names map to OpenSSL's; unknown ones are UNSUPPORTED", () => {
    const a = serializePemPrivateKey(rsa, { format: "pem", passphrase: "pw", cipher: "aes256-cbc" });
    assert.match(a, /DEK-Info: AES-256-CBC,/);
    const b = serializePemPrivateKey(ec, { format: "pem", passphrase: "pw", cipher: "3des-cbc" });
    assert.match(b, /DEK-Info: DES-EDE3-CBC,[0-9A-F]{16}\n/);
    assert.ok(parsePemPrivateKey(b, "pw").publicKey.equals(ec.publicKey));
    assertSshError(() => parsePemPrivateKey(b, "pW"), "BAD_PASSPHRASE");
    const c = serializePemPrivateKey(ec, { format: "pkcs8", passphrase: "pw", cipher: "aes-128-cbc" });
    assert.ok(parsePemPrivateKey(c, "pw").publicKey.equals(ec.publicKey));
    assertSshError(
      () => serializePemPrivateKey(ec, { format: "pem", passphrase: "pw", cipher: "rot13" }),
      "UNSUPPORTED",
    );
  });

  test("many wrong passphrases are all BAD_PASSPHRASE (even when a wrong key happens to pad correctly)", () => {
    const legacy = serializePemPrivateKey(ec, { format: "pem", passphrase: "right" });
    const pkcs8 = serializePemPrivateKey(ec, { format: "pkcs8", passphrase: "right" });
    // About 1 in 256 wrong keys gives valid CBC padding; 600 tries make that path all but certain.
    for (let i = 0; i < 600; i++) {
      assertSshError(() => parsePemPrivateKey(legacy, `wrong ${i}`), "BAD_PASSPHRASE");
    }
    for (let i = 0; i < 50; i++) {
      assertSshError(() => parsePemPrivateKey(pkcs8, `wrong ${i}`), "BAD_PASSPHRASE");
    }
  });

  test("text around the block and CRLF line ends are accepted", () => {
    const text = serializePemPrivateKey(rsa, { format: "pem", passphrase: "pw" });
    const framed = "Bag Attributes\r\n    localKeyID: 01\r\n" + text.replace(/\n/g, "\r\n") + "trailer\r\n";
    assert.ok(parsePemPrivateKey(framed, "pw").publicKey.equals(rsa.publicKey));
  });

  test("DER input (PKCS#8, PKCS#1, SEC1)", () => {
    const ko = rsa.keyObject;
    for (const der of [
      ko.export({ format: "der", type: "pkcs8" }),
      ko.export({ format: "der", type: "pkcs1" }),
      ec.keyObject.export({ format: "der", type: "sec1" }),
      KEYS.ed25519.keyObject.export({ format: "der", type: "pkcs8" }),
    ]) {
      const key = parsePrivateKey(der);
      assert.ok([rsa, ec, KEYS.ed25519].some((k) => k.publicKey.equals(key.publicKey)));
    }
    assertSshError(() => parseDerPrivateKey(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])), "KEY_FORMAT");
  });
});

describe("PEM damaged and unsupported files", () => {
  const variants = {
    pkcs1: serializePemPrivateKey(rsa, { format: "pem" }),
    "pkcs1 encrypted": serializePemPrivateKey(rsa, { format: "pem", passphrase: "pw" }),
    sec1: serializePemPrivateKey(KEYS.ecdsa521, { format: "pem" }),
    "sec1 encrypted": serializePemPrivateKey(KEYS.ecdsa521, { format: "pem", passphrase: "pw" }),
    pkcs8: serializePemPrivateKey(rsa, { format: "pkcs8" }),
    "pkcs8 encrypted": serializePemPrivateKey(rsa, { format: "pkcs8", passphrase: "pw" }),
  };

  for (const [name, text] of Object.entries(variants)) {
    test(`${name}: truncated or damaged is KEY_FORMAT`, () => {
      const pass = name.endsWith("encrypted") ? "pw" : undefined;
      // Cut short: the END line is gone (with any passphrase, right or wrong).
      for (const p of [pass, "wrong"]) {
        assertSshError(
          () => parsePemPrivateKey(text.slice(0, text.length / 2), p),
          "KEY_FORMAT",
          /truncated/,
        );
      }
      // A line cut out of the middle, END line kept: the DER lengths (or, for legacy encryption, the
      // decrypted DER) no longer add up.
      assertSshError(() => parsePemPrivateKey(cutMiddleLine(text), pass), "KEY_FORMAT");
      // A character that is not base64.
      assertSshError(
        () => parsePemPrivateKey(text.replace(/\n([A-Za-z0-9+/]{10})/, "\n$1!"), pass),
        "KEY_FORMAT",
      );
      // Empty body.
      const label = /-----BEGIN ([A-Z ]+)-----/.exec(text)![1]!;
      assertSshError(
        () => parsePemPrivateKey(`-----BEGIN ${label}-----\n-----END ${label}-----\n`, pass),
        "KEY_FORMAT",
      );
    });
  }

  test("legacy encryption: damaged headers and body sizes", () => {
    const text = variants["pkcs1 encrypted"];
    assertSshError(
      () => parsePemPrivateKey(text.replace(/DEK-Info: [^\n]+\n/, ""), "pw"),
      "KEY_FORMAT",
      /DEK-Info/,
    );
    assertSshError(
      () => parsePemPrivateKey(text.replace(/,([0-9A-F]{30})[0-9A-F]{2}\n/, ",$1\n"), "pw"),
      "KEY_FORMAT",
      /IV/,
    );
    assertSshError(() => parsePemPrivateKey(text.replace("AES-128-CBC", "AES-128-XYZ"), "pw"), "UNSUPPORTED");
    // Drop 4 base64 characters (3 bytes): no longer whole AES blocks.
    assertSshError(
      () => parsePemPrivateKey(text.replace(/\n([A-Za-z0-9+/]{60})[A-Za-z0-9+/]{4}\n/, "\n$1\n"), "pw"),
      "KEY_FORMAT",
      /blocks/,
    );
  });

  test("damaged key parameters that OpenSSL would import are KEY_FORMAT", () => {
    const jwk = rsa.keyObject.export({ format: "jwk" });
    const d = Buffer.from(jwk.d!, "base64url");
    d[d.length - 1]! ^= 1;
    const badRsa = createPrivateKey({ key: { ...jwk, d: d.toString("base64url") }, format: "jwk" });
    assertSshError(
      () => parsePemPrivateKey(badRsa.export({ type: "pkcs1", format: "pem" }) as string),
      "KEY_FORMAT",
      /inconsistent/,
    );
    const other = PrivateKey.generate("ecdsa-sha2-nistp256").keyObject.export({ format: "jwk" });
    const badEc = createPrivateKey({
      key: { ...ec.keyObject.export({ format: "jwk" }), d: other.d },
      format: "jwk",
    });
    assertSshError(
      () => parsePemPrivateKey(badEc.export({ type: "sec1", format: "pem" }) as string),
      "KEY_FORMAT",
      /public point/,
    );
  });

  test("key kinds SSH does not use here are UNSUPPORTED", () => {
    const others = [
      generateKeyPairSync("dsa", { modulusLength: 1024, divisorLength: 160 }),
      generateKeyPairSync("ec", { namedCurve: "secp256k1" }),
      generateKeyPairSync("ed448"),
      generateKeyPairSync("rsa-pss", { modulusLength: 1024 }),
      generateKeyPairSync("x25519"),
    ];
    for (const { privateKey } of others) {
      assertSshError(
        () => parsePemPrivateKey(privateKey.export({ type: "pkcs8", format: "pem" }) as string),
        "UNSUPPORTED",
      );
    }
    assertSshError(
      () => parsePemPrivateKey("-----BEGIN DSA PRIVATE KEY-----\nMAA=\n-----END DSA PRIVATE KEY-----\n"),
      "UNSUPPORTED",
    );
    assertSshError(
      () => parsePemPrivateKey("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"),
      "KEY_FORMAT",
    );
  });
});
