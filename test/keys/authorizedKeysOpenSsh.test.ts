/**
 * Our authorized_keys verdicts next to OpenSSH's sshd: for each line, the real `ssh` tries to log in with
 * the key to a real sshd reading that line; whether it gets in must be what parseAuthorizedKeys +
 * authorizeKey say, and where sshd logs a refusal its wording must be ours.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { authorizeKey, parseAuthorizedKeys, type AuthorizedKeyEntry } from "../../src/keys/authorizedKeys.js";
import { parsePublicKeyLine, type PublicKey } from "../../src/keys/index.js";
import { opensshAvailable, startOpenSshServer, type OpenSshServer } from "../helpers/opensshServer.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";
import { makeTempDir, removeTempDir } from "./sshKeygen.js";

const skip = !opensshAvailable() && "OpenSSH is not installed";

describe("authorized_keys lines agree with OpenSSH's sshd", { skip }, () => {
  let server: OpenSshServer;
  let dir: string;
  let keyFile: string;
  let pub: PublicKey;
  let pubLine: string;
  let authorizedKeysFile: string;
  before(async () => {
    server = await startOpenSshServer(["PermitRootLogin prohibit-password", "PermitUserEnvironment yes"]);
    authorizedKeysFile = path.join(server.dir, "authorized_keys");
    dir = makeTempDir("nssh-ak-ssh-");
    keyFile = path.join(dir, "id_ed25519");
    const gen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile], {
      stdio: "ignore",
    });
    assert.equal(gen.status, 0);
    pubLine = fs.readFileSync(keyFile + ".pub", "utf8").trim();
    pub = parsePublicKeyLine(pubLine).key;
  });
  after(async () => {
    await server?.stop();
    if (dir) removeTempDir(dir);
  });

  /** Install the lines, log in with ssh, and evaluate the same lines ourselves. */
  async function tryLines(
    lines: string[],
    command = "echo in",
  ): Promise<{
    sshIn: boolean;
    stdout: string;
    ours: { entry: AuthorizedKeyEntry | undefined; refused: string[] };
  }> {
    server.setAuthorizedKeys(lines);
    const r = await runProgram(
      "ssh",
      [
        "-F",
        "/dev/null",
        "-i",
        keyFile,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-p",
        String(server.port),
        "root@127.0.0.1",
        command,
      ],
      { env: envWithoutAgent(), timeoutMs: 15_000 },
    );
    assert.equal(r.timedOut, false);
    const { entries } = parseAuthorizedKeys(lines.join("\n") + "\n", authorizedKeysFile);
    const ours = authorizeKey(entries, pub, { remoteAddress: "127.0.0.1", user: "root" });
    return { sshIn: r.status === 0, stdout: r.stdout, ours };
  }

  test('from="127.0.0.1" admits, and so do we', async () => {
    const { sshIn, ours } = await tryLines([`from="127.0.0.1" ${pubLine}`]);
    assert.equal(sshIn, true);
    assert.ok(ours.entry);
  });

  test('from="10.0.0.1" refuses, with the same log line', async () => {
    const { sshIn, ours } = await tryLines([`from="10.0.0.1" ${pubLine}`]);
    assert.equal(sshIn, false);
    assert.equal(ours.entry, undefined);
    assert.equal(ours.refused.length, 1);
    assert.ok(server.log().includes(ours.refused[0]!), `sshd's log should hold: ${ours.refused[0]}`);
  });

  test("from= with CIDR and negation", async () => {
    const cidr = await tryLines([`from="10.0.0.0/8,127.0.0.0/8" ${pubLine}`]);
    assert.equal(cidr.sshIn, true);
    assert.ok(cidr.ours.entry);
    const negated = await tryLines([`from="127.0.0.0/8,!127.0.0.1" ${pubLine}`]);
    assert.equal(negated.sshIn, false);
    assert.equal(negated.ours.entry, undefined);
    const inconsistent = await tryLines([`from="127.0.0.1/8" ${pubLine}`]);
    assert.equal(inconsistent.sshIn, false);
    assert.equal(inconsistent.ours.entry, undefined);
  });

  test("an unknown option makes the line invalid; the next line still counts", async () => {
    const alone = await tryLines([`bogus-option ${pubLine}`]);
    assert.equal(alone.sshIn, false);
    assert.equal(alone.ours.entry, undefined);
    const then = await tryLines([`bogus-option ${pubLine}`, `command="echo second" ${pubLine}`]);
    assert.equal(then.sshIn, true);
    assert.equal(then.stdout.trim(), "second");
    assert.equal(then.ours.entry?.options.command, "echo second");
    assert.equal(then.ours.entry?.line, 2);
  });

  test("a line refused by from= does not end the search", async () => {
    const r = await tryLines([
      `from="10.0.0.1",command="echo first" ${pubLine}`,
      `command="echo second" ${pubLine}`,
    ]);
    assert.equal(r.stdout.trim(), "second");
    assert.equal(r.ours.entry?.line, 2);
  });

  test("expiry-time in the past refuses with sshd's log line; in the future admits", async () => {
    const past = await tryLines([`expiry-time="20200101" ${pubLine}`]);
    assert.equal(past.sshIn, false);
    assert.equal(past.ours.entry, undefined);
    assert.ok(
      server.log().includes(past.ours.refused[0]!),
      `sshd's log should hold: ${past.ours.refused[0]}`,
    );
    const future = await tryLines([`expiry-time="20991231Z" ${pubLine}`]);
    assert.equal(future.sshIn, true);
    assert.ok(future.ours.entry);
  });

  test('forced command with \\" quoting, upper-case names, restrict', async () => {
    const r = await tryLines([`RESTRICT,COMMAND="echo \\"quoted  words\\"" ${pubLine}`], "echo not-run");
    assert.equal(r.sshIn, true);
    assert.equal(r.stdout.trim(), "quoted  words");
    assert.equal(r.ours.entry?.options.command, 'echo "quoted  words"');
    assert.equal(r.ours.entry?.options.pty, false);
  });

  test("environment= is applied (PermitUserEnvironment yes); a bad one invalidates the line", async () => {
    const ok = await tryLines([`environment="NSSH_T=from-file" ${pubLine}`], "echo $NSSH_T");
    assert.equal(ok.stdout.trim(), "from-file");
    assert.deepEqual(ok.ours.entry?.options.environment, ["NSSH_T=from-file"]);
    const bad = await tryLines([`environment="NOEQUALS" ${pubLine}`]);
    assert.equal(bad.sshIn, false);
    assert.equal(bad.ours.entry, undefined);
  });

  test("bad permitopen and tunnel values invalidate the line, good ones do not", async () => {
    for (const [options, valid] of [
      ['permitopen="localhost"', false],
      ['permitopen="localhost:8080",permitlisten="2222"', true],
      ['tunnel="x"', false],
      ['tunnel="1"', true],
    ] as const) {
      const r = await tryLines([`${options} ${pubLine}`]);
      assert.equal(r.sshIn, valid, `sshd on ${options}`);
      assert.equal(r.ours.entry !== undefined, valid, `ours on ${options}`);
    }
  });
});
