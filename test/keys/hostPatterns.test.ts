/**
 * Host, user and address patterns (ssh_config(5)/sshd_config(5) PATTERNS, OpenSSH match.c / addrmatch.c).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  addressMatchesCidrList,
  canonicalAddressText,
  matchAddressList,
  matchHostAndAddress,
  matchHostPattern,
  matchPatternList,
  matchUserHostPattern,
  normalizeRemoteAddress,
  parseIpAddress,
} from "../../src/keys/hostPatterns.js";
import { SshError } from "../../src/wire/index.js";

const isConfigError = (err: unknown): boolean => err instanceof SshError && err.code === "CONFIG";

describe("matchHostPattern", () => {
  test("literal, * and ?, case-insensitive", () => {
    assert.ok(matchHostPattern("example.com", "example.com"));
    assert.ok(matchHostPattern("EXAMPLE.com", "example.COM"));
    assert.ok(matchHostPattern("www.example.com", "*.example.com"));
    assert.ok(!matchHostPattern("example.com", "*.example.com"));
    assert.ok(matchHostPattern("host7", "host?"));
    assert.ok(!matchHostPattern("host17", "host?"));
    assert.ok(matchHostPattern("a", "*"));
    assert.ok(matchHostPattern("", "*"));
    assert.ok(matchHostPattern("", ""));
    assert.ok(!matchHostPattern("a", ""));
    assert.ok(matchHostPattern("192.168.1.20", "192.168.1.?0"));
    assert.ok(matchHostPattern("abcabcabd", "*abd"));
    assert.ok(matchHostPattern("a.b.c", "a*.*c"));
    assert.ok(!matchHostPattern("a.b.c", "a*.*d"));
    assert.ok(matchHostPattern("[host]:2222", "[host]:2222"));
  });

  test("case-sensitive when asked (user names)", () => {
    assert.ok(!matchHostPattern("Alice", "alice", true));
    assert.ok(matchHostPattern("alice", "al*", true));
  });

  test("a long adversarial pattern finishes quickly", () => {
    const name = "a".repeat(5000);
    assert.ok(!matchHostPattern(name, "*a*a*a*a*a*a*a*a*b"));
  });
});

describe("matchPatternList", () => {
  test("comma list; a matching negation wins regardless of order", () => {
    assert.equal(matchPatternList("db1.example.com", "*.example.com,!db1.example.com"), "negated");
    assert.equal(matchPatternList("db1.example.com", "!db1.example.com,*.example.com"), "negated");
    assert.equal(matchPatternList("web.example.com", "*.example.com,!db1.example.com"), "match");
    assert.equal(matchPatternList("other.org", "*.example.com,!db1.example.com"), "none");
    assert.equal(matchPatternList("x", "!y"), "none");
    assert.equal(matchPatternList("HOST", "host"), "match");
    assert.equal(matchPatternList("HOST", "host", true), "none");
  });
});

describe("addresses", () => {
  test("parse IPv4 and IPv6, reject junk", () => {
    assert.deepEqual([...parseIpAddress("10.1.2.3")!.bytes], [10, 1, 2, 3]);
    assert.equal(parseIpAddress("::1")!.family, 6);
    assert.equal(parseIpAddress("2001:db8::")!.bytes[3], 0xb8);
    assert.equal(parseIpAddress("::ffff:1.2.3.4")!.bytes[15], 4);
    for (const bad of ["1.2.3", "1.2.3.256", "host", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", ""]) {
      assert.equal(parseIpAddress(bad), null, bad);
    }
    assert.deepEqual(normalizeRemoteAddress("::ffff:127.0.0.1"), parseIpAddress("127.0.0.1"));
    assert.equal(normalizeRemoteAddress("fe80::1%eth0")!.family, 6);
    assert.equal(canonicalAddressText("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(canonicalAddressText("fe80::1%eth0"), "fe80::1");
    assert.equal(canonicalAddressText("2001:db8::1"), "2001:db8::1");
  });

  test("addressMatchesCidrList: IPv4 and IPv6 networks, negation", () => {
    const list = "192.168.0.0/16,!192.168.7.7,2001:db8::/32,10.0.0.1";
    assert.ok(addressMatchesCidrList("192.168.1.1", list));
    assert.ok(!addressMatchesCidrList("192.168.7.7", list));
    assert.ok(addressMatchesCidrList("10.0.0.1", list));
    assert.ok(!addressMatchesCidrList("10.0.0.2", list));
    assert.ok(addressMatchesCidrList("2001:db8:1::5", list));
    assert.ok(!addressMatchesCidrList("2001:db9::5", list));
    assert.ok(addressMatchesCidrList("::ffff:192.168.3.4", list), "mapped IPv4 is IPv4");
    assert.ok(addressMatchesCidrList("1.2.3.4", "0.0.0.0/0"));
    assert.ok(!addressMatchesCidrList("::1", "0.0.0.0/0"));
    assert.ok(addressMatchesCidrList("::1", "::/0"));
    assert.ok(!addressMatchesCidrList("not-an-address", "0.0.0.0/0"));
  });

  test("addressMatchesCidrList: malformed entries are CONFIG errors", () => {
    for (const bad of ["10.0.0.1/8", "10.0.0.0/33", "host.example", "10.0.0.*", "", "1.2.3.4,", "::1/129"]) {
      assert.throws(() => addressMatchesCidrList("10.0.0.1", bad), isConfigError, bad);
    }
  });

  test("matchAddressList (addr_match_list): CIDR, wildcard fallback, negation", () => {
    assert.equal(matchAddressList("10.1.2.3", "10.0.0.0/8"), "match");
    assert.equal(matchAddressList("10.1.2.3", "10.1.2.*"), "match");
    assert.equal(matchAddressList("10.1.2.3", "10.0.0.0/8,!10.1.2.3"), "negated");
    assert.equal(matchAddressList("10.1.2.3", "!10.1.0.0/16,10.0.0.0/8"), "negated");
    assert.equal(matchAddressList("10.1.2.3", "192.168.0.0/16"), "none");
    assert.equal(matchAddressList("10.1.2.3", "*.example.com"), "none");
    assert.equal(matchAddressList("::ffff:10.1.2.3", "10.1.2.3"), "match");
    assert.equal(matchAddressList("::ffff:10.1.2.3", "10.1.*"), "match", "wildcards see the IPv4 form");
    assert.throws(() => matchAddressList("10.1.2.3", "10.1.2.3/8"), isConfigError);
  });
});

describe("matchHostAndAddress (from= and user@host)", () => {
  test("names and addresses, negation in either refuses", () => {
    assert.ok(matchHostAndAddress("gw.example.com", "10.0.0.5", "*.example.com"));
    assert.ok(matchHostAndAddress("gw.example.com", "10.0.0.5", "10.0.0.0/24"));
    assert.ok(!matchHostAndAddress("gw.example.com", "10.0.0.5", "10.0.0.0/24,!gw.example.com"));
    assert.ok(!matchHostAndAddress("gw.example.com", "10.0.0.5", "*.example.com,!10.0.0.5"));
    assert.ok(!matchHostAndAddress("gw.example.com", "10.0.0.5", "other.org"));
    assert.ok(matchHostAndAddress(undefined, "127.0.0.1", "127.0.0.1"));
    assert.ok(!matchHostAndAddress(undefined, "127.0.0.1", "10.0.0.1"));
    assert.ok(!matchHostAndAddress(undefined, "::ffff:127.0.0.1", "!127.0.0.1,*"));
    assert.throws(() => matchHostAndAddress(undefined, "127.0.0.1", "127.0.0.1/8"), isConfigError);
  });

  test("matchUserHostPattern", () => {
    assert.ok(matchUserHostPattern("alice", undefined, "10.0.0.1", "alice"));
    assert.ok(!matchUserHostPattern("Alice", undefined, "10.0.0.1", "alice"));
    assert.ok(matchUserHostPattern("alice", undefined, "10.0.0.1", "al*@10.0.0.0/8"));
    assert.ok(!matchUserHostPattern("alice", undefined, "11.0.0.1", "alice@10.0.0.0/8"));
    assert.ok(matchUserHostPattern("bob", "pc.lan", "11.0.0.1", "bob@*.lan"));
    assert.ok(!matchUserHostPattern("carol", "pc.lan", "11.0.0.1", "bob@*.lan"));
  });
});
