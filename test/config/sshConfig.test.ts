/**
 * The ssh_config engine on its own: precedence, accumulation, Host/Match/negation, Include globs and their
 * permission check, the second pass, tokens and environment variables, errors naming file and line, and
 * the CVE-2023-51385 name check.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  expandClientTokens,
  expandKnownHostsCommand,
  expandLocalCommand,
  expandProxyCommand,
  formatSshConfigDump,
  resolveSshConfig,
  validateNameForExpansion,
  type SshConfigRequest,
} from "../../src/config/sshConfig.js";
import { listSshConfigKeywords } from "../../src/config/sshConfigKeywords.js";
import { connectionHash, expandTilde, expandTokens } from "../../src/config/tokens.js";
import { SshError } from "../../src/wire/index.js";

const HOME = "/home/tester";
const ENV = { HOME, SHELL: "/bin/sh", PATH: process.env.PATH, NSSH_TEST_DIR: "/srv/keys" };

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "nssh-sshcfg-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolve `host` against one config text written to a temp file. */
async function resolveText(
  t: { after: (fn: () => Promise<void>) => void },
  text: string,
  host: string,
  extra: Partial<SshConfigRequest> = {},
): Promise<Awaited<ReturnType<typeof resolveSshConfig>>> {
  const dir = await tempDir(t);
  const file = join(dir, "config");
  await writeFile(file, text);
  return resolveSshConfig({
    host,
    configFile: file,
    commandLineOptions: [],
    localUser: "tester",
    homeDir: HOME,
    localHostname: "box.example.org",
    env: ENV,
    ...extra,
  });
}

test("first value wins; command-line options beat files; multi-valued keywords accumulate", async (t) => {
  const cfg = await resolveText(
    t,
    [
      "Host srv",
      "  Port 2200",
      "  User alice",
      "  IdentityFile ~/.ssh/a_%h",
      "  SendEnv LANG",
      "  SetEnv A=1 B=2",
      "  LocalForward 8080 localhost:80",
      "Host *",
      "  Port 22",
      "  User bob",
      "  IdentityFile ${NSSH_TEST_DIR}/b",
      "  IdentityFile ~/.ssh/a_%h",
      "  SendEnv LC_* -LANG",
      "  SetEnv C=3",
      "  LocalForward 8080 localhost:80",
      "  LocalForward 9090 db:5432",
      "",
    ].join("\n"),
    "srv",
    { commandLineOptions: ["User=carol", "Port 2222"] },
  );
  assert.equal(cfg.port, 2222);
  assert.equal(cfg.user, "carol");
  assert.equal(cfg.origin("port")?.file, "command-line");
  assert.deepEqual(cfg.identityFiles, [`${HOME}/.ssh/a_srv`, "/srv/keys/b"]);
  assert.deepEqual(cfg.getAll("identityfile"), ["~/.ssh/a_%h", "${NSSH_TEST_DIR}/b"]);
  assert.deepEqual(cfg.sendEnv, ["LC_*"]);
  assert.deepEqual(cfg.setEnv, ["A=1", "B=2"]);
  assert.deepEqual(cfg.getAll("localforward"), ["8080 [localhost]:80", "9090 [db]:5432"]);
  assert.equal(cfg.get("port"), "2222");
});

test("Host patterns: wildcards, negation, case-sensitive first pass", async (t) => {
  const text = [
    "Host *.corp !secret.corp",
    "  User corp",
    "Host secret.corp",
    "  User spy",
    "Host db? web[1]",
    "  Port 1111",
    "",
  ].join("\n");
  assert.equal((await resolveText(t, text, "a.corp")).user, "corp");
  assert.equal((await resolveText(t, text, "secret.corp")).user, "spy");
  assert.equal((await resolveText(t, text, "db1")).port, 1111);
  assert.equal((await resolveText(t, text, "db12")).port, 22);
  assert.equal((await resolveText(t, text, "A.CORP")).user, "tester", "Host matching is case-sensitive");
  assert.equal((await resolveText(t, text, "A.CORP")).hostname, "a.corp", "the final name is lowercased");
});

