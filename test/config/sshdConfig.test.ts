/**
 * sshd_config(5) engine: Match criteria, Include, -o precedence, defaults, typed getters, and errors that
 * name their file and line.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkSshdConfig,
  expandAuthorizedKeysPath,
  formatSshdConfigDump,
  loadSshdConfig,
  missingTestSpecField,
  parseConnectionSpec,
  type SshdConfigLoadOptions,
} from "../../src/config/sshdConfig.js";
import { ConfigError } from "../../src/config/configLine.js";
import { SshError } from "../../src/wire/index.js";

async function withDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "nssh-sshdcfg-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function load(dir: string, text: string, extra: Partial<SshdConfigLoadOptions> = {}) {
  const file = join(dir, "sshd_config");
  await writeFile(file, text);
  return loadSshdConfig({ file, includeDir: dir, ...extra });
}

test("defaults are sshd's: -T of an empty file prints sshd 9.2's values", async (t) => {
  const dir = await withDir(t);
  const config = await load(dir, "");
  const g = config.global;
  assert.deepEqual(g.ports, [22]);
  assert.deepEqual(g.getAll("listenaddress"), ["[::]:22", "0.0.0.0:22"]);
  assert.equal(g.permitRootLogin, "prohibit-password");
  assert.equal(g.get("permitrootlogin"), "without-password");
  assert.deepEqual(g.maxStartups, { start: 10, rate: 30, full: 100 });
  assert.deepEqual(g.authorizedKeysFiles, [".ssh/authorized_keys", ".ssh/authorized_keys2"]);
  assert.equal(g.loginGraceTime, 120);
  assert.equal(g.authenticationMethods, null);
  assert.equal(g.streamLocalBindMask, 0o177);
  assert.deepEqual(g.hostKeys, [], "no HostKey: the caller chooses (defaults.hostkey)");
  const dump = formatSshdConfigDump(g);
  assert.match(dump, /^port 22\naddressfamily any\nlistenaddress \[::\]:22\nlistenaddress 0\.0\.0\.0:22\n/);
  assert.match(dump, /\nmaxstartups 10:30:100\n/);
  assert.match(dump, /\nrekeylimit 0 0\n/);
  assert.match(dump, /\nstreamlocalbindmask 0177\n/);
});

test("values are normalised as sshd -T prints them and typed getters read them", async (t) => {
  const dir = await withDir(t);
  const config = await load(
    dir,
    [
      "Port 2222",
      "Port 2200",
      "ListenAddress 127.0.0.1",
      "ListenAddress [::1]:2022",
      "LoginGraceTime 2m30s",
      "ClientAliveInterval 1h",
      "MaxStartups 5",
      "RekeyLimit 1G 1h",
      "IPQoS 0x20",
      "LogLevel debug1",
      "SyslogFacility local0",
      "Compression delayed",
      "AllowTcpForwarding all",
      "PermitListen 8080",
      "SetEnv A=1 B=2",
      "SetEnv C=3",
      "Subsystem sftp internal-sftp -l INFO",
      "AuthenticationMethods publickey,password publickey,keyboard-interactive:pam",
      "PermitUserEnvironment LANG,LC_*",
      "PerSourcePenalties authfail:10s max:1h",
    ].join("\n"),
  );
  const g = config.global;
  assert.deepEqual(g.ports, [2222, 2200]);
  assert.deepEqual(g.getAll("listenaddress"), ["127.0.0.1:2222", "127.0.0.1:2200", "[::1]:2022"]);
  assert.deepEqual(g.listenAddresses[2], { host: "::1", port: 2022 });
  assert.equal(g.loginGraceTime, 150);
  assert.equal(g.clientAliveInterval, 3600);
  assert.deepEqual(g.maxStartups, { start: 5, rate: 30, full: 5 });
  assert.deepEqual(g.rekeyLimit, { bytes: 1073741824, seconds: 3600 });
  assert.equal(g.get("ipqos"), "cs1 cs1");
  assert.equal(g.logLevel, "DEBUG");
  assert.equal(g.syslogFacility, "LOCAL0");
  assert.equal(g.compression, true);
  assert.equal(g.allowTcpForwarding, "yes");
  assert.deepEqual(g.permitListen, ["*:8080"]);
  assert.deepEqual(
    [...g.setEnv],
    [
      ["A", "1"],
      ["B", "2"],
    ],
  );
  assert.equal(g.subsystems.get("sftp"), "internal-sftp -l INFO");
  assert.deepEqual(g.authenticationMethods, [
    ["publickey", "password"],
    ["publickey", "keyboard-interactive:pam"],
  ]);
  assert.equal(g.permitUserEnvironment, "LANG,LC_*");
  assert.equal(g.perSourcePenalties?.get("authfail"), "10s");
  assert.equal(g.unusedConnectionTimeout, null);
  const zero = await load(dir, "UnusedConnectionTimeout 0\nChannelTimeout none\n");
  assert.equal(zero.global.get("unusedconnectiontimeout"), "none");
  assert.deepEqual(zero.global.channelTimeouts, []);
});

test("-o options are read first, so they win over the file; Match still overrides them", async (t) => {
  const dir = await withDir(t);
  const config = await load(
    dir,
    ["PasswordAuthentication yes", "MaxAuthTries 3", "Match User bob", "\tPasswordAuthentication yes"].join(
      "\n",
    ),
    { commandLineOptions: ["PasswordAuthentication=no", "MaxAuthTries 9", "Port=2022"] },
  );
  assert.equal(config.global.passwordAuthentication, false);
  assert.equal(config.global.maxAuthTries, 9);
  assert.deepEqual(config.global.ports, [2022]);
  assert.equal(config.forConnection({ user: "bob" }).passwordAuthentication, true);
});

test("-o errors name the command line; Match and Include are refused there", async (t) => {
  const dir = await withDir(t);
  const file = join(dir, "sshd_config");
  await writeFile(file, "");
  const check = await checkSshdConfig({
    file,
    commandLineOptions: ["MaxAuthTries=lots", "Match User x", "Include /etc/ssh/x"],
  });
  assert.deepEqual(
    check.errors.map((e) => e.message),
    [
      'command-line: MaxAuthTries integer value invalid: "lots".',
      "command-line: Match directive not supported as a command-line option",
      "command-line: Include directive not supported as a command-line option",
    ],
  );
});

test("defaults can be overridden by the caller (the non-root embedded mode's port)", async (t) => {
  const dir = await withDir(t);
  const config = await load(dir, "", {
    defaults: { Port: ["2222"], PidFile: ["none"], hostkey: ["/state/k1", "/state/k2"] },
  });
  assert.deepEqual(config.global.ports, [2222]);
  assert.deepEqual(config.global.hostKeys, ["/state/k1", "/state/k2"]);
  assert.match(formatSshdConfigDump(config.global), /\nhostkey \/state\/k1\nhostkey \/state\/k2\n/);
  assert.equal(config.global.pidFile, null);
  const explicit = await load(dir, "Port 2022", { defaults: { port: ["2222"] } });
  assert.deepEqual(explicit.global.ports, [2022]);
});

test("Match criteria: User, Group, Host, Address (CIDR), LocalAddress, LocalPort, RDomain, negation", async (t) => {
  const dir = await withDir(t);
  const config = await load(
    dir,
    [
      "MaxAuthTries 6",
      "Match User alice,b*,!bad*",
      "\tX11Forwarding yes",
      "Match Group wheel,!nogroup",
      "\tPermitTTY no",
      "Match Host *.example.com,!evil.example.com",
      "\tBanner /etc/banner",
      "Match Address 192.168.0.0/16,!192.168.66.0/24,2001:db8::/32",
      "\tMaxAuthTries 2",
      "Match LocalAddress 10.0.0.1 LocalPort 2222",
      "\tMaxSessions 1",
      "Match RDomain vrf-*",
      "\tClientAliveInterval 7",
      "Match User carol Address 10.0.0.0/8",
      "\tPermitRootLogin no",
    ].join("\n"),
  );
  const at = (spec: Parameters<typeof config.forConnection>[0]) => config.forConnection(spec);
  assert.equal(at({ user: "alice" }).x11Forwarding, true);
  assert.equal(at({ user: "bob" }).x11Forwarding, true);
  assert.equal(at({ user: "badger" }).x11Forwarding, false, "negated pattern wins");
  assert.equal(at({ user: "Alice" }).x11Forwarding, false, "user names match case-sensitively");
  assert.equal(at({ user: "x", groups: ["users", "wheel"] }).permitTty, false);
  assert.equal(at({ user: "x", groups: ["wheel", "nogroup"] }).permitTty, true);
  assert.equal(at({ user: "x", groups: ["users"] }).permitTty, true);
  assert.equal(at({ host: "WWW.Example.com" }).banner, "/etc/banner", "host names match case-insensitively");
  assert.equal(at({ host: "evil.example.com" }).banner, null);
  assert.equal(at({ addr: "192.168.1.1" }).maxAuthTries, 2);
  assert.equal(at({ addr: "192.168.66.1" }).maxAuthTries, 6);
  assert.equal(at({ addr: "2001:db8::5" }).maxAuthTries, 2);
  assert.equal(at({ addr: "10.1.1.1" }).maxAuthTries, 6);
  assert.equal(at({ laddr: "10.0.0.1", lport: 2222 }).maxSessions, 1);
  assert.equal(at({ laddr: "10.0.0.1", lport: 22 }).maxSessions, 10, "every criterion on the line must hold");
  assert.equal(at({ rdomain: "vrf-blue" }).clientAliveInterval, 7);
  assert.equal(at({ user: "carol", addr: "10.2.3.4" }).permitRootLogin, "no");
  assert.equal(at({ user: "carol", addr: "11.2.3.4" }).permitRootLogin, "prohibit-password");
  assert.equal(at({}).maxAuthTries, 6, "unknown connection fields match nothing");
  assert.equal(config.global.x11Forwarding, false);
});

test("Match: the first matching block wins, its values replace global ones (lists too)", async (t) => {
  const dir = await withDir(t);
  const config = await load(
    dir,
    [
      "AllowUsers a b",
      "AcceptEnv LANG",
      "Match User bob",
      "\tAllowUsers x",
      "\tAllowUsers y",
      "\tMaxSessions 2",
      "Match All",
      "\tAllowUsers z",
      "\tMaxSessions 5",
    ].join("\n"),
  );
  const bob = config.forConnection({ user: "bob" });
  assert.deepEqual(bob.allowUsers, ["x", "y", "z"]);
  assert.equal(bob.maxSessions, 2);
  assert.deepEqual(bob.acceptEnv, ["LANG"]);
  // "Match All" holds even without a connection, as in sshd's global pass.
  assert.equal(config.global.maxSessions, 5);
  assert.deepEqual(config.global.allowUsers, ["a", "b", "z"]);
});

test("Match Group looks the user up in /etc/group when groups are not given", async (t) => {
  const dir = await withDir(t);
  const config = await load(dir, "Match Group root\n\tMaxSessions 1\n");
  assert.equal(config.forConnection({ user: "root" }).maxSessions, 1);
  assert.equal(config.forConnection({ user: "no-such-user-nssh" }).maxSessions, 10);
});

test("Include: globs in order, relative to the include directory, inside Match too", async (t) => {
  const dir = await withDir(t);
  await mkdir(join(dir, "conf.d"));
  await mkdir(join(dir, "match.d"));
  await writeFile(join(dir, "conf.d", "20-b.conf"), "MaxSessions 20\nPort 2020\n");
  await writeFile(join(dir, "conf.d", "10-a.conf"), "MaxSessions 10\nMatch User carol\n\tMaxAuthTries 1\n");
  await writeFile(join(dir, "conf.d", "ignored.txt"), "Bogus line\n");
  await writeFile(
    join(dir, "match.d", "x.conf"),
    "PermitTTY no\nMatch Address 10.0.0.0/8\n\tMaxSessions 3\n",
  );
  const config = await load(
    dir,
    [
      "Include conf.d/*.conf",
      "Include does-not-exist/*.conf",
      "Port 2222",
      "MaxSessions 99",
      "Match User dave",
      "\tInclude match.d/*.conf",
      "\tX11Forwarding yes",
    ].join("\n"),
  );
  const g = config.global;
  assert.equal(g.maxSessions, 10, "10-a.conf is read before 20-b.conf and before the rest of the file");
  assert.deepEqual(g.ports, [2020, 2222], "a Match in an included file ends with that file");
  assert.equal(config.forConnection({ user: "carol" }).maxAuthTries, 1);
  const dave = config.forConnection({ user: "dave" });
  assert.equal(dave.permitTty, false);
  assert.equal(dave.x11Forwarding, true, "the Match block goes on after the Include");
  assert.equal(dave.maxSessions, 10);
  assert.equal(config.forConnection({ user: "dave", addr: "10.1.1.1" }).maxSessions, 3);
  assert.equal(
    config.forConnection({ user: "erin", addr: "10.1.1.1" }).maxSessions,
    10,
    "outer block must hold",
  );
  assert.equal(config.forConnection({ user: "erin" }).permitTty, true);
});

test("deprecated and unsupported keywords are accepted with sshd's notices; aliases work", async (t) => {
  const dir = await withDir(t);
  const config = await load(
    dir,
    [
      "Protocol 2",
      "UsePrivilegeSeparation sandbox",
      "RSAAuthentication yes",
      "UseLogin no",
      "KeyRegenerationInterval 3600",
      "ServerKeyBits 1024",
      "KerberosGetAFSToken no",
      "ChallengeResponseAuthentication no",
      "KeepAlive no",
    ].join("\n"),
  );
  const file = join(dir, "sshd_config");
  assert.deepEqual(config.warnings, [
    `${file} line 2: Deprecated option UsePrivilegeSeparation`,
    `${file} line 3: Deprecated option RSAAuthentication`,
    `${file} line 4: Deprecated option UseLogin`,
    `${file} line 5: Deprecated option KeyRegenerationInterval`,
    `${file} line 6: Deprecated option ServerKeyBits`,
    `${file} line 7: Unsupported option KerberosGetAFSToken`,
  ]);
  assert.equal(config.global.kbdInteractiveAuthentication, false);
  assert.equal(config.global.tcpKeepAlive, false);
});

test("unknown keywords and missing arguments: every one reported, then sshd's terminating line", async (t) => {
  const dir = await withDir(t);
  const file = join(dir, "sshd_config");
  await writeFile(file, "Port 22\nFoo bar\nBaz 1\nUseDNS\n");
  const check = await checkSshdConfig({ file });
  assert.equal(check.config, null);
  assert.deepEqual(check.messages, [
    `${file} line 2: Bad configuration option: Foo`,
    `${file} line 3: Bad configuration option: Baz`,
    `${file} line 4: no argument after keyword "UseDNS"`,
    `${file}: terminating, 3 bad configuration options`,
  ]);
  await assert.rejects(loadSshdConfig({ file }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.code, "CONFIG");
    assert.equal(e.file, file);
    assert.equal(e.line, 2);
    return true;
  });
});

test("algorithm lists: +, -, ^ and names we do not implement", async (t) => {
  const dir = await withDir(t);
  const config = await load(
    dir,
    [
      "Ciphers +aes256-cbc",
      "MACs -hmac-sha1*",
      "KexAlgorithms ^curve25519-sha256",
      "HostKeyAlgorithms ssh-ed25519",
    ].join("\n"),
  );
  assert.equal(config.global.ciphers.at(-1), "aes256-cbc");
  assert.ok(!config.global.macs.some((m) => m.startsWith("hmac-sha1")));
  assert.equal(config.global.kexAlgorithms[0], "curve25519-sha256");
  assert.deepEqual(config.global.hostKeyAlgorithms, ["ssh-ed25519"]);
  await assert.rejects(load(dir, "Ciphers aes128-ctr,blowfish-cbc\n"), /line 1: Bad SSH2 cipher spec/);
});

test("AuthorizedKeysFile tokens %h %u %U %% and relative paths", () => {
  const user = { name: "alice", home: "/home/alice", uid: 1001 };
  assert.equal(expandAuthorizedKeysPath(".ssh/authorized_keys", user), "/home/alice/.ssh/authorized_keys");
  assert.equal(expandAuthorizedKeysPath("/etc/keys/%u.%U", user), "/etc/keys/alice.1001");
  assert.equal(expandAuthorizedKeysPath("%h/x%%y", user), "/home/alice/x%y");
  assert.throws(
    () => expandAuthorizedKeysPath("/k/%q", user),
    (e: unknown) => e instanceof SshError,
  );
});

test("-C connection spec parsing", () => {
  assert.deepEqual(
    parseConnectionSpec("user=bob,host=h.example,addr=10.0.0.1,laddr=10.0.0.2,lport=22,rdomain=x"),
    {
      user: "bob",
      host: "h.example",
      addr: "10.0.0.1",
      laddr: "10.0.0.2",
      lport: 22,
      rdomain: "x",
    },
  );
  assert.throws(
    () => parseConnectionSpec("user=bob,colour=red"),
    /Invalid test mode specification colour=red/,
  );
  assert.throws(() => parseConnectionSpec("lport=abc"), /Invalid port 'abc'/);
});

test("-T needs lport when the configuration uses Match LocalPort (as sshd 9.2 does)", async (t) => {
  const dir = await withDir(t);
  const config = await load(dir, "Match LocalPort 2222\n\tMaxSessions 1\n");
  assert.match(missingTestSpecField(config, null) ?? "", /'Match LocalPort' in configuration but 'lport'/);
  assert.equal(missingTestSpecField(config, { lport: 2222 }), null);
});

test("a Match line that does not parse is an error and its block never applies", async (t) => {
  const dir = await withDir(t);
  const file = join(dir, "sshd_config");
  await writeFile(file, "Match All User bob\n\tMaxSessions 1\n");
  const check = await checkSshdConfig({ file });
  assert.equal(check.errors.length, 1);
  assert.match(check.errors[0]!.message, /line 1: Bad Match condition: 'all' cannot be combined/);
});

test("an unreadable main file and unterminated quotes are errors naming the file", async (t) => {
  const dir = await withDir(t);
  await assert.rejects(
    loadSshdConfig({ file: join(dir, "missing") }),
    /missing: cannot read configuration: ENOENT/,
  );
  await assert.rejects(load(dir, 'Banner "/etc/issue\n'), /sshd_config line 1: invalid quotes/);
});

test("an Include loop stops at sshd's depth limit with one error", async (t) => {
  const dir = await withDir(t);
  const file = join(dir, "sshd_config");
  await writeFile(join(dir, "loop.conf"), "Include loop.conf\n");
  await writeFile(file, "Include loop.conf\n");
  const check = await checkSshdConfig({ file, includeDir: dir });
  assert.equal(check.errors.length, 1);
  assert.match(check.errors[0]!.message, /loop\.conf line 1: Too many recursive configuration includes/);
});

test("value errors name the keyword, the value and the line", async (t) => {
  const dir = await withDir(t);
  const cases: [string, RegExp][] = [
    ["PerSourcePenalties authfail:soon", /Invalid PerSourcePenalties entry "authfail:soon"/],
    ["PerSourcePenaltyExemptList 10.0.0.1/8", /Invalid PerSourcePenaltyExemptList/],
    ["IPQoS lowdelay bogus", /Bad IPQoS value: bogus/],
    ["ChannelTimeout session", /Invalid ChannelTimeout entry "session"/],
    ["PerSourceNetBlockSize 33", /Invalid PerSourceNetBlockSize spec "33"/],
    ["AddressFamily ipx", /unsupported option "ipx" for AddressFamily/],
    ["ListenAddress 127.0.0.1:http", /bad port number "http"/],
    ["FingerprintHash sha1", /Invalid hash algorithm "sha1"/],
    ["PubkeyAuthOptions touch", /Invalid PubkeyAuthOptions option "touch"/],
    ["AcceptEnv LANG=C", /Invalid environment name "LANG=C"/],
    ["PermitTunnel sometimes", /bad PermitTunnel argument sometimes/],
    ["X11DisplayOffset -1", /X11DisplayOffset integer value too small/],
    ["Compression fast", /unsupported option "fast" for Compression/],
    ["RekeyLimit 8", /RekeyLimit too small/],
    ["ClientAliveInterval 5q", /invalid time value "5q"/],
    ["HostKeyAlgorithms ssh-dss", /Bad key types 'ssh-dss'/],
    ["UnusedConnectionTimeout later", /invalid time value "later"/],
  ];
  for (const [line, expected] of cases) {
    const check = await checkSshdConfig({
      file: await (async () => {
        const file = join(dir, "sshd_config");
        await writeFile(file, `# first line\n${line}\n`);
        return file;
      })(),
    });
    assert.equal(check.errors.length, 1, line);
    assert.equal(check.errors[0]!.line, 2, line);
    assert.match(check.errors[0]!.message, expected, line);
  }
});

test("ListenAddress: ports per address, the address family's wildcards, rdomain", async (t) => {
  const dir = await withDir(t);
  const inet6 = await load(dir, "AddressFamily inet6\nPort 1\nPort 2\n");
  assert.deepEqual(inet6.global.getAll("listenaddress"), ["[::]:1", "[::]:2"]);
  const withDomain = await load(dir, "ListenAddress 10.0.0.1:2200 rdomain blue\nListenAddress fe80::1\n");
  assert.deepEqual(withDomain.global.getAll("listenaddress"), ["10.0.0.1:2200 rdomain blue", "[fe80::1]:22"]);
  assert.deepEqual(withDomain.global.listenAddresses, [
    { host: "10.0.0.1", port: 2200, rdomain: "blue" },
    { host: "fe80::1", port: 22 },
  ]);
});
