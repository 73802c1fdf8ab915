/**
 * Public key lines (`type base64 comment`), RFC 4716 files and PEM public keys, checked against
 * ssh-keygen's .pub files and its -e / -i conversions.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  formatPublicKeyLine,
  parsePrivateKey,
  parsePublicKeyFile,
  parsePublicKeyLine,
  parseRfc4716PublicKey,
  PrivateKey,
  publicKeyToRfc4716,
  type PublicKey,
} from "../../src/keys/index.js";
import { SshError } from "../../src/wire/index.js";
import { makeTempDir, removeTempDir, sshKeygen, sshKeygenSync } from "./sshKeygen.js";

function assertSshError(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SshError, `expected SshError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const ed = PrivateKey.generate("ssh-ed25519").publicKey;
const ec = PrivateKey.generate("ecdsa-sha2-nistp384").publicKey;
const b64 = (k: PublicKey): string => k.blob.toString("base64");

describe("public key lines", () => {
  test("type, base64 and a comment with spaces", () => {
    const { key, comment } = parsePublicKeyLine(`ssh-ed25519 ${b64(ed)} alice@host  my laptop`);
    assert.ok(key.equals(ed));
    assert.equal(comment, "alice@host  my laptop");
  });

  test("no comment, surrounding whitespace, CRLF, tabs", () => {
    for (const line of [
      `ssh-ed25519 ${b64(ed)}`,
      `ssh-ed25519 ${b64(ed)}\n`,
      `ssh-ed25519 ${b64(ed)}\r\n`,
      `  ssh-ed25519\t${b64(ed)}   `,
    ]) {
      const { key, comment } = parsePublicKeyLine(line);
      assert.ok(key.equals(ed));
      assert.equal(comment, "");
    }
    assert.equal(parsePublicKeyLine(`ssh-ed25519 ${b64(ed)} c\r\n`).comment, "c");
  });

  test("formatPublicKeyLine round trip", () => {
    const line = formatPublicKeyLine(ec, "bob@example");
    assert.equal(line, `ecdsa-sha2-nistp384 ${b64(ec)} bob@example`);
    assert.ok(parsePublicKeyLine(line).key.equals(ec));
    assert.equal(formatPublicKeyLine(ec), `ecdsa-sha2-nistp384 ${b64(ec)}`);
  });

  test("errors", () => {
    assertSshError(
      () => parsePublicKeyLine(`ssh-rsa ${b64(ed)} x`),
      "KEY_FORMAT",
      /mismatch.*ssh-rsa.*ssh-ed25519/,
    );
    assertSshError(() => parsePublicKeyLine(`ecdsa-sha2-nistp256 ${b64(ec)}`), "KEY_FORMAT", /mismatch/);
    assertSshError(
      () => parsePublicKeyLine(`ssh-ed25519 ${b64(ed).slice(0, 20)}*${b64(ed).slice(21)}`),
      "KEY_FORMAT",
      /base64/,
    );
    assertSshError(() => parsePublicKeyLine(`ssh-ed25519 ${b64(ed).slice(0, 40)}`), "KEY_FORMAT");
    assertSshError(
      () => parsePublicKeyLine(`ssh-ed25519 ${ed.blob.subarray(0, 30).toString("base64")}`),
      "KEY_FORMAT",
    );
    assertSshError(() => parsePublicKeyLine(`ssh-dss AAAAB3NzaC1kc3MAAACBAP== x`), "UNSUPPORTED");
    assertSshError(
      () => parsePublicKeyLine(`sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t`),
      "UNSUPPORTED",
    );
    assertSshError(() => parsePublicKeyLine(`from="10.0.0.1" ssh-ed25519 ${b64(ed)}`), "KEY_FORMAT");
    assertSshError(() => parsePublicKeyLine(""), "KEY_FORMAT");
    assertSshError(() => parsePublicKeyLine("ssh-ed25519"), "KEY_FORMAT");
  });

  test("public key files: skip blank and # lines; PEM and private files refused", () => {
    const file = `# my key\n\nssh-ed25519 ${b64(ed)} me\n`;
    assert.equal(parsePublicKeyFile(Buffer.from(file)).comment, "me");
    assertSshError(() => parsePublicKeyFile("\n# nothing\n"), "KEY_FORMAT", /empty/);
    assertSshError(() => parsePublicKeyFile("-----BEGIN OPENSSH PRIVATE KEY-----\nAA==\n"), "KEY_FORMAT");
    const spki = ed.keyObject.export({ type: "spki", format: "pem" }) as string;
    assert.ok(parsePublicKeyFile(spki).key.equals(ed));
  });
});

describe("RFC 4716 and PEM public keys with ssh-keygen -e / -i", () => {
  let dir = "";
  before(async () => {
    dir = makeTempDir("nssh-pub-");
    await Promise.all([
      sshKeygen(["-q", "-t", "ed25519", "-N", "", "-C", "ed comment", "-f", path.join(dir, "ed")]),
      sshKeygen([
        "-q",
        "-t",
        "rsa",
        "-b",
        "2048",
        "-N",
        "",
        "-C",
        "rsa comment",
        "-f",
        path.join(dir, "rsa"),
      ]),
      sshKeygen(["-q", "-t", "ecdsa", "-b", "521", "-N", "", "-f", path.join(dir, "ec")]),
    ]);
  });
  after(() => removeTempDir(dir));

  for (const name of ["ed", "rsa", "ec"]) {
    test(`${name}: .pub, ssh-keygen -e (RFC 4716, PKCS8, PEM), and -i of ours`, () => {
      const pubFile = path.join(dir, `${name}.pub`);
      const pubText = fs.readFileSync(pubFile, "utf8");
      const pub = parsePublicKeyFile(pubText);
      assert.equal(formatPublicKeyLine(pub.key, pub.comment), pubText.trimEnd(), ".pub line round trip");
      assert.ok(parsePrivateKey(fs.readFileSync(path.join(dir, name))).publicKey.equals(pub.key));

      const rfc = sshKeygenSync(["-e", "-f", pubFile]);
      const parsed = parsePublicKeyFile(rfc);
      assert.ok(parsed.key.equals(pub.key));
      assert.match(parsed.comment, /-bit .*, converted by .* from OpenSSH$/);

      for (const mode of name === "ed" ? [] : ["PKCS8", "PEM"]) {
        const pem = sshKeygenSync(["-e", "-m", mode, "-f", pubFile]);
        assert.ok(parsePublicKeyFile(pem).key.equals(pub.key), `-e -m ${mode}`);
      }

      // Ours, read back by ssh-keygen -i (which prints a key line without the comment).
      const ours = path.join(dir, `${name}.rfc4716`);
      fs.writeFileSync(ours, publicKeyToRfc4716(pub.key, pub.comment));
      assert.ok(parsePublicKeyLine(sshKeygenSync(["-i", "-f", ours])).key.equals(pub.key));
      assert.equal(parseRfc4716PublicKey(fs.readFileSync(ours, "utf8")).comment, pub.comment);
    });
  }

  test("RFC 4716: long comments are continued with a backslash, every line within 72 bytes", () => {
    const comment = "x".repeat(50) + " é " + "y".repeat(60);
    const text = publicKeyToRfc4716(ec, comment);
    assert.ok(text.split("\n").every((l) => Buffer.byteLength(l) <= 72));
    assert.match(text, /\\\n/);
    assert.equal(parseRfc4716PublicKey(text).comment, comment);
    const file = path.join(dir, "long.rfc4716");
    fs.writeFileSync(file, text);
    assert.ok(parsePublicKeyLine(sshKeygenSync(["-i", "-f", file])).key.equals(ec));
  });

  test("RFC 4716: other headers ignored, missing END is KEY_FORMAT", () => {
    const text = publicKeyToRfc4716(ed, "c").replace(
      "Comment:",
      "x-command: /bin/true\nSubject: me\nComment:",
    );
    assert.equal(parsePublicKeyFile(text).comment, "c");
    assertSshError(
      () => parseRfc4716PublicKey(text.replace("---- END SSH2 PUBLIC KEY ----", "")),
      "KEY_FORMAT",
      /truncated/,
    );
  });
});