test("Match: host after Hostname, originalhost, user, localuser, all, negation", async (t) => {
  const text = [
    "Host short",
    "  Hostname %h.example.net",
    "Match host *.example.net !originalhost other",
    "  Port 2001",
    "Match user admin",
    "  IdentitiesOnly yes",
    "Match localuser tester",
    "  BatchMode yes",
    "Match !localuser tester",
    "  Compression yes",
    "Match all",
    "  ConnectionAttempts 4",
    "",
  ].join("\n");
  const cfg = await resolveText(t, text, "short", { commandLineOptions: ["User=admin"] });
  assert.equal(cfg.hostname, "short.example.net");
  assert.equal(cfg.port, 2001);
  assert.equal(cfg.identitiesOnly, true);
  assert.equal(cfg.batchMode, true);
  assert.equal(cfg.compression, false);
  assert.equal(cfg.connectionAttempts, 4);
  const other = await resolveText(t, text, "other", { commandLineOptions: ["Hostname=x.example.net"] });
  assert.equal(other.port, 22);
  assert.equal(other.identitiesOnly, false);
});

test("Match tagged and localnetwork (OpenSSH 9.4 criteria)", async (t) => {
  // A documentation network none of this machine's interfaces is on.
  const local = Object.values(networkInterfaces())
    .flatMap((l) => l ?? [])
    .map((i) => i.address);
  const absentNetwork = ["203.0.113", "198.51.100", "192.0.2"].find(
    (p) => !local.some((a) => a.startsWith(`${p}.`)),
  )!;
  const text = [
    "Tag prod",
    "Match tagged prod,staging",
    "  User deploy",
    "Match localnetwork 127.0.0.0/8,::1/128",
    "  Port 2022",
    `Match localnetwork ${absentNetwork}.0/24`,
    "  BatchMode yes",
    "",
  ].join("\n");
  const cfg = await resolveText(t, text, "h");
  assert.equal(cfg.user, "deploy");
  assert.equal(cfg.port, 2022, "the loopback interface is local");
  assert.equal(cfg.batchMode, false);
  await assert.rejects(resolveText(t, "Match localnetwork 10.0.0.1/8\n", "h"), /Bad Match condition/);
});

test("Match exec runs the shell with tokens expanded and matches on exit status 0", async (t) => {
  const dir = await tempDir(t);
  const marker = join(dir, "ran");
  const text = [
    `Match exec "echo %h %p %r %n %u %L %l %d %C > ${marker}"`,
    "  User fromexec",
    `Match exec "test %h = nomatch"`,
    "  Port 1",
    // A failed criterion before exec means the command is not run at all.
    `Match originalhost nope exec "touch ${marker}-never"`,
    "  Port 2",
    "",
  ].join("\n");
  const cfg = await resolveText(t, text, "target");
  assert.equal(cfg.user, "fromexec");
  assert.equal(cfg.port, 22);
  const hash = connectionHash("box.example.org", "target", "22", "tester");
  assert.equal(
    (await readFile(marker, "utf8")).trim(),
    `target 22 tester target tester box box.example.org ${HOME} ${hash}`,
  );
  await assert.rejects(readFile(`${marker}-never`), { code: "ENOENT" });
});

test("Match final and canonical: a second pass over the files with the final host name", async (t) => {
  const text = [
    "Host alias",
    "  Hostname real.example.com",
    "Host real.example.com",
    "  User second-pass-only",
    "Match final",
    "  Port 2022",
    "Match canonical",
    "  BatchMode yes",
    "Match !final",
    "  Compression yes",
    "",
  ].join("\n");
  const cfg = await resolveText(t, text, "alias");
  assert.equal(cfg.user, "second-pass-only");
  assert.equal(cfg.port, 2022);
  assert.equal(cfg.batchMode, true);
  assert.equal(cfg.compression, true, "the first pass set it");
  // Without "Match final" there is one pass: the Host block for the real name never applies.
  const one = await resolveText(
    t,
    "Host alias\n  Hostname real.example.com\nHost real.example.com\n  User x\n",
    "alias",
  );
  assert.equal(one.user, "tester");
});

