/**
 * openssh-key-v1 (PROTOCOL.key) on its own: the layout we write, every cipher, and the errors for damaged
 * files, wrong passphrases and things we do not support. Interop with ssh-keygen is in
 * sshKeygenInterop.test.ts.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { describe, test } from "node:test";
import {
  OPENSSH_KEY_CIPHERS,
  parseOpenSshPrivateKey,
  parsePrivateKey,
  PrivateKey,
  readOpenSshPrivateKeyInfo,
  serializeOpenSshPrivateKey,
  type KeyType,
} from "../../src/keys/index.js";
import { SshError, SshReader, SshWriter } from "../../src/wire/index.js";

const MAGIC = Buffer.from("openssh-key-v1\0", "latin1");

function assertSshError(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SshError, `expected SshError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** The fields of an openssh-key-v1 file, to inspect what we wrote and to build damaged variants. */
interface Fields {
  cipher: string;
  kdf: string;
  kdfOptions: Buffer;
  count: number;
  publicKey: Buffer;
  section: Buffer;
  tail: Buffer;
}

function binary(text: string): Buffer {
  const b64 = text.replace(/-----(BEGIN|END) OPENSSH PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  return Buffer.from(b64, "base64");
}

function decode(text: string): Fields {
  const r = new SshReader(binary(text));
  assert.ok(r.bytes(MAGIC.length).equals(MAGIC));
  return {
    cipher: r.string().toString(),
    kdf: r.string().toString(),
    kdfOptions: Buffer.from(r.string()),
    count: r.uint32(),
    publicKey: Buffer.from(r.string()),
    section: Buffer.from(r.string()),
    tail: Buffer.from(r.rest()),
  };
}

function encode(f: Fields): string {
  const w = new SshWriter()
    .raw(MAGIC)
    .string(f.cipher)
    .string(f.kdf)
    .string(f.kdfOptions)
    .uint32(f.count)
    .string(f.publicKey)
    .string(f.section)
    .raw(f.tail);
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${w.toBuffer().toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

const KEYS: Record<string, PrivateKey> = {
  ed25519: PrivateKey.generate("ssh-ed25519"),
  ecdsa256: PrivateKey.generate("ecdsa-sha2-nistp256"),
  ecdsa384: PrivateKey.generate("ecdsa-sha2-nistp384"),
  ecdsa521: PrivateKey.generate("ecdsa-sha2-nistp521"),
  rsa: PrivateKey.generate("ssh-rsa", 2048),
};
const ed = KEYS.ed25519!;
ed.comment = "me@host";

describe("openssh-key-v1 layout", () => {
  for (const [name, key] of Object.entries(KEYS)) {
    test(`${name}: unencrypted round trip and layout`, () => {
      const text = serializeOpenSshPrivateKey(key, { comment: `comment of ${name} ✓` });
      assert.match(text, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
      assert.match(text, /\n-----END OPENSSH PRIVATE KEY-----\n$/);
      const f = decode(text);
      assert.deepEqual([f.cipher, f.kdf, f.kdfOptions.length, f.count], ["none", "none", 0, 1]);
      assert.ok(f.publicKey.equals(key.publicKey.blob));
      assert.equal(f.tail.length, 0);
      assert.equal(f.section.length % 8, 0);
      const r = new SshReader(f.section);
      assert.equal(r.uint32(), r.uint32(), "check integers are equal");
      assert.equal(r.string().toString(), key.type);
      // Padding is 1, 2, 3, … up to the block size (8 for "none").
      const commentBytes = Buffer.from(`comment of ${name} ✓`);
      const padLen = f.section.length - (f.section.lastIndexOf(commentBytes) + commentBytes.length);
      assert.ok(padLen >= 0 && padLen < 8);
      const padding = [...f.section.subarray(f.section.length - padLen)];
      assert.deepEqual(
        padding,
        Array.from({ length: padLen }, (_, i) => i + 1),
      );

      const again = parseOpenSshPrivateKey(text);
      assert.ok(again.publicKey.equals(key.publicKey));
      assert.equal(again.comment, `comment of ${name} ✓`);
      // The same key re-serialized differs only by its random check integers.
      const data = Buffer.from("sign me");
      assert.ok(key.publicKey.verify(data, again.sign(data)));
      // Raw binary and Buffer input.
      assert.ok(parseOpenSshPrivateKey(binary(text)).publicKey.equals(key.publicKey));
      assert.ok(parsePrivateKey(Buffer.from(text)).publicKey.equals(key.publicKey));
    });
  }

  test("check integers are random", () => {
    const a = decode(serializeOpenSshPrivateKey(ed)).section.readUInt32BE(0);
    const b = decode(serializeOpenSshPrivateKey(ed)).section.readUInt32BE(0);
    const c = decode(serializeOpenSshPrivateKey(ed)).section.readUInt32BE(0);
    assert.ok(a !== b || b !== c);
  });

  test("the comment defaults to the key's own", () => {
    assert.equal(parseOpenSshPrivateKey(serializeOpenSshPrivateKey(ed)).comment, "me@host");
    assert.equal(parseOpenSshPrivateKey(serializeOpenSshPrivateKey(ed, { comment: "" })).comment, "");
  });

  test("an empty passphrase writes an unencrypted key, whatever the cipher", () => {
    const f = decode(serializeOpenSshPrivateKey(ed, { passphrase: "", cipher: "aes128-cbc" }));
    assert.equal(f.cipher, "none");
  });
});

describe("openssh-key-v1 encryption", () => {
  const blockSize: Record<string, number> = { "3des-cbc": 8, "chacha20-poly1305@openssh.com": 8 };
  const tagLength = (c: string): number => (/gcm|chacha/.test(c) ? 16 : 0);

  for (const cipher of OPENSSH_KEY_CIPHERS) {
    test(cipher, () => {
      const text = serializeOpenSshPrivateKey(ed, { passphrase: "pässwörd", cipher, rounds: 1 });
      const f = decode(text);
      assert.equal(f.cipher, cipher);
      assert.equal(f.kdf, "bcrypt");
      const k = new SshReader(f.kdfOptions);
      assert.equal(k.string().length, 16, "16-byte salt");
      assert.equal(k.uint32(), 1, "rounds");
      assert.equal(f.section.length % (blockSize[cipher] ?? 16), 0);
      assert.equal(f.tail.length, tagLength(cipher), "AEAD tag after the encrypted string");
      const { publicKey, ...info } = readOpenSshPrivateKeyInfo(text);
      assert.deepEqual(info, { cipherName: cipher, kdfName: "bcrypt", rounds: 1, encrypted: true });
      assert.ok(publicKey.equals(ed.publicKey), "the public key is readable without the passphrase");

      const key = parseOpenSshPrivateKey(text, "pässwörd");
      assert.ok(key.publicKey.equals(ed.publicKey));
      assert.equal(key.comment, "me@host");
      assert.ok(parseOpenSshPrivateKey(text, Buffer.from("pässwörd")).publicKey.equals(ed.publicKey));
      assertSshError(
        () => parseOpenSshPrivateKey(text, "passwörd"),
        "BAD_PASSPHRASE",
        /incorrect passphrase/,
      );
      assertSshError(() => parseOpenSshPrivateKey(text), "PASSPHRASE_REQUIRED");
      assertSshError(() => parseOpenSshPrivateKey(text, ""), "PASSPHRASE_REQUIRED");

      // Damage to the encrypted bytes: AEAD ciphers notice it as OpenSSH does (a failed tag reads as a wrong
      // passphrase); in the first block it breaks the check integers, also a wrong passphrase to OpenSSH.
      const first = { ...f, section: Buffer.from(f.section) };
      first.section[1]! ^= 0x40;
      assertSshError(() => parseOpenSshPrivateKey(encode(first), "pässwörd"), "BAD_PASSPHRASE");
    });
  }

  test("CTR damage past the check integers is a corrupt key, not a wrong passphrase", () => {
    const f = decode(serializeOpenSshPrivateKey(ed, { passphrase: "pw", cipher: "aes256-ctr", rounds: 1 }));
    // checkints (8) + string type (4+11) + string pk (4+32) + length of sk (4): the seed starts at 63.
    f.section[70]! ^= 1;
    assertSshError(() => parseOpenSshPrivateKey(encode(f), "pw"), "KEY_FORMAT", /seed|match/);
  });

  test("write options are checked", () => {
    assertSshError(
      () => serializeOpenSshPrivateKey(ed, { passphrase: "x", cipher: "arcfour" }),
      "UNSUPPORTED",
    );
    assertSshError(() => serializeOpenSshPrivateKey(ed, { passphrase: "x", rounds: 0 }), "CONFIG");
    assertSshError(() => serializeOpenSshPrivateKey(ed, { passphrase: "x", rounds: 1.5 }), "CONFIG");
  });
});

describe("openssh-key-v1 damaged and unsupported files", () => {
  const plain = serializeOpenSshPrivateKey(ed);
  const enc = serializeOpenSshPrivateKey(ed, {
    passphrase: "pw",
    cipher: "aes256-gcm@openssh.com",
    rounds: 1,
  });

  test("every truncation of the binary is KEY_FORMAT, before any key derivation", () => {
    for (const [text, pass] of [
      [plain, undefined],
      [enc, "pw"],
      [enc, "wrong"],
    ] as const) {
      const bin = binary(text);
      for (let len = 0; len < bin.length; len++) {
        assertSshError(() => parseOpenSshPrivateKey(bin.subarray(0, len), pass), "KEY_FORMAT");
        // As armored text too (a valid base64 of a short blob).
        if (len % 37 === 0) {
          const cut = `-----BEGIN OPENSSH PRIVATE KEY-----\n${bin.subarray(0, len).toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
          assertSshError(() => parseOpenSshPrivateKey(cut, pass), "KEY_FORMAT");
        }
      }
    }
  });

  test("a file cut short loses its END line", () => {
    assertSshError(
      () => parseOpenSshPrivateKey(plain.slice(0, 200)),
      "KEY_FORMAT",
      /END OPENSSH PRIVATE KEY.*truncated/,
    );
    assertSshError(() => parseOpenSshPrivateKey(enc.slice(0, 200), "pw"), "KEY_FORMAT", /truncated/);
  });

  test("bad base64", () => {
    const lines = plain.split("\n");
    lines[2] = lines[2]!.slice(0, 10) + "*" + lines[2]!.slice(11);
    assertSshError(() => parseOpenSshPrivateKey(lines.join("\n")), "KEY_FORMAT", /base64/);
  });

  test("bad magic", () => {
    const bin = binary(plain);
    bin[3] = 0x58;
    const text = `-----BEGIN OPENSSH PRIVATE KEY-----\n${bin.toString("base64")}\n-----END OPENSSH PRIVATE KEY-----\n`;
    assertSshError(() => parseOpenSshPrivateKey(text), "KEY_FORMAT", /magic/);
  });

  test("trailing bytes", () => {
    const f = decode(plain);
    assertSshError(
      () => parseOpenSshPrivateKey(encode({ ...f, tail: Buffer.from([0]) })),
      "KEY_FORMAT",
      /trailing/,
    );
  });

  test("more than one key", () => {
    const f = decode(plain);
    assertSshError(() => parseOpenSshPrivateKey(encode({ ...f, count: 2 })), "KEY_FORMAT", /2 keys/);
  });

  test("unknown cipher and KDF are UNSUPPORTED; inconsistent ones KEY_FORMAT", () => {
    const f = decode(enc);
    assertSshError(
      () => parseOpenSshPrivateKey(encode({ ...f, cipher: "twofish-cbc" }), "pw"),
      "UNSUPPORTED",
    );
    assertSshError(() => parseOpenSshPrivateKey(encode({ ...f, kdf: "scrypt" }), "pw"), "UNSUPPORTED");
    const p = decode(plain);
    assertSshError(() => parseOpenSshPrivateKey(encode({ ...p, kdf: "bcrypt" })), "KEY_FORMAT");
    assertSshError(() => parseOpenSshPrivateKey(encode({ ...p, kdfOptions: Buffer.alloc(4) })), "KEY_FORMAT");
  });

  test("section not a whole number of blocks", () => {
    const f = decode(plain);
    assertSshError(
      () => parseOpenSshPrivateKey(encode({ ...f, section: f.section.subarray(0, f.section.length - 1) })),
      "KEY_FORMAT",
      /blocks/,
    );
  });

  test("unencrypted: differing check integers, bad padding, wrong key", () => {
    const f = decode(plain);
    const checks = Buffer.from(f.section);
    checks[0]! ^= 1;
    assertSshError(
      () => parseOpenSshPrivateKey(encode({ ...f, section: checks })),
      "KEY_FORMAT",
      /check integers/,
    );

    // Padding that is not 1, 2, 3, …
    const padded = Buffer.concat([f.section, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])]);
    assertSshError(() => parseOpenSshPrivateKey(encode({ ...f, section: padded })), "KEY_FORMAT", /padding/);

    // The public key in the clear part must be the private key's.
    const other = PrivateKey.generate("ssh-ed25519");
    assertSshError(
      () => parseOpenSshPrivateKey(encode({ ...f, publicKey: other.publicKey.blob })),
      "KEY_FORMAT",
      /does not match/,
    );
    const rsa = KEYS.rsa!;
    assertSshError(
      () => parseOpenSshPrivateKey(encode({ ...f, publicKey: rsa.publicKey.blob })),
      "KEY_FORMAT",
      /type/,
    );
  });

  test("damaged RSA and ECDSA private parts", () => {
    for (const name of ["rsa", "ecdsa384"]) {
      const f = decode(serializeOpenSshPrivateKey(KEYS[name]!, { comment: "MARKER" }));
      // The last key field (q for RSA, the scalar for ECDSA) ends just before the comment's length.
      const section = Buffer.from(f.section);
      section[section.lastIndexOf(Buffer.from("MARKER")) - 7]! ^= 0x10;
      assertSshError(
        () => parseOpenSshPrivateKey(encode({ ...f, section })),
        "KEY_FORMAT",
        /inconsistent|match/,
      );
    }
  });

  test("unsupported key types", () => {
    const f = decode(plain);
    const dss = new SshWriter().string("ssh-dss").string(Buffer.alloc(4)).toBuffer();
    assertSshError(
      () => parseOpenSshPrivateKey(encode({ ...f, publicKey: Buffer.from(dss) })),
      "UNSUPPORTED",
    );
  });

  test("a Node RSA key without the usual exponent still round-trips", () => {
    const key = new PrivateKey(
      generateKeyPairSync("rsa", { modulusLength: 1024, publicExponent: 3 }).privateKey,
      "e=3",
    );
    const type: KeyType = key.type;
    assert.equal(type, "ssh-rsa");
    assert.ok(parseOpenSshPrivateKey(serializeOpenSshPrivateKey(key)).publicKey.equals(key.publicKey));
  });
});
