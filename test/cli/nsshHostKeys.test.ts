/**
 * nssh's host key checking against a real sshd, and its messages compared with OpenSSH's own ssh: first
 * contact under each StrictHostKeyChecking value (the question asked through SSH_ASKPASS, as ssh does
 * when SSH_ASKPASS_REQUIRE=force), a changed key, a revoked key, hashed entries, HostKeyAlias, and the
 * error paths, which must all refuse the key (CVE-2025-26465).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { hashKnownHostName } from "../../src/keys/knownHosts.js";
import { envWithoutAgent, runProgram } from "../helpers/processes.js";
import { nsshSkip, runNssh, startNsshWorld, writeScript, type NsshWorld } from "../helpers/nsshFixtures.js";

describe("nssh: host key checking", { skip: nsshSkip }, () => {
  let w: NsshWorld;
  let askpass: string;
  let promptLog: string;
  before(async () => {
    w = await startNsshWorld([], { trustHostKey: false });
    promptLog = path.join(w.dir, "askpass-prompts");
    // Records each prompt and answers what ASKPASS_ANSWER says.
    askpass = writeScript(
      w.dir,
      "askpass.sh",
      `#!/bin/sh\nprintf '%s\\n---\\n' "$1" >> '${promptLog}'\nprintf '%s\\n' "$ASKPASS_ANSWER"\n`,
    );
  });
  after(async () => {
    await w?.stop();
  });
  beforeEach(() => {
    fs.rmSync(w.knownHosts, { force: true });
    fs.rmSync(promptLog, { force: true });
  });

  const port = () => w.sshd.port;
  const hostName = () => `[127.0.0.1]:${port()}`;
  const fingerprint = (): string => {
    const r = spawnSync("ssh-keygen", ["-l", "-f", "-"], {
      input: w.sshd.hostPublicKeys.get("ed25519")!,
      encoding: "utf8",
    });
    return r.stdout.split(" ")[1]!;
  };
  const nssh = (strict: string, extraEnv: NodeJS.ProcessEnv = {}, extra: string[] = []) =>
    runNssh([...w.baseArgs(["-o", `StrictHostKeyChecking=${strict}`, ...extra]), "127.0.0.1", "echo in"], {
      env: w.env(extraEnv),
    });
  const askpassEnv = (answer: string): NodeJS.ProcessEnv => ({
    SSH_ASKPASS: askpass,
    SSH_ASKPASS_REQUIRE: "force",
    ASKPASS_ANSWER: answer,
  });

  test("StrictHostKeyChecking=yes refuses an unknown key with ssh's message", async () => {
    const r = await nssh("yes");
    assert.equal(r.status, 255);
    assert.match(
      r.stderr,
      new RegExp(
        `No ED25519 host key is known for \\[127\\.0\\.0\\.1\\]:${port()} and you have requested strict checking\\.\\r?\\nHost key verification failed\\.`,
      ),
    );
    assert.equal(r.stdout, "");
    assert.equal(fs.existsSync(w.knownHosts), false);
  });

  test("accept-new records the key once, with the Permanently added warning", async () => {
    const r = await nssh("accept-new");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "in\n");
    assert.ok(
      r.stderr.includes(`Warning: Permanently added '${hostName()}' (ED25519) to the list of known hosts.`),
      r.stderr,
    );
    assert.equal(fs.readFileSync(w.knownHosts, "utf8"), w.knownHostsLine + "\n");
    const again = await nssh("yes");
    assert.equal(again.status, 0, again.stderr);
    assert.ok(!again.stderr.includes("Permanently added"));
  });

  test("ask: the question is OpenSSH's, word for word; yes records the key", async () => {
    const r = await nssh("ask", askpassEnv("yes"));
    assert.equal(r.status, 0, r.stderr);
    const expected =
      `The authenticity of host '${hostName()} (${hostName()})' can't be established.\n` +
      `ED25519 key fingerprint is ${fingerprint()}.\n` +
      `This key is not known by any other names.\n` +
      `Are you sure you want to continue connecting (yes/no/[fingerprint])? `;
    assert.equal(fs.readFileSync(promptLog, "utf8"), expected + "\n---\n");
    assert.match(fs.readFileSync(w.knownHosts, "utf8"), /ssh-ed25519 /);

    // OpenSSH's ssh asks the same question through the same askpass.
    fs.rmSync(w.knownHosts);
    fs.rmSync(promptLog);
    const ssh = await runProgram(
      "ssh",
      [...w.baseArgs(), "-o", "StrictHostKeyChecking=ask", "127.0.0.1", "true"],
      { env: { ...envWithoutAgent(), HOME: w.home, ...askpassEnv("yes") }, timeoutMs: 15_000 },
    );
    assert.equal(ssh.status, 0, ssh.stderr);
    assert.equal(fs.readFileSync(promptLog, "utf8"), expected + "\n---\n");
  });

  test("ask: answering the fingerprint accepts, no refuses", async () => {
    const fp = await nssh("ask", askpassEnv(fingerprint()));
    assert.equal(fp.status, 0, fp.stderr);
    fs.rmSync(w.knownHosts);
    const no = await nssh("ask", askpassEnv("no"));
    assert.equal(no.status, 255);
    assert.match(no.stderr, /Host key verification failed\./);
    assert.equal(fs.existsSync(w.knownHosts), false);
  });

  test("ask with no terminal and no askpass, or BatchMode: refused, never accepted", async () => {
    const r = await nssh("ask");
    assert.equal(r.status, 255);
    assert.match(r.stderr, /Host key verification failed\./);
    const batch = await nssh("ask", askpassEnv("yes"), ["-o", "BatchMode=yes"]);
    assert.equal(batch.status, 255);
    assert.equal(fs.existsSync(promptLog), false, "BatchMode must not ask");
  });

  test("a failing askpass program refuses the key (fail closed)", async () => {
    const missing = await nssh("ask", {
      SSH_ASKPASS: path.join(w.dir, "no-such-askpass"),
      SSH_ASKPASS_REQUIRE: "force",
    });
    assert.equal(missing.status, 255);
    assert.match(missing.stderr, /Host key verification failed\./);
    const failing = writeScript(w.dir, "failing-askpass.sh", "#!/bin/sh\necho yes\nexit 1\n");
    const r = await nssh("ask", { SSH_ASKPASS: failing, SSH_ASKPASS_REQUIRE: "force" });
    assert.equal(r.status, 255);
    assert.equal(fs.existsSync(w.knownHosts), false);
  });

  test("a changed key: the warning with the offending line, refused even with accept-new", async () => {
    const other = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(w.dir, "other")]);
    assert.equal(other.status, 0);
    const otherKey = fs.readFileSync(path.join(w.dir, "other.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    fs.writeFileSync(w.knownHosts, `# a comment\n${hostName()} ${otherKey}\n`);
    for (const strict of ["yes", "accept-new", "ask"]) {
      const r = await nssh(strict, askpassEnv("yes"));
      assert.equal(r.status, 255, strict);
      assert.equal(r.stdout, "");
      const text = r.stderr.replace(/\r/g, "");
      assert.ok(text.includes("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @"), text);
      assert.ok(
        text.includes(`The fingerprint for the ED25519 key sent by the remote host is\n${fingerprint()}.`),
      );
      assert.ok(text.includes(`Offending ED25519 key in ${w.knownHosts}:2`), text);
      assert.ok(
        text.includes(`Host key for ${hostName()} has changed and you have requested strict checking.`),
      );
      assert.ok(text.includes("Host key verification failed."));
    }
    // StrictHostKeyChecking=no goes on as ssh does, with password methods off.
    const no = await nssh("no");
    assert.equal(no.status, 0, no.stderr);
    assert.match(no.stderr, /Password authentication is disabled to avoid man-in-the-middle attacks\./);
  });

  test("a revoked key is refused", async () => {
    fs.writeFileSync(
      w.knownHosts,
      `@revoked * ${w.sshd.hostPublicKeys.get("ed25519")}\n${w.knownHostsLine}\n`,
    );
    const r = await nssh("no");
    assert.equal(r.status, 255);
    assert.match(r.stderr, /REVOKED HOST KEY DETECTED/);
    assert.match(r.stderr, /Host key verification failed\./);
  });

  test("hashed known_hosts entries are found", async () => {
    fs.writeFileSync(w.knownHosts, w.knownHostsLine + "\n");
    const h = spawnSync("ssh-keygen", ["-H", "-f", w.knownHosts], { encoding: "utf8" });
    assert.equal(h.status, 0, h.stderr);
    assert.match(fs.readFileSync(w.knownHosts, "utf8"), /^\|1\|/);
    const r = await nssh("yes");
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "in\n");
  });

  test("HashKnownHosts=yes writes a hashed line that OpenSSH's ssh then trusts", async () => {
    const r = await nssh("accept-new", {}, ["-o", "HashKnownHosts=yes"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(fs.readFileSync(w.knownHosts, "utf8"), /^\|1\|[^ ]+ ssh-ed25519 /);
    const ssh = await runProgram(
      "ssh",
      [...w.baseArgs(), "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "127.0.0.1", "true"],
      { env: { ...envWithoutAgent(), HOME: w.home }, timeoutMs: 15_000 },
    );
    assert.equal(ssh.status, 0, ssh.stderr);
  });

  test("HostKeyAlias names the entry, without the port (as ssh)", async () => {
    fs.writeFileSync(w.knownHosts, `myalias ${w.sshd.hostPublicKeys.get("ed25519")}\n`);
    const ok = await nssh("yes", {}, ["-o", "HostKeyAlias=myalias"]);
    assert.equal(ok.status, 0, ok.stderr);
    const plain = await nssh("yes");
    assert.equal(plain.status, 255);
  });
  test("ask: the same key known under other names is listed, word for word as OpenSSH's ssh", async () => {
    const key = w.sshd.hostPublicKeys.get("ed25519")!.split(" ").slice(0, 2).join(" ");
    const otherKey = w.sshd.hostPublicKeys.get("ecdsa")!.split(" ").slice(0, 2).join(" ");
    fs.writeFileSync(
      w.knownHosts,
      [
        `otherhost,10.9.8.7 ${key}`,
        `${hashKnownHostName("hashedalias")} ${key}`,
        `unrelated ${otherKey}`,
        `@revoked revokedname ${otherKey}`,
        `# a comment`,
        `[127.0.0.1]:1 ${key}`,
      ].join("\n") + "\n",
    );
    const globalFile = path.join(w.dir, "global_known_hosts");
    fs.writeFileSync(globalFile, `globalname ${key}\n`);
    const args = w
      .baseArgs(["-o", "StrictHostKeyChecking=ask"])
      .map((a) => (a === "GlobalKnownHostsFile=/dev/null" ? `GlobalKnownHostsFile=${globalFile}` : a))
      .concat("127.0.0.1", "true");
    const ours = await runNssh(args, { env: w.env(askpassEnv("no")) });
    assert.equal(ours.status, 255);
    const expected =
      `The authenticity of host '${hostName()} (${hostName()})' can't be established.\n` +
      `ED25519 key fingerprint is ${fingerprint()}.\n` +
      `This host key is known by the following other names/addresses:\n` +
      `    ~/.ssh/known_hosts:1: otherhost,10.9.8.7\n` +
      `    ~/.ssh/known_hosts:2: [hashed name]\n` +
      `    ~/.ssh/known_hosts:6: [127.0.0.1]:1\n` +
      `    ${globalFile}:1: globalname\n` +
      `Are you sure you want to continue connecting (yes/no/[fingerprint])? `;
    assert.equal(fs.readFileSync(promptLog, "utf8"), expected + "\n---\n");

    fs.rmSync(promptLog);
    const ssh = await runProgram("ssh", args, {
      env: { ...envWithoutAgent(), HOME: w.home, ...askpassEnv("no") },
      timeoutMs: 15_000,
    });
    assert.equal(ssh.status, 255);
    assert.equal(fs.readFileSync(promptLog, "utf8"), expected + "\n---\n");
  });

  test("ask: more than eight other names are cut, as ssh does", async () => {
    const key = w.sshd.hostPublicKeys.get("ed25519")!.split(" ").slice(0, 2).join(" ");
    fs.writeFileSync(w.knownHosts, Array.from({ length: 10 }, (_, i) => `name${i} ${key}\n`).join(""));
    const ours = await nssh("ask", askpassEnv("no"));
    assert.equal(ours.status, 255);
    const prompt = fs.readFileSync(promptLog, "utf8");
    assert.match(
      prompt,
      /    ~\/\.ssh\/known_hosts:8: name7\n    \(2 additional names omitted\)\nAre you sure/,
    );
    assert.ok(!prompt.includes("name8"));
  });
});
