/**
 * Private key files against the real OpenSSH ssh-keygen: every key type, in every format ssh-keygen writes
 * (-m RFC4716 i.e. openssh-key-v1, -m PEM, -m PKCS8), with and without a passphrase, and every -Z cipher.
 * We read what it writes (same public key as its .pub, same `ssh-keygen -l` lines, working signatures, the
 * right errors for wrong passphrases and damaged files) and it reads what we write (`ssh-keygen -y`).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  fingerprintLine,
  OPENSSH_KEY_CIPHERS,
  parsePrivateKey,
  parsePublicKeyFile,
  parsePublicKeyLine,
  readOpenSshPrivateKeyInfo,
  serializePrivateKey,
  signatureAlgorithmsForKeyType,
  type PrivateKey,
  type PublicKey,
} from "../../src/keys/index.js";
import { SshError } from "../../src/wire/index.js";
import {
  KEY_SPECS,
  makeTempDir,
  mapLimit,
  removeTempDir,
  sshKeygen,
  sshKeygenStatus,
  sshKeygenSync,
  type KeySpec,
} from "./sshKeygen.js";

/** ssh-keygen refuses PEM passphrases under five characters (OpenSSL's limit); the space is deliberate. */
const PASS = "correct horse";
const WRONG = "battery staple";
const FORMATS = ["RFC4716", "PEM", "PKCS8"] as const;
type Format = (typeof FORMATS)[number];

interface KeygenFile {
  readonly name: string;
  readonly spec: KeySpec;
  readonly format: Format;
  readonly passphrase: string;
  readonly cipher?: string;
  /** Made by `ssh-keygen -p` from the one generated key (RSA 4096, slow to generate). */
  readonly converted: boolean;
}

const comment = (spec: KeySpec): string => `${spec.name} test key`;
const isSlow = (spec: KeySpec): boolean => spec.name === "rsa4096";

// The matrix. ssh-keygen has no PEM or PKCS#8 form for Ed25519 in 9.2: -m PEM/PKCS8 silently write
// openssh-key-v1 (checked below), so those combinations are not separate cases.
const FILES: KeygenFile[] = [];
let cipherIndex = 0;
for (const spec of KEY_SPECS) {
  for (const format of FORMATS) {
    if (spec.name === "ed25519" && format !== "RFC4716") continue;
    for (const passphrase of ["", PASS]) {
      const cipher =
        format === "RFC4716" && passphrase
          ? OPENSSH_KEY_CIPHERS[cipherIndex++ % OPENSSH_KEY_CIPHERS.length]
          : undefined;
      const name = `${spec.name}-${format}-${passphrase ? `enc-${cipher ?? "default"}` : "plain"}`;
      FILES.push({ name, spec, format, passphrase, cipher, converted: isSlow(spec) });
    }
  }
}
// Every cipher ssh-keygen -Z takes, on two key types of different sizes (and so different padding).
for (const spec of KEY_SPECS.filter((s) => s.name === "ed25519" || s.name === "ecdsa384")) {
  for (const cipher of OPENSSH_KEY_CIPHERS) {
    FILES.push({
      name: `${spec.name}-Z-${cipher}`,
      spec,
      format: "RFC4716",
      passphrase: PASS,
      cipher,
      converted: false,
    });
  }
}

