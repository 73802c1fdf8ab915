/**
 * known_hosts parsing, matching, hashing and the known / changed / revoked / unknown verdicts, with hashed
 * names checked both ways against ssh-keygen (-H writes, -F finds).
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  appendKnownHost,
  checkKnownHost,
  checkServerHostKey,
  entryMatchesHost,
  findCertAuthorities,
  findKnownHostEntries,
  formatKnownHostsLine,
  hashKnownHostName,
  hashKnownHostsText,
  knownHostsName,
  parseKnownHosts,
  removeKnownHostFromText,
  type KnownHostsEntry,
} from "../../src/keys/knownHosts.js";
import { PrivateKey, type PublicKey } from "../../src/keys/index.js";
import { SshError } from "../../src/wire/index.js";
import { makeTempDir, removeTempDir, sshKeygen, sshKeygenStatus } from "./sshKeygen.js";

const ed = PrivateKey.generate("ssh-ed25519").publicKey;
const ed2 = PrivateKey.generate("ssh-ed25519").publicKey;
const ec = PrivateKey.generate("ecdsa-sha2-nistp256").publicKey;
const ca = PrivateKey.generate("ssh-ed25519").publicKey;
const line = (k: PublicKey): string => k.toLine();

function one(text: string): KnownHostsEntry {
  const { entries, errors } = parseKnownHosts(text, "kh");
  assert.deepEqual(errors, []);
  assert.equal(entries.length, 1);
  return entries[0]!;
}

let dir: string;
before(() => {
  dir = makeTempDir("nssh-kh-");
});
after(() => removeTempDir(dir));

describe("parseKnownHosts", () => {
  test("plain, hashed and marked entries with comments, blank and comment lines skipped", () => {
    const hashed = hashKnownHostName("example.org");
    const text = [
      "# a comment",
      "",
      `example.com,192.0.2.1 ${line(ed)} my comment`,
      `  ${hashed} ${line(ec)}`,
      `@cert-authority *.example.com ${line(ca)} ca`,
      `@revoked * ${line(ed2)}`,
      `[example.net]:2222\t${line(ed)}\r`,
    ].join("\n");
    const { entries, errors } = parseKnownHosts(text, "/etc/ssh/ssh_known_hosts");
    assert.deepEqual(errors, []);
    assert.equal(entries.length, 5);
    const [a, b, c, d, e] = entries as [
      KnownHostsEntry,
      KnownHostsEntry,
      KnownHostsEntry,
      KnownHostsEntry,
      KnownHostsEntry,
    ];
    assert.deepEqual(
      [a.line, a.marker, a.hostPatterns, a.hashed, a.comment, a.file],
      [3, null, "example.com,192.0.2.1", false, "my comment", "/etc/ssh/ssh_known_hosts"],
    );
    assert.ok(a.key.equals(ed));
    assert.deepEqual([b.line, b.hashed, b.hostPatterns], [4, true, hashed]);
    assert.ok(b.key.equals(ec));
    assert.deepEqual([c.marker, c.comment], ["cert-authority", "ca"]);
    assert.deepEqual([d.marker, d.hostPatterns], ["revoked", "*"]);
    assert.deepEqual([e.line, e.hostPatterns, e.comment], [7, "[example.net]:2222", ""]);
  });

  test("malformed lines are reported with their line numbers and skipped", () => {
    const b64 = ed.blob.toString("base64");
    const text = [
      `good ${line(ed)}`,
      `@bogus host ${line(ed)}`,
      "lonelyhost",
      `host ssh-ed25519 ${b64.slice(0, 20)}`,
      "|1|c2FsdA==|aGFzaA== " + line(ed),
      `host ssh-dss ${b64}`,
      `host ssh-rsa ${b64}`,
      `host2 ${line(ec)}`,
    ].join("\n");
    const { entries, errors } = parseKnownHosts(text, "kh");
    assert.deepEqual(
      entries.map((e) => [e.line, e.hostPatterns]),
      [
        [1, "good"],
        [8, "host2"],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.line),
      [2, 3, 4, 5, 6, 7],
    );
    assert.match(errors[0]!.message, /invalid marker/);
    assert.match(errors[1]!.message, /truncated/);
    assert.match(errors[3]!.message, /bad host hash/);
    assert.match(errors[4]!.message, /unsupported/);
    assert.match(errors[5]!.message, /mismatch/);
  });
});

describe("host names and matching", () => {
  test("knownHostsName: [host]:port off port 22", () => {
    assert.equal(knownHostsName("example.com", 22), "example.com");
    assert.equal(knownHostsName("example.com", 2222), "[example.com]:2222");
    assert.equal(knownHostsName("::1", 2222), "[::1]:2222");
    assert.equal(knownHostsName("::1", 22), "::1");
  });

  test("wildcards, negation, ports and case", () => {
    const e = one(`*.example.com,!bad.example.com,[alt.example.com]:2222 ${line(ed)}`);
    assert.ok(entryMatchesHost(e, "www.example.com"));
    assert.ok(entryMatchesHost(e, "WWW.Example.COM"));
    assert.ok(!entryMatchesHost(e, "bad.example.com"));
    assert.ok(!entryMatchesHost(e, "example.com"));
    assert.ok(entryMatchesHost(e, "[alt.example.com]:2222"));
    assert.ok(!entryMatchesHost(e, "[alt.example.com]:2223"));
    assert.ok(!entryMatchesHost(one(`host ${line(ed)}`), "[host]:2222"), "a port needs its own entry");
    assert.ok(entryMatchesHost(one(`[host]:* ${line(ed)}`), "[host]:2222"));
  });

  test("hashed names: fixed salt gives the HMAC-SHA1 of the name", () => {
    const salt = Buffer.alloc(20, 7);
    const h = hashKnownHostName("host.example", salt);
    assert.match(h, /^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}=$/);
    assert.equal(h, hashKnownHostName("host.example", salt));
    assert.notEqual(h, hashKnownHostName("host.example"));
    const e = one(`${h} ${line(ed)}`);
    assert.ok(entryMatchesHost(e, "host.example"));
    assert.ok(entryMatchesHost(e, "HOST.example"));
    assert.ok(!entryMatchesHost(e, "host.example2"));
    assert.throws(() => hashKnownHostName("x", Buffer.alloc(8)), SshError);
  });

  test("names hashed by ssh-keygen -H are found by us", async () => {
    const file = path.join(dir, "to_hash");
    fs.writeFileSync(file, `server.example,198.51.100.7 ${line(ed)}\n[server.example]:2200 ${line(ec)}\n`);
    await sshKeygen(["-H", "-f", file]);
    const text = fs.readFileSync(file, "utf8");
    assert.ok(!text.includes("server.example"), "ssh-keygen hashed the names");
    const { entries } = parseKnownHosts(text, file);
    assert.equal(entries.length, 3);
    assert.ok(entries.every((e) => e.hashed));
    assert.equal((await checkKnownHost([file], "server.example", ed)).status, "known");
    assert.equal((await checkKnownHost([file], "198.51.100.7", ed)).status, "known");
    assert.equal((await checkKnownHost([file], "[server.example]:2200", ec)).status, "known");
    assert.equal((await checkKnownHost([file], "other.example", ed)).status, "unknown");
  });

  test("our hashed lines are found by ssh-keygen -F, plain and [host]:port", async () => {
    const file = path.join(dir, "ours_hashed");
    fs.writeFileSync(
      file,
      formatKnownHostsLine(["Mixed.Example", "203.0.113.9"], ed, true) +
        "\n" +
        formatKnownHostsLine([knownHostsName("mixed.example", 2022)], ec, true) +
        "\n",
    );
    const lines = fs.readFileSync(file, "utf8").trim().split("\n");
    assert.equal(lines.length, 3, "one hashed line per name");
    const found = await sshKeygen(["-F", "mixed.example", "-f", file]);
    assert.match(found, /# Host mixed.example found: line 1/);
    assert.ok(found.includes(line(ed)));
    assert.match(await sshKeygen(["-F", "203.0.113.9", "-f", file]), /found: line 2/);
    assert.match(await sshKeygen(["-F", "[mixed.example]:2022", "-f", file]), /found: line 3/);
    assert.equal(sshKeygenStatus(["-F", "nothere.example", "-f", file]).status, 1);
  });

  test("hashKnownHostsText hashes as ssh-keygen -H does, leaving wildcard lines alone", async () => {
    const text = `a.example,b.example ${line(ed)} c1\n*.wild ${line(ec)}\n@revoked r.example ${line(ed2)}\n`;
    const hashed = hashKnownHostsText(text);
    const file = path.join(dir, "hashed_by_us");
    fs.writeFileSync(file, hashed);
    const { entries, errors } = parseKnownHosts(hashed, file);
    assert.deepEqual(errors, []);
    assert.deepEqual(
      entries.map((e) => [e.hashed, e.marker, e.comment]),
      [
        [true, null, "c1"],
        [true, null, "c1"],
        [false, null, ""],
        [true, "revoked", ""],
      ],
    );
    assert.match(await sshKeygen(["-F", "b.example", "-f", file]), /found: line 2/);
    assert.ok(hashed.endsWith("\n"));
  });

  test("removeKnownHostFromText drops the host's plain lines only", () => {
    const text = [
      `a.example ${line(ed)}`,
      `b.example ${line(ed)}`,
      hashKnownHostName("a.example") + " " + line(ec),
      `@cert-authority a.example ${line(ca)}`,
      "# keep me",
    ].join("\n");
    const { text: out, removed } = removeKnownHostFromText(text, "a.example", "kh");
    assert.deepEqual(
      removed.map((e) => e.line),
      [1, 3],
    );
    assert.equal(
      out,
      [`b.example ${line(ed)}`, `@cert-authority a.example ${line(ca)}`, "# keep me"].join("\n"),
    );
  });
});

describe("checkKnownHost", () => {
  let user: string;
  let global: string;
  before(() => {
    user = path.join(dir, "user_known_hosts");
    global = path.join(dir, "global_known_hosts");
    fs.writeFileSync(
      user,
      [
        `host.example ${line(ed)}`,
        `changed.example ${line(ed2)}`,
        `@cert-authority *.example ${line(ca)}`,
        `@revoked revoked.example ${line(ec)}`,
        `revoked.example ${line(ec)}`,
        `multi.example ${line(ed2)}`,
        `typed.example ${line(ec)}`,
        `!neg.example,*.neg-zone ${line(ed)}`,
      ].join("\n") + "\n",
    );
    fs.writeFileSync(global, `multi.example ${line(ed)}\n[port.example]:2222 ${line(ed)}\n`);
  });

  test("known, in either file, missing files are fine", async () => {
    const files = [path.join(dir, "missing", "known_hosts"), user, global];
    const r = await checkKnownHost(files, [knownHostsName("host.example", 22)], ed);
    assert.equal(r.status, "known");
    assert.equal(r.status === "known" && r.entry.line, 1);
    const m = await checkKnownHost(files, "multi.example", ed);
    assert.equal(m.status, "known", "a matching key anywhere wins over another key for the name");
    assert.equal(m.status === "known" && m.entry.file, global);
    assert.equal((await checkKnownHost(files, knownHostsName("port.example", 2222), ed)).status, "known");
    assert.equal((await checkKnownHost(files, "port.example", ed)).status, "unknown");
  });

  test("changed names the offending line", async () => {
    const r = await checkKnownHost([user, global], "changed.example", ed);
    assert.equal(r.status, "changed");
    assert.ok(
      r.status === "changed" && r.entry.line === 2 && r.entry.file === user && r.entry.key.equals(ed2),
    );
    // OpenSSH 9.2 calls a key of another type "changed" too (see knownHostsOpenSsh.test.ts).
    assert.equal((await checkKnownHost([user], "typed.example", ed)).status, "changed");
  });

  test("@revoked beats a plain entry for the same key", async () => {
    const r = await checkKnownHost([user], "revoked.example", ec);
    assert.equal(r.status, "revoked");
    assert.ok(r.status === "revoked" && r.entry.marker === "revoked" && r.entry.line === 4);
  });

  test("@cert-authority never matches a plain key but is listed", async () => {
    const r = await checkKnownHost([user], "ca-only.example", ca);
    assert.deepEqual(r, { status: "unknown", otherKeys: [] });
    const cas = await findCertAuthorities([user, global], "any.example");
    assert.equal(cas.length, 1);
    assert.ok(cas[0]!.key.equals(ca));
    assert.deepEqual(await findCertAuthorities([user], "example.org"), []);
  });

  test("negation and several names (host and address)", async () => {
    assert.equal((await checkKnownHost([user], "neg.example", ed)).status, "unknown");
    assert.equal((await checkKnownHost([user], "x.neg-zone", ed)).status, "known");
    assert.equal((await checkKnownHost([user], ["nothere", "host.example"], ed)).status, "known");
    const all = await findKnownHostEntries([user, global], ["multi.example", "host.example"]);
    assert.deepEqual(
      all.map((e) => `${path.basename(e.file)}:${e.line}`),
      ["user_known_hosts:1", "user_known_hosts:3", "user_known_hosts:6", "global_known_hosts:1"],
    );
  });

  test("checkServerHostKey: [host]:port, bare-host fallback off port 22, HostKeyAlias", async () => {
    const f = path.join(dir, "server_known_hosts");
    fs.writeFileSync(f, `srv.example ${line(ed)}\n[srv.example]:2200 ${line(ec)}\nalias-name ${line(ed2)}\n`);
    const r1 = await checkServerHostKey([f], "srv.example", 2222, ed);
    assert.deepEqual([r1.status, r1.matchedWithoutPort], ["known", true]);
    const r2 = await checkServerHostKey([f], "srv.example", 2200, ed);
    assert.deepEqual([r2.status, r2.matchedWithoutPort], ["changed", false], "a [host]:port entry wins");
    const r3 = await checkServerHostKey([f], "srv.example", 2222, ed2);
    assert.deepEqual([r3.status, r3.matchedWithoutPort], ["unknown", false]);
    const r4 = await checkServerHostKey([f], "srv.example", 22, ed2);
    assert.equal(r4.status, "changed");
    const r5 = await checkServerHostKey([f], "srv.example", 2200, ed2, { hostKeyAlias: "alias-name" });
    assert.equal(r5.status, "known");
  });

  test("malformed lines reach onWarning with file and line", async () => {
    const bad = path.join(dir, "bad_known_hosts");
    fs.writeFileSync(bad, `oops\nhost.example ${line(ed)}\n`);
    const warnings: string[] = [];
    const r = await checkKnownHost([bad], "host.example", ed, { onWarning: (m) => warnings.push(m) });
    assert.equal(r.status, "known");
    assert.equal(warnings.length, 1);
    assert.ok(warnings[0]!.startsWith(`${bad}:1: `));
  });
});

describe("appendKnownHost", () => {
  test("creates the folder 0700 and file 0644, guards the newline, ssh-keygen finds the entries", async () => {
    const sshDir = path.join(dir, "home", ".ssh");
    const file = path.join(sshDir, "known_hosts");
    const oldUmask = process.umask(0o022);
    try {
      await appendKnownHost(file, ["first.example"], ed, false);
    } finally {
      process.umask(oldUmask);
    }
    assert.equal(fs.statSync(sshDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(file).mode & 0o777, 0o644);
    fs.appendFileSync(file, `# hand-edited, no newline`);
    await appendKnownHost(file, ["second.example", "192.0.2.44"], ec, true);
    const lines = fs.readFileSync(file, "utf8").split("\n");
    assert.equal(lines[0], `first.example ${line(ed)}`);
    assert.equal(lines[1], "# hand-edited, no newline");
    assert.equal(lines.length, 5);
    assert.equal(lines[4], "");
    assert.match(await sshKeygen(["-F", "second.example", "-f", file]), /found: line 3/);
    assert.match(await sshKeygen(["-F", "192.0.2.44", "-f", file]), /found: line 4/);
    assert.equal((await checkKnownHost([file], "192.0.2.44", ec)).status, "known");
  });

  test("bad names are refused", () => {
    assert.throws(() => formatKnownHostsLine([], ed, false), SshError);
    assert.throws(() => formatKnownHostsLine(["a b"], ed, false), SshError);
    assert.equal(formatKnownHostsLine(["A.Example", "[b]:2"], ed, false), `a.example,[b]:2 ${line(ed)}`);
  });
});
