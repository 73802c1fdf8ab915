/**
 * authorized_keys parsing: every option of sshd(8) AUTHORIZED_KEYS FILE FORMAT, quoting, restrict and the
 * re-enables, bad lines reported and skipped, from= and expiry-time checks.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  authorizeKey,
  checkKeyOptions,
  findAuthorizedKey,
  parseAuthorizedKeyOptions,
  parseAuthorizedKeys,
  parseExpiryTime,
  type AuthorizedKeyEntry,
} from "../../src/keys/authorizedKeys.js";
import { PrivateKey } from "../../src/keys/index.js";
import { SshError } from "../../src/wire/index.js";

const ed = PrivateKey.generate("ssh-ed25519").publicKey;
const ec = PrivateKey.generate("ecdsa-sha2-nistp256").publicKey;
const K = ed.toLine();

function entry(options: string, key = K): AuthorizedKeyEntry {
  const { entries, errors } = parseAuthorizedKeys(
    `${options} ${key} a comment`,
    "/home/u/.ssh/authorized_keys",
  );
  assert.deepEqual(errors, []);
  assert.equal(entries.length, 1);
  return entries[0]!;
}

function badOptions(options: string, message: RegExp): void {
  assert.throws(
    () => parseAuthorizedKeyOptions(options),
    (err: unknown) => err instanceof SshError && err.code === "KEY_FORMAT" && message.test(err.message),
    options,
  );
}

describe("parseAuthorizedKeys", () => {
  test("a plain line: defaults permit everything", () => {
    const { entries, errors } = parseAuthorizedKeys(
      `# comment\n\n  ${K} alice@laptop\r\n${ec.toLine()}\n`,
      "ak",
    );
    assert.deepEqual(errors, []);
    assert.equal(entries.length, 2);
    const e = entries[0]!;
    assert.deepEqual([e.file, e.line, e.comment], ["ak", 3, "alice@laptop"]);
    assert.ok(e.key.equals(ed));
    assert.deepEqual(e.options, {
      environment: [],
      permitOpen: [],
      permitListen: [],
      certAuthority: false,
      noTouchRequired: false,
      verifyRequired: false,
      pty: true,
      portForwarding: true,
      agentForwarding: true,
      x11Forwarding: true,
      userRc: true,
    });
    assert.equal(entries[1]!.line, 4);
  });

  test("every option", () => {
    const o = entry(
      [
        'command="/usr/bin/backup --dry-run"',
        'environment="PATH=/bin:/usr/bin"',
        'environment="LANG=C"',
        'environment="PATH=/ignored"',
        'expiry-time="20301231"',
        'from="*.example.com,!bad.example.com,10.0.0.0/8"',
        "no-agent-forwarding",
        "no-port-forwarding",
        "no-pty",
        "no-user-rc",
        "no-X11-forwarding",
        'permitopen="localhost:8080"',
        'permitopen="[::1]:*"',
        'permitlisten="2222"',
        'permitlisten="localhost:9000"',
        'principals="alice,bob"',
        "no-touch-required",
        "verify-required",
        'tunnel="5"',
      ].join(","),
    ).options;
    assert.equal(o.command, "/usr/bin/backup --dry-run");
    assert.deepEqual(o.environment, ["PATH=/bin:/usr/bin", "LANG=C"], "the first PATH wins");
    assert.deepEqual(o.expiryTime, new Date(2030, 11, 31));
    assert.equal(o.from, "*.example.com,!bad.example.com,10.0.0.0/8");
    assert.deepEqual(
      [o.agentForwarding, o.portForwarding, o.pty, o.userRc, o.x11Forwarding],
      [false, false, false, false, false],
    );
    assert.deepEqual(o.permitOpen, ["localhost:8080", "[::1]:*"]);
    assert.deepEqual(o.permitListen, ["*:2222", "localhost:9000"]);
    assert.equal(o.principals, "alice,bob");
    assert.equal(o.noTouchRequired, true);
    assert.equal(o.verifyRequired, true);
    assert.equal(o.tunnel, 5);
    assert.equal(o.certAuthority, false);
    assert.equal(parseAuthorizedKeyOptions('tunnel="any"').tunnel, -1);
    assert.equal(parseAuthorizedKeyOptions("cert-authority").certAuthority, true);
    assert.equal(parseAuthorizedKeyOptions("touch-required").noTouchRequired, false);
  });

  test("restrict, then explicit re-enables, left to right", () => {
    const r = parseAuthorizedKeyOptions("restrict");
    assert.deepEqual(
      [r.pty, r.portForwarding, r.agentForwarding, r.x11Forwarding, r.userRc],
      [false, false, false, false, false],
    );
    const re = parseAuthorizedKeyOptions(
      "restrict,pty,port-forwarding,agent-forwarding,X11-forwarding,user-rc",
    );
    assert.deepEqual(
      [re.pty, re.portForwarding, re.agentForwarding, re.x11Forwarding, re.userRc],
      [true, true, true, true, true],
    );
    const order = parseAuthorizedKeyOptions("pty,restrict");
    assert.equal(order.pty, false, "restrict after pty wins");
    const some = parseAuthorizedKeyOptions("restrict,pty");
    assert.deepEqual([some.pty, some.portForwarding], [true, false]);
  });

  test('quoting: \\" inside quotes, spaces and commas in values, other backslashes kept', () => {
    const e = entry('command="echo \\"hi there\\", done \\\\n",from="a,b"');
    assert.equal(e.options.command, 'echo "hi there", done \\\\n');
    assert.equal(e.options.from, "a,b");
    assert.equal(e.comment, "a comment");
    assert.ok(e.key.equals(ed));
    assert.equal(entry('environment="X=a b\tc"').options.environment[0], "X=a b\tc");
  });

  test("names are case-insensitive, as in sshd", () => {
    const o = parseAuthorizedKeyOptions('COMMAND="x",No-Pty,FROM="h"');
    assert.deepEqual([o.command, o.pty, o.from], ["x", false, "h"]);
  });

  test("bad options and values", () => {
    badOptions("bogus", /unsupported option "bogus"/);
    badOptions("no-restrict", /unsupported option/);
    badOptions("no-cert-authority", /unsupported option/);
    badOptions("ptyx", /unknown key option/);
    badOptions("pty,", /unexpected end-of-options/);
    badOptions("command=ls", /missing start quote/);
    badOptions('command="ls', /missing end quote/);
    badOptions('command="a",command="b"', /multiple "command" clauses/);
    badOptions('from="a",from="b"', /multiple "from" clauses/);
    badOptions('principals="a",principals="b"', /multiple "principals" clauses/);
    badOptions('environment="NOEQUALS"', /invalid environment string/);
    badOptions('environment="BAD-NAME=x"', /invalid environment string/);
    badOptions('expiry-time="2030"', /invalid expires time/);
    badOptions('expiry-time="20300231"', /invalid expires time/);
    badOptions('permitopen="localhost"', /permission port/);
    badOptions('permitopen="localhost:0"', /permission port/);
    badOptions('permitopen="localhost:70000"', /permission port/);
    badOptions('permitopen=":22"', /permission hostname/);
    badOptions('permitlisten="x:y"', /permission port/);
    badOptions('tunnel="x"', /invalid tun device/);
    badOptions('tunnel="-1"', /invalid tun device/);
  });

  test("bad lines are reported with their numbers and skipped; good lines around them are kept", () => {
    const text = [
      `${K} first`,
      `bogus-option ${K}`,
      `command="unterminated ${K}`,
      `no-pty`,
      `ssh-ed25519 AAAAnotbase64!`,
      `ssh-dss AAAAB3NzaC1kc3M= old`,
      `restrict ${ec.toLine()} last`,
    ].join("\n");
    const { entries, errors } = parseAuthorizedKeys(text, "ak");
    assert.deepEqual(
      entries.map((e) => [e.line, e.comment]),
      [
        [1, "first"],
        [7, "last"],
      ],
    );
    assert.deepEqual(
      errors.map((e) => e.line),
      [2, 3, 4, 5, 6],
    );
    assert.match(errors[0]!.message, /bad key options: unsupported option "bogus-option"/);
    assert.match(errors[1]!.message, /missing end quote/);
  });
});

describe("expiry-time timespecs", () => {
  test("YYYYMMDD[HHMM[SS]], local or UTC", () => {
    assert.deepEqual(parseExpiryTime("20300102"), new Date(2030, 0, 2));
    assert.deepEqual(parseExpiryTime("203001021304"), new Date(2030, 0, 2, 13, 4));
    assert.deepEqual(parseExpiryTime("20300102130405"), new Date(2030, 0, 2, 13, 4, 5));
    assert.deepEqual(parseExpiryTime("20300102Z"), new Date(Date.UTC(2030, 0, 2)));
    assert.deepEqual(parseExpiryTime("20300102130405UTC"), new Date(Date.UTC(2030, 0, 2, 13, 4, 5)));
    for (const bad of [
      "",
      "2030010",
      "203001021",
      "20301301",
      "20300132",
      "20300102250000",
      "x0300102",
      "Z",
    ]) {
      assert.equal(parseExpiryTime(bad), null, bad);
    }
  });

  test("the earliest of several expiry-time options counts", () => {
    const o = parseAuthorizedKeyOptions('expiry-time="20350101Z",expiry-time="20300101Z"');
    assert.deepEqual(o.expiryTime, new Date(Date.UTC(2030, 0, 1)));
  });
});

describe("findAuthorizedKey, checkKeyOptions and authorizeKey", () => {
  test("plain keys only: a cert-authority line never matches a plain key", () => {
    const { entries } = parseAuthorizedKeys(`cert-authority ${K} ca\n${ec.toLine()}\n${K} plain\n`, "ak");
    assert.equal(findAuthorizedKey(entries, ed)?.line, 3);
    assert.equal(findAuthorizedKey(entries, ec)?.line, 2);
    assert.equal(findAuthorizedKey(entries, PrivateKey.generate("ssh-ed25519").publicKey), undefined);
  });

  test("from= with addresses, CIDR, wildcards and negation", () => {
    const ok = (from: string, remoteAddress: string, remoteHostName?: string): boolean =>
      checkKeyOptions(entry(`from="${from}"`), { remoteAddress, remoteHostName }).ok;
    assert.ok(ok("127.0.0.1", "127.0.0.1"));
    assert.ok(!ok("10.0.0.1", "127.0.0.1"));
    assert.ok(ok("10.0.0.0/8,127.0.0.0/8", "127.0.0.1"));
    assert.ok(!ok("127.0.0.0/8,!127.0.0.1", "127.0.0.1"));
    assert.ok(ok("127.0.0.*", "127.0.0.1"));
    assert.ok(ok("127.0.0.1", "::ffff:127.0.0.1"), "a mapped address is IPv4");
    assert.ok(ok("2001:db8::/32", "2001:db8::7"));
    assert.ok(!ok("2001:db8::/32", "2001:db9::7"));
    assert.ok(ok("*.example.com", "192.0.2.1", "gw.example.com"));
    assert.ok(!ok("*.example.com,!gw.example.com", "192.0.2.1", "gw.example.com"));
    assert.ok(!ok("*.example.com", "192.0.2.1"), "no name without UseDNS: only the address is tried");
    assert.ok(!ok("127.0.0.1/8", "127.0.0.1"), "an inconsistent network refuses the key");
  });

  test("from= refusal in sshd's wording", () => {
    const r = checkKeyOptions(entry('from="10.0.0.1"'), { remoteAddress: "127.0.0.1", user: "alice" });
    assert.deepEqual(r, {
      ok: false,
      reason:
        "/home/u/.ssh/authorized_keys:1: Authentication tried for alice with correct key but not from a " +
        "permitted host (host=127.0.0.1, ip=127.0.0.1, required=10.0.0.1).",
    });
  });

  test("expiry-time in the past refuses, in the future admits", () => {
    const now = new Date(2026, 5, 15, 12, 0, 0);
    const past = checkKeyOptions(entry('expiry-time="202606151159"'), { remoteAddress: "127.0.0.1", now });
    assert.deepEqual(past, {
      ok: false,
      reason: "/home/u/.ssh/authorized_keys:1: entry expired at 2026-06-15T11:59:00",
    });
    assert.ok(checkKeyOptions(entry('expiry-time="202606151201"'), { remoteAddress: "127.0.0.1", now }).ok);
    assert.ok(checkKeyOptions(entry('expiry-time="20260615120000"'), { remoteAddress: "127.0.0.1", now }).ok);
  });

  test("authorizeKey: a refused line does not end the search", () => {
    const { entries } = parseAuthorizedKeys(
      [`from="10.0.0.1" ${K} first`, `cert-authority ${K}`, `command="ok" ${K} second`].join("\n"),
      "ak",
    );
    const r = authorizeKey(entries, ed, { remoteAddress: "127.0.0.1", user: "u" });
    assert.equal(r.entry?.comment, "second");
    assert.equal(r.refused.length, 1);
    assert.match(r.refused[0]!, /^ak:1: Authentication tried for u/);
    const none = authorizeKey(entries.slice(0, 1), ed, { remoteAddress: "127.0.0.1" });
    assert.equal(none.entry, undefined);
  });
});