test("Include: globs in order, relative to ~/.ssh, inactive blocks parse only, Match state restored", async (t) => {
  const home = await tempDir(t);
  await mkdir(join(home, ".ssh", "conf.d"), { recursive: true });
  await writeFile(join(home, ".ssh", "conf.d", "20-b.conf"), "Port 2020\nConnectionAttempts 3\n");
  await writeFile(join(home, ".ssh", "conf.d", "10-a.conf"), "Port 1010\nHost nomatch\n  User never\n");
  await writeFile(join(home, ".ssh", "conf.d", "skip.txt"), "Bogus keyword\n");
  await writeFile(join(home, ".ssh", "inactive.conf"), "Compression yes\n");
  const file = join(home, ".ssh", "config");
  await writeFile(
    file,
    [
      "Include conf.d/*.conf",
      "User top",
      "Host other",
      "  Include inactive.conf",
      "Host *",
      "  BatchMode yes",
      "",
    ].join("\n"),
  );
  const req = {
    host: "h",
    commandLineOptions: [],
    homeDir: home,
    localUser: "tester",
    env: { ...ENV, HOME: home },
  };
  const cfg = await resolveSshConfig({ ...req, userConfigFile: file, systemConfigFile: join(home, "none") });
  assert.equal(cfg.port, 1010);
  assert.equal(cfg.user, "top", "the included Host block did not apply");
  assert.equal(cfg.connectionAttempts, 3, "the next included file starts active again");
  assert.equal(cfg.compression, false);
  assert.equal(cfg.batchMode, true);

  // A system file may not use ~, and an included file writable by others is refused.
  await writeFile(join(home, "system"), "Include ~/x.conf\n");
  await assert.rejects(
    resolveSshConfig({
      ...req,
      userConfigFile: join(home, "absent"),
      systemConfigFile: join(home, "system"),
    }),
    /system line 1: bad include path ~\/x.conf/,
  );
  await chmod(file, 0o620);
  await assert.rejects(
    resolveSshConfig({ ...req, userConfigFile: file }),
    /Bad owner or permissions on .*config/,
  );
  await chmod(file, 0o600);
  await chmod(join(home, ".ssh", "conf.d", "20-b.conf"), 0o666);
  await assert.rejects(
    resolveSshConfig({ ...req, userConfigFile: file }),
    /Bad owner or permissions on .*20-b.conf/,
  );
});

test("Include loops stop at OpenSSH's depth limit", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "loop.conf");
  await writeFile(file, `Include ${file}\n`);
  await assert.rejects(
    resolveSshConfig({ host: "h", configFile: file, commandLineOptions: [], homeDir: dir, env: ENV }),
    /Too many recursive configuration includes/,
  );
});

test("-F none reads nothing; files are read in order user then system", async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, "user"), "Port 1000\n");
  await writeFile(join(dir, "system"), "Port 2000\nUser sys\n");
  const base = { host: "h", commandLineOptions: [], homeDir: dir, localUser: "me", env: ENV };
  const both = await resolveSshConfig({
    ...base,
    userConfigFile: join(dir, "user"),
    systemConfigFile: join(dir, "system"),
  });
  assert.equal(both.port, 1000);
  assert.equal(both.user, "sys");
  const none = await resolveSshConfig({ ...base, configFile: "none", userConfigFile: join(dir, "user") });
  assert.equal(none.port, 22);
  assert.equal(none.user, "me");
  await assert.rejects(
    resolveSshConfig({ ...base, configFile: join(dir, "missing") }),
    /Can't open user config file/,
  );
});

test("bad lines are all reported with file and line, worded like OpenSSH", async (t) => {
  const text = [
    "Host *",
    "  Frobnicate yes",
    "  Port abc",
    "  StrictHostKeyChecking maybe",
    "  Port",
    "  ServerAliveInterval 5x",
    "",
  ].join("\n");
  await assert.rejects(resolveText(t, text, "h"), (err: SshError & { file: string; line: number }) => {
    assert.equal(err.code, "CONFIG");
    assert.equal(err.line, 2);
    assert.match(err.message, /config: line 2: Bad configuration option: frobnicate/);
    assert.match(err.message, /config line 3: Bad port 'abc'\./);
    assert.match(err.message, /config line 4: unsupported option "maybe"\./);
    assert.match(err.message, /config line 5: no argument after keyword "port"/);
    assert.match(err.message, /config line 6: invalid time value\./);
    assert.match(err.message, /terminating, 5 bad configuration options/);
    return true;
  });
  // Checked even where the block does not apply, as OpenSSH does.
  await assert.rejects(resolveText(t, "Host nothing\n  Port 0\n", "h"), /line 2: Bad port '0'/);
  await assert.rejects(
    resolveText(t, "Match hots x\n", "h"),
    /Unsupported Match attribute hots\n.*config line 1: Bad Match condition/,
  );
  await assert.rejects(resolveText(t, "Port 22 23\n", "h"), /keyword port extra arguments at end of line/);
  await assert.rejects(
    resolveText(t, "Ciphers aes128-ctr,rot13\n", "h"),
    /Bad SSH2 cipher spec 'aes128-ctr,rot13'/,
  );
  await assert.rejects(resolveText(t, 'User "unterminated\n', "h"), /line 1: invalid quotes/);
  await assert.rejects(
    resolveText(t, "", "h", { commandLineOptions: ["Host x"] }),
    /command-line: Host directive not supported/,
  );
  await assert.rejects(
    resolveText(t, "", "h", { commandLineOptions: ["Bogus=1"] }),
    /command-line: Bad configuration option: bogus/,
  );
});