function assertSshError(fn: () => unknown, code: string, what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SshError, `${what}: expected SshError, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    return true;
  });
}

/** A data set to sign: the file's own bytes will do. */
function assertSignsAndVerifies(key: PrivateKey, pub: PublicKey, data: Buffer): void {
  for (const alg of signatureAlgorithmsForKeyType(key.type).filter((a) => !a.weak)) {
    const sig = key.sign(data, alg.name);
    assert.ok(pub.verify(data, sig), `${alg.name} signature verifies`);
    assert.ok(!pub.verify(Buffer.concat([data, Buffer.from("x")]), sig), `${alg.name} rejects other data`);
  }
}

/** The text with its second half gone (END line included), and with base64 lines cut out of the middle. */
function truncations(text: string): { half: string; middle: string } {
  const lines = text.trimEnd().split("\n");
  const body = lines.map((l, i) => ({ l, i })).filter(({ l }) => /^[A-Za-z0-9+/=]+$/.test(l));
  // Cut whole lines out of the body keeping the base64 a multiple of 4 (70-column lines go in pairs).
  const cut = body[0]!.l.length % 4 === 0 ? 1 : 2;
  // Keep the first line (it holds the start of the key's DER or header) and the last (a partial one).
  const from = body[Math.max(1, Math.floor((body.length - cut) / 2))]!.i;
  assert.ok(from + cut <= body[body.length - 1]!.i, "enough lines to cut from");
  const middle = [...lines.slice(0, from), ...lines.slice(from + cut)].join("\n") + "\n";
  return { half: text.slice(0, Math.floor(text.length / 2)), middle };
}

describe("ssh-keygen interop", () => {
  let dir = "";
  const fpSha256 = new Map<string, string>();
  const fpMd5 = new Map<string, string>();
  const base = new Map<string, PrivateKey>();

  before(async () => {
    dir = makeTempDir("nssh-keygen-");
    // One generated key per type for the conversions and for our own writes.
    await mapLimit(KEY_SPECS, 2, (spec) =>
      sshKeygen(["-q", ...spec.args, "-N", "", "-C", comment(spec), "-f", path.join(dir, spec.name)]),
    );
    await mapLimit(FILES, 4, async (f) => {
      const file = path.join(dir, f.name);
      const z = f.cipher ? ["-Z", f.cipher] : [];
      if (f.converted) {
        fs.copyFileSync(path.join(dir, f.spec.name), file);
        fs.copyFileSync(path.join(dir, f.spec.name) + ".pub", file + ".pub");
        fs.chmodSync(file, 0o600);
        await sshKeygen([
          "-q",
          "-p",
          "-f",
          file,
          "-P",
          "",
          "-N",
          f.passphrase,
          "-m",
          f.format,
          "-a",
          "2",
          ...z,
        ]);
      } else {
        await sshKeygen([
          "-q",
          ...f.spec.args,
          "-m",
          f.format,
          "-N",
          f.passphrase,
          "-a",
          "2",
          ...z,
          "-C",
          comment(f.spec),
          "-f",
          file,
        ]);
      }
      fpSha256.set(f.name, (await sshKeygen(["-l", "-f", file + ".pub"])).trim());
      fpMd5.set(f.name, (await sshKeygen(["-l", "-E", "md5", "-f", file + ".pub"])).trim());
    });
    for (const spec of KEY_SPECS)
      base.set(spec.name, parsePrivateKey(fs.readFileSync(path.join(dir, spec.name))));
  });

  after(() => removeTempDir(dir));

  describe("keys written by ssh-keygen", () => {
    for (const f of FILES) {
      test(f.name, () => {
        const file = path.join(dir, f.name);
        const data = fs.readFileSync(file);
        const text = data.toString("utf8");
        if (f.format === "RFC4716") assert.match(text, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
        if (f.format === "PEM") assert.match(text, /^-----BEGIN (RSA|EC) PRIVATE KEY-----\n/);
        if (f.format === "PKCS8") assert.match(text, /^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----\n/);
        if (f.format === "RFC4716" && f.passphrase) {
          const info = readOpenSshPrivateKeyInfo(data);
          assert.deepEqual(
            [info.cipherName, info.kdfName, info.rounds],
            [f.cipher ?? "aes256-ctr", "bcrypt", 2],
          );
        }

        const key = parsePrivateKey(data, f.passphrase || undefined);
        const pub = parsePublicKeyFile(fs.readFileSync(file + ".pub"));
        assert.ok(key.publicKey.equals(pub.key), "private key's public half equals the .pub file's blob");
        assert.equal(pub.comment, comment(f.spec));
        // PEM and PKCS#8 hold no comment; openssh-key-v1 keeps it (ssh-keygen -p keeps the original's).
        assert.equal(key.comment, f.format === "RFC4716" ? comment(f.spec) : "");
        assert.equal(fingerprintLine(key, pub.comment), fpSha256.get(f.name));
        assert.equal(fingerprintLine(pub.key, pub.comment, "md5"), fpMd5.get(f.name));
        assertSignsAndVerifies(key, pub.key, data);

        if (f.passphrase) {
          assertSshError(() => parsePrivateKey(data, WRONG), "BAD_PASSPHRASE", "wrong passphrase");
          assertSshError(() => parsePrivateKey(data), "PASSPHRASE_REQUIRED", "no passphrase");
          assertSshError(() => parsePrivateKey(data, ""), "PASSPHRASE_REQUIRED", "empty passphrase");
        } else {
          // A passphrase given for a plain key is ignored, as ssh-keygen does.
          assert.ok(parsePrivateKey(data, WRONG).publicKey.equals(pub.key));
        }
        const { half, middle } = truncations(text);
        for (const pass of f.passphrase ? [f.passphrase, WRONG] : [undefined]) {
          assertSshError(
            () => parsePrivateKey(half, pass),
            "KEY_FORMAT",
            `half the file, passphrase ${pass}`,
          );
        }
        // Legacy PEM encryption has no length or integrity to tell a damaged body from a wrong passphrase
        // with; with the right passphrase the damage is found.
        assertSshError(
          () => parsePrivateKey(middle, f.passphrase || undefined),
          "KEY_FORMAT",
          "lines cut out",
        );
        if (f.passphrase && f.format !== "PEM") {
          assertSshError(
            () => parsePrivateKey(middle, WRONG),
            "KEY_FORMAT",
            "lines cut out, wrong passphrase",
          );
        }
      });
    }

    test("a non-ASCII passphrase is its UTF-8 bytes, in both formats", async () => {
      const pass = "pässwörd ✓";
      for (const [name, args] of [
        ["utf8-openssh", ["-t", "ed25519", "-a", "2"]],
        ["utf8-pem", ["-t", "ecdsa", "-m", "PEM"]],
      ] as const) {
        const file = path.join(dir, name);
        await sshKeygen(["-q", ...args, "-N", pass, "-f", file]);
        const key = parsePrivateKey(fs.readFileSync(file), pass);
        assert.ok(key.publicKey.equals(parsePublicKeyFile(fs.readFileSync(file + ".pub")).key));
        assertSshError(() => parsePrivateKey(fs.readFileSync(file), "passwort ✓"), "BAD_PASSPHRASE", name);
      }
    });

    test("ssh-keygen -m PEM / PKCS8 for Ed25519 writes openssh-key-v1 anyway", async () => {
      for (const format of ["PEM", "PKCS8"]) {
        const file = path.join(dir, `ed25519-asked-${format}`);
        await sshKeygen(["-q", "-t", "ed25519", "-m", format, "-N", "", "-f", file]);
        const text = fs.readFileSync(file, "utf8");
        assert.match(text, /^-----BEGIN OPENSSH PRIVATE KEY-----/);
        assert.ok(
          parsePrivateKey(text).publicKey.equals(parsePublicKeyFile(fs.readFileSync(file + ".pub")).key),
        );
      }
    });
  });

  describe("keys written by us, read by ssh-keygen -y", () => {
    /** Write, chmod 600 (ssh-keygen refuses looser modes), and return `ssh-keygen -y`'s public key line. */
    function roundTrip(name: string, text: string, passphrase: string): { key: PublicKey; comment: string } {
      const file = path.join(dir, `ours-${name}`);
      fs.writeFileSync(file, text, { mode: 0o600 });
      const line = sshKeygenSync(["-y", "-P", passphrase, "-f", file]);
      if (passphrase) {
        const wrong = sshKeygenStatus(["-y", "-P", WRONG, "-f", file]);
        assert.notEqual(wrong.status, 0, "ssh-keygen refuses the wrong passphrase");
        assert.match(wrong.stderr, /incorrect passphrase/);
      }
      return parsePublicKeyLine(line);
    }

    for (const spec of KEY_SPECS) {
      const cases: { format: "openssh" | "pem" | "pkcs8"; passphrase: string; cipher?: string }[] = [
        { format: "openssh", passphrase: "" },
        {
          format: "openssh",
          passphrase: PASS,
          cipher: OPENSSH_KEY_CIPHERS[(KEY_SPECS.indexOf(spec) * 3) % 10],
        },
        { format: "pem", passphrase: "" },
        { format: "pem", passphrase: PASS },
        { format: "pkcs8", passphrase: "" },
        { format: "pkcs8", passphrase: PASS },
      ];
      for (const c of cases) {
        const name = `${spec.name}-${c.format}-${c.passphrase ? `enc-${c.cipher ?? "default"}` : "plain"}`;
        test(name, () => {
          const key = base.get(spec.name)!;
          const options = { format: c.format, passphrase: c.passphrase, cipher: c.cipher, rounds: 2 };
          if (spec.name === "ed25519" && c.format === "pem") {
            assertSshError(() => serializePrivateKey(key, options), "UNSUPPORTED", "ed25519 as PEM");
            return;
          }
          const text = serializePrivateKey(key, { ...options, comment: "written by nssh" });
          const again = parsePrivateKey(text, c.passphrase);
          assert.ok(again.publicKey.equals(key.publicKey));
          assertSignsAndVerifies(again, key.publicKey, Buffer.from(text));
          if (spec.name === "ed25519" && c.format === "pkcs8") {
            // OpenSSH 9.2 reads no Ed25519 PKCS#8 ("invalid format"); we read our own.
            return;
          }
          const out = roundTrip(name, text, c.passphrase);
          assert.ok(out.key.equals(key.publicKey), "ssh-keygen -y gives the same public key");
          assert.equal(out.comment, c.format === "openssh" ? "written by nssh" : "");
        });
      }
    }

    for (const spec of KEY_SPECS.filter((s) => s.name === "ed25519" || s.name === "ecdsa521")) {
      for (const cipher of OPENSSH_KEY_CIPHERS) {
        test(`${spec.name} openssh -Z ${cipher}`, () => {
          const key = base.get(spec.name)!;
          const text = serializePrivateKey(key, { format: "openssh", passphrase: PASS, cipher, rounds: 2 });
          assert.equal(readOpenSshPrivateKeyInfo(text).cipherName, cipher);
          const out = roundTrip(`${spec.name}-Z-${cipher}`, text, PASS);
          assert.ok(out.key.equals(key.publicKey));
          assert.equal(out.comment, comment(spec));
        });
      }
    }

    test("defaults: aes256-ctr, bcrypt with 16 rounds, 70-column base64", () => {
      const key = base.get("ed25519")!;
      const text = serializePrivateKey(key, { format: "openssh", passphrase: PASS });
      const info = readOpenSshPrivateKeyInfo(text);
      assert.deepEqual([info.cipherName, info.kdfName, info.rounds], ["aes256-ctr", "bcrypt", 16]);
      const lines = text.trimEnd().split("\n");
      assert.ok(lines.slice(1, -2).every((l) => l.length === 70));
      assert.ok(roundTrip("ed25519-defaults", text, PASS).key.equals(key.publicKey));
    });

    test("ssh-keygen -p re-encrypts a key we wrote, and we read the result", async () => {
      const key = base.get("ecdsa256")!;
      const file = path.join(dir, "ours-repass");
      fs.writeFileSync(file, serializePrivateKey(key, { format: "openssh", passphrase: PASS, rounds: 2 }), {
        mode: 0o600,
      });
      await sshKeygen([
        "-q",
        "-p",
        "-f",
        file,
        "-P",
        PASS,
        "-N",
        WRONG,
        "-a",
        "2",
        "-Z",
        "aes128-gcm@openssh.com",
      ]);
      const again = parsePrivateKey(fs.readFileSync(file), WRONG);
      assert.ok(again.publicKey.equals(key.publicKey));
      assert.equal(again.comment, comment({ name: "ecdsa256", args: [] }));
    });
  });
});
