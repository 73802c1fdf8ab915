/**
 * Fingerprint lines and randomart against `ssh-keygen -l [-v] [-E md5] -f key.pub`, for every key type.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  fingerprint,
  fingerprintLine,
  keyTypeLabel,
  parsePrivateKey,
  parsePublicKeyFile,
  randomart,
} from "../../src/keys/index.js";
import { KEY_SPECS, makeTempDir, mapLimit, removeTempDir, sshKeygen } from "./sshKeygen.js";

// RSA 4096 is covered by the interop test's fingerprint lines; generating it again here costs seconds.
const SPECS = KEY_SPECS.filter((s) => s.name !== "rsa4096");

describe("fingerprints as ssh-keygen -l prints them", () => {
  let dir = "";
  before(async () => {
    dir = makeTempDir("nssh-fp-");
    await mapLimit(SPECS, 2, async (spec) => {
      const file = path.join(dir, spec.name);
      await sshKeygen(["-q", ...spec.args, "-N", "", "-C", `${spec.name} with  two spaces`, "-f", file]);
      await sshKeygen(["-q", ...spec.args, "-N", "", "-C", "", "-f", file + "-nocomment"]);
    });
  });
  after(() => removeTempDir(dir));

  for (const spec of SPECS) {
    test(spec.name, async () => {
      for (const file of [path.join(dir, spec.name), path.join(dir, spec.name + "-nocomment")]) {
        const { key, comment } = parsePublicKeyFile(fs.readFileSync(file + ".pub"));
        for (const hash of ["sha256", "md5"] as const) {
          const out = await sshKeygen(["-l", "-v", "-E", hash, "-f", file + ".pub"]);
          const [line, ...art] = out.trimEnd().split("\n");
          assert.equal(fingerprintLine(key, comment, hash), line);
          assert.equal(randomart(key, hash), art.join("\n"));
          assert.ok(line!.includes(fingerprint(key, hash)));
        }
        // The private key gives the same line.
        const priv = parsePrivateKey(fs.readFileSync(file));
        assert.equal(fingerprintLine(priv, comment), fingerprintLine(key, comment));
        const label = spec.name === "ed25519" ? "ED25519" : spec.name.startsWith("ecdsa") ? "ECDSA" : "RSA";
        assert.equal(keyTypeLabel(priv), label);
      }
    });
  }

  test('an empty comment prints as "no comment"', async () => {
    const file = path.join(dir, "ed25519-nocomment.pub");
    const { key, comment } = parsePublicKeyFile(fs.readFileSync(file));
    assert.equal(comment, "");
    assert.match(fingerprintLine(key, comment), / no comment \(ED25519\)$/);
    assert.equal(fingerprintLine(key, comment), (await sshKeygen(["-l", "-f", file])).trim());
  });
});