test("IgnoreUnknown, deprecated and unsupported keywords", async (t) => {
  const cfg = await resolveText(
    t,
    "IgnoreUnknown UseKeychain\nUseKeychain yes\nProtocol 2\nUseRoaming no\nRSAAuthentication yes\n",
    "h",
  );
  assert.deepEqual(
    cfg.warnings.map((w) => w.replace(/^.* line /, "line ")),
    ['line 5: Unsupported option "rsaauthentication"'],
  );
  await assert.rejects(
    resolveText(t, "UseKeychain yes\nIgnoreUnknown UseKeychain\n", "h"),
    /Bad configuration option: usekeychain/,
  );
});

test("values: StrictHostKeyChecking off, yes/no words, times, RekeyLimit, EscapeChar, ProxyJump", async (t) => {
  const cfg = await resolveText(
    t,
    [
      "StrictHostKeyChecking off",
      "ConnectTimeout 1m30s",
      "ServerAliveInterval 1h",
      "RekeyLimit 2G 30m",
      "EscapeChar ^B",
      "ProxyJump alice@jump1,bob@jump2:2222",
      "ProxyCommand nc %h %p",
      "RequestTTY force",
      "AddressFamily inet6",
      "PubkeyAuthentication no",
      "",
    ].join("\n"),
    "h",
  );
  assert.equal(cfg.strictHostKeyChecking, "no");
  assert.equal(cfg.get("stricthostkeychecking"), "false");
  assert.equal(cfg.connectTimeout, 90);
  assert.equal(cfg.serverAliveInterval, 3600);
  assert.deepEqual(cfg.rekeyLimit, { bytes: 2 * 1024 ** 3, seconds: 1800 });
  assert.equal(cfg.get("escapechar"), "\\^B");
  assert.equal(cfg.escapeChar, 2);
  assert.equal(cfg.proxyJump, "alice@jump1,bob@jump2:2222");
  assert.equal(cfg.proxyCommand, undefined, "ProxyJump came first");
  assert.equal(cfg.requestTTY, "force");
  assert.equal(cfg.addressFamily, "inet6");
  assert.equal(cfg.pubkeyAuthentication, false);
  for (const [value, expected] of [
    ["accept-new", "accept-new"],
    ["ask", "ask"],
    ["yes", "yes"],
    ["no", "no"],
  ] as const) {
    assert.equal(
      (await resolveText(t, `StrictHostKeyChecking ${value}\n`, "h")).strictHostKeyChecking,
      expected,
    );
  }
});

test("tokens: %-expansion, ${VAR}, ~, and the keywords that take them", async () => {
  assert.equal(expandTokens("%%h=%h", { h: "x" }), "%h=x");
  assert.throws(() => expandTokens("%z", { h: "x" }), /unknown key %z/);
  assert.throws(() => expandTokens("50%", {}), /trailing '%'/);
  assert.equal(expandTokens("${NSSH_TEST_DIR}/k", {}, { dollar: true, env: ENV }), "/srv/keys/k");
  assert.equal(expandTokens("$HOME/k", {}, { dollar: true, env: ENV }), "$HOME/k");
  assert.throws(() => expandTokens("${NOPE}", {}, { dollar: true, env: {} }), /\$\{NOPE\} has no value/);
  assert.equal(expandTilde("~/x", "/h"), "/h/x");
  assert.equal(expandTilde("~", "/h"), "/h");
  assert.equal(expandTilde("~root/x", "/h"), "/root/x");
  assert.equal(expandTilde("/a/~", "/h"), "/a/~");
});

test("ProxyCommand, LocalCommand and RemoteCommand expansion at use", async (t) => {
  const cfg = await resolveText(
    t,
    [
      "Host j",
      "  Hostname J.Example.com",
      "  User u1",
      "  Port 2200",
      "  ProxyCommand ssh -W %h:%p gw # %n",
      "  LocalCommand echo %T %C %L %k",
      "  RemoteCommand cd /srv/%r && exec $SHELL",
      "  HostKeyAlias jkey",
      "",
    ].join("\n"),
    "j",
  );
  assert.equal(expandProxyCommand(cfg), "ssh -W j.example.com:2200 gw # j");
  const hash = connectionHash("box.example.org", "j.example.com", "2200", "u1");
  assert.equal(expandLocalCommand(cfg), `echo NONE ${hash} box jkey`);
  assert.equal(expandLocalCommand(cfg, "tun0"), `echo tun0 ${hash} box jkey`);
  assert.equal(cfg.remoteCommand, "cd /srv/u1 && exec $SHELL");
  assert.equal(expandClientTokens("%u@%l:%d", cfg), `tester@box.example.org:${HOME}`);
  assert.throws(() => expandClientTokens("%Q", cfg), /unknown key %Q/);
  const kh = await resolveText(t, "KnownHostsCommand /usr/bin/kh %H %I %t '%h x'\n", "h");
  assert.deepEqual(
    expandKnownHostsCommand(kh, { f: "SHA256:x", H: "h", I: "HOSTNAME", K: "AAAA", t: "ssh-ed25519" }),
    ["/usr/bin/kh", "h", "HOSTNAME", "ssh-ed25519", "h x"],
  );
  const bad = await resolveText(t, "ProxyCommand nc %h %x\n", "h");
  assert.throws(() => expandProxyCommand(bad), /unknown key %x/);
});

test("CVE-2023-51385: user and host names with shell syntax are refused before expansion", async (t) => {
  for (const host of ["a;b", "a b", "$(id)", "`id`", "a\nb", "a\u0000b", "-oProxyCommand=x", "a|b", "a,b"]) {
    assert.throws(() => validateNameForExpansion("host", host), /hostname contains invalid characters/, host);
    await assert.rejects(resolveText(t, "", host), (err: SshError) => err.code === "CONFIG");
  }
  for (const user of ["a;b", "x`id`", "a\u0000", "a\u0007b", "x -oFoo", "trailing\\", "-l", "a|b"]) {
    assert.throws(
      () => validateNameForExpansion("user", user),
      /remote username contains invalid characters/,
      user,
    );
  }
  for (const ok of ["host.example.com", "[::1]", "10.0.0.1", "h_1-2"]) validateNameForExpansion("host", ok);
  for (const ok of ["alice", "a.b-c_d", "DOMAIN\\user", "a$b", "first last"])
    validateNameForExpansion("user", ok);
  await assert.rejects(
    resolveText(t, "", "h", { commandLineOptions: ["User=$(reboot)"] }),
    /remote username contains invalid/,
  );
  // A name written in a configuration file is trusted, as in OpenSSH.
  const cfg = await resolveText(t, `User "o'brien"\nProxyCommand nc %h %p\n`, "h");
  assert.equal(cfg.user, "o'brien");
});

test("formatSshConfigDump: defaults as ssh -G prints them", async (t) => {
  const cfg = await resolveText(t, "", "Example.COM");
  const dump = formatSshConfigDump(cfg);
  const lines = dump.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 4), ["host Example.COM", "user tester", "hostname example.com", "port 22"]);
  for (const expected of [
    "stricthostkeychecking ask",
    "pubkeyauthentication true",
    "userknownhostsfile /home/tester/.ssh/known_hosts /home/tester/.ssh/known_hosts2",
    "identityfile ~/.ssh/id_rsa",
    "connecttimeout none",
    "escapechar ~",
    "rekeylimit 0 0",
    "ipqos lowdelay throughput",
    "canonicalizePermittedcnames none",
    "syslogfacility USER",
  ]) {
    assert.ok(lines.includes(expected), expected);
  }
  assert.equal(cfg.get("kexalgorithms")!.split(",")[0], "mlkem768x25519-sha256");
  assert.equal(cfg.identityFiles[0], `${HOME}/.ssh/id_rsa`);
});

test("docs/ssh_config.md names every keyword and its support", async () => {
  const doc = await readFile(fileURLToPath(new URL("../../../docs/ssh_config.md", import.meta.url)), "utf8");
  for (const def of listSshConfigKeywords()) {
    assert.match(doc, new RegExp(`\\| ${def.name} \\|`), def.name);
  }
});
