/**
 * ssh_config against the real ssh (Debian's OpenSSH 9.2): for the sample configuration in
 * test/fixtures/sshConfig (Host, Match host/originalhost/user/localuser/exec/final/canonical, negation,
 * Include globs relative to ~/.ssh, an Include inside a Host block, IgnoreUnknown), formatSshConfigDump prints
 * exactly what `ssh -G -F main.conf host` prints, line for line, for several hosts and with command-line
 * options; and a broken file is refused by both with the same messages.
 *
 * The one expected difference: algorithm lists that start from the defaults (a + - ^ modifier) are resolved
 * against nssh's defaults, not OpenSSH 9.2's; for those the modifier's effect is compared instead.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatSshConfigDump, resolveSshConfig } from "../../src/config/sshConfig.js";
import { runProgram } from "../helpers/processes.js";

const SSH = "/usr/bin/ssh";
const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/sshConfig/", import.meta.url));
const haveSsh = existsSync(SSH);
const ALGORITHM_KEYS = new Set([
  "ciphers",
  "macs",
  "kexalgorithms",
  "hostkeyalgorithms",
  "hostbasedacceptedalgorithms",
  "pubkeyacceptedalgorithms",
  "casignaturealgorithms",
]);

/** A temporary HOME whose .ssh holds the fixtures (relative Include paths resolve there). */
async function stageHome(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), "nssh-sshcfg-interop-"));
  t.after(() => rm(home, { recursive: true, force: true }));
  await cp(FIXTURES, join(home, ".ssh"), { recursive: true });
  return home;
}

interface Case {
  host: string;
  /** ssh's flags and the same settings as "Keyword=value" for resolveSshConfig. */
  flags?: string[];
  options?: string[];
}

async function compare(
  home: string,
  c: Case,
  file = join(home, ".ssh", "main.conf"),
): Promise<Map<string, string[]>> {
  const env = { ...process.env, HOME: home, SHELL: "/bin/sh" };
  const run = await runProgram(SSH, ["-G", "-F", file, ...(c.flags ?? []), c.host], {
    env,
    timeoutMs: 15000,
  });
  assert.equal(run.status, 0, `ssh -G ${c.host}: ${run.stderr}`);
  // ssh takes ~ (and %d) from the password database and Include's ~ from $HOME, as we do with these inputs.
  const cfg = await resolveSshConfig({
    host: c.host,
    configFile: file,
    commandLineOptions: c.options ?? [],
    env,
    homeDir: userInfo().homedir,
  });
  const ours = formatSshConfigDump(cfg).split("\n");
  const theirs = run.stdout.split("\n");
  const lists = new Map<string, string[]>();
  assert.equal(
    ours.length,
    theirs.length,
    `${c.host}: line count\nours:\n${ours.join("\n")}\nssh:\n${run.stdout}`,
  );
  for (let i = 0; i < ours.length; i++) {
    const key = theirs[i]!.split(" ")[0]!;
    if (
      ALGORITHM_KEYS.has(key) &&
      cfg.algorithmSpec(key as "ciphers") !== undefined &&
      /^[-+^]/.test(cfg.algorithmSpec(key as "ciphers")!)
    ) {
      assert.equal(ours[i]!.split(" ")[0], key, `${c.host}: line ${i + 1}`);
      lists.set(key, [theirs[i]!.split(" ")[1]!, ours[i]!.split(" ")[1]!]);
      continue;
    }
    assert.equal(ours[i], theirs[i], `${c.host}: line ${i + 1}`);
  }
  return lists;
}

test(
  "ssh -G and formatSshConfigDump agree for Host, Match and Include blocks",
  { skip: !haveSsh },
  async (t) => {
    const home = await stageHome(t);
    // alias1: Host alias with Hostname/Port/User, forwards (a duplicate dropped), SetEnv only from its first
    // line, an Include inside the Host block, "Match final" causing a second pass, Host * list settings.
    // alias2: Match originalhost+user, Hostname %h.internal, Match exec with tokens (true, then false).
    // alias3: negated localuser, ProxyJump wins over a later ProxyCommand. web1: a Host and a Match user from
    // conf.d/*.conf. bad.example.com: a negated pattern. ALIAS1: case-sensitive Host in the first pass, the
    // lowercased name matching in the second. other.example.com: wildcard Host with tokens in known_hosts paths.
    for (const host of [
      "alias1",
      "alias2",
      "alias3",
      "web1",
      "bad.example.com",
      "ALIAS1",
      "other.example.com",
    ]) {
      await compare(home, { host });
    }
  },
);

test(
  "command-line options (-o, -p, -l) win over the files, as ssh -G shows",
  { skip: !haveSsh },
  async (t) => {
    const home = await stageHome(t);
    await compare(home, {
      host: "alias1",
      flags: [
        "-p",
        "3333",
        "-l",
        "carol",
        "-o",
        "IdentityFile=/tmp/id_%r",
        "-o",
        "SendEnv=CMDLINE",
        "-o",
        "StrictHostKeyChecking=no",
      ],
      options: [
        "Port=3333",
        "User=carol",
        "IdentityFile=/tmp/id_%r",
        "SendEnv=CMDLINE",
        "StrictHostKeyChecking=no",
      ],
    });
    await compare(home, {
      host: "alias2",
      flags: ["-o", "Hostname=override.example.com", "-o", "RemoteCommand=uptime", "-o", "Compression=no"],
      options: ["Hostname=override.example.com", "RemoteCommand=uptime", "Compression=no"],
    });
    await compare(home, {
      host: "web1",
      flags: ["-o", "ProxyJump=admin@[::1]:2200", "-o", "ControlPath=none", "-o", "EscapeChar=none"],
      options: ["ProxyJump=admin@[::1]:2200", "ControlPath=none", "EscapeChar=none"],
    });
  },
);

test(
  "parsed-only keywords (forwarding, multiplexing, GSSAPI, X11, tunnels...) print as ssh -G prints them",
  { skip: !haveSsh },
  async (t) => {
    const home = await stageHome(t);
    const options = [
      "IPQoS=af11 cs7",
      "EscapeChar=none",
      "ConnectTimeout=0",
      "AddKeysToAgent=confirm 5m",
      "ForwardAgent=yes",
      "ControlPersist=yes",
      "ControlMaster=auto",
      "Tunnel=point-to-point",
      "TunnelDevice=1:2",
      "RequestTTY=no",
      "LogLevel=debug",
      "SyslogFacility=LOCAL0",
      "StreamLocalBindMask=0022",
      "FingerprintHash=md5",
      "UpdateHostKeys=ask",
      "VerifyHostKeyDNS=yes",
      "PermitRemoteOpen=x:1 y:2",
      "LogVerbose=a b",
      "ProxyJump=u@h:2,x",
      "ProxyUseFdpass=yes",
      "ControlPath=none",
      "IdentityAgent=SSH_AUTH_SOCK",
      "KbdInteractiveDevices=pam",
      "PKCS11Provider=/x.so",
      "RevokedHostKeys=~/r",
      "BindInterface=eth0",
      "ForwardX11=yes",
      "ForwardX11Timeout=5m",
      "ForwardX11Trusted=no",
      "GatewayPorts=yes",
      "ExitOnForwardFailure=yes",
      "EnableSSHKeysign=yes",
      "HostbasedAuthentication=yes",
      "NoHostAuthenticationForLocalhost=yes",
      "StdinNull=yes",
      "ForkAfterAuthentication=yes",
      "StreamLocalBindUnlink=yes",
      "VisualHostKey=yes",
      "CanonicalizeMaxDots=3",
      "CanonicalizeFallbackLocal=no",
      "RequiredRSASize=2048",
      "EnableEscapeCommandline=yes",
      "SecurityKeyProvider=/sk.so",
      "XAuthLocation=/x/xauth",
      "KnownHostsCommand=/bin/kh %h",
      "GSSAPIAuthentication=yes",
      "GSSAPIDelegateCredentials=yes",
      "GSSAPIKeyExchange=yes",
      "GSSAPITrustDNS=yes",
      "GSSAPIRenewalForcesRekey=yes",
      "GSSAPIClientIdentity=me",
      "GSSAPIServerIdentity=srv",
      "GSSAPIKexAlgorithms=gss-gex-sha1-",
      "IgnoreUnknown=Foo*",
      "SessionType=none",
      "LocalForward=127.0.0.1:8000 web:80",
      "LocalForward=/tmp/in.sock /tmp/out-%h.sock",
      "RemoteForward=[::1]:9000 /run/app.sock",
      "RemoteForward=8080",
      "DynamicForward=localhost:1080",
      "Ciphers=aes128-ctr",
      "MACs=hmac-sha2-256",
      "KexAlgorithms=curve25519-sha256",
      "HostKeyAlgorithms=ssh-ed25519",
      "PubkeyAcceptedAlgorithms=ssh-ed25519",
      "HostbasedAcceptedAlgorithms=ssh-ed25519",
      "CASignatureAlgorithms=ssh-ed25519",
    ];
    await compare(home, { host: "h", flags: options.flatMap((o) => ["-o", o]), options }, "none");
  },
);

test("+ - ^ algorithm modifiers act on the defaults as in ssh -G", { skip: !haveSsh }, async (t) => {
  const home = await stageHome(t);
  const lists = await compare(home, { host: "legacy" });
  const [sshKex, ourKex] = lists.get("kexalgorithms")!.map((l) => l.split(","));
  assert.equal(sshKex!.at(-1), "diffie-hellman-group14-sha1");
  assert.equal(ourKex!.at(-1), "diffie-hellman-group14-sha1");
  for (const [theirs, ours] of [lists.get("hostkeyalgorithms")!, lists.get("pubkeyacceptedalgorithms")!]) {
    assert.equal(theirs!.split(",").at(-1), "ssh-rsa");
    assert.equal(ours!.split(",").at(-1), "ssh-rsa");
  }
  for (const list of lists.get("ciphers")!) assert.ok(!list.includes("chacha20-poly1305@openssh.com"), list);
  for (const list of lists.get("macs")!) assert.equal(list.split(",")[0], "hmac-sha1");
});

test("a broken file: ssh and nssh refuse it with the same messages", { skip: !haveSsh }, async (t) => {
  const home = await stageHome(t);
  const file = join(home, ".ssh", "bad.conf");
  const run = await runProgram(SSH, ["-G", "-F", file, "x"], {
    env: { ...process.env, HOME: home },
    timeoutMs: 15000,
  });
  assert.equal(run.status, 255);
  await assert.rejects(
    resolveSshConfig({
      host: "x",
      configFile: file,
      commandLineOptions: [],
      env: { ...process.env, HOME: home },
    }),
    (err: Error & { code?: string; file?: string; line?: number }) => {
      assert.equal(err.code, "CONFIG");
      assert.equal(err.file, file);
      assert.equal(err.line, 3);
      assert.equal(err.message.trim(), run.stderr.replaceAll("\r\n", "\n").trim());
      return true;
    },
  );
});

test("a command-line host with shell metacharacters is refused by both", { skip: !haveSsh }, async () => {
  const run = await runProgram(SSH, ["-G", "-F", "none", "a;b"], { timeoutMs: 15000 });
  assert.equal(run.status, 255);
  await assert.rejects(
    resolveSshConfig({ host: "a;b", configFile: "none", commandLineOptions: [] }),
    (err: Error) => {
      assert.equal(err.message, run.stderr.replaceAll("\r\n", "\n").trim());
      return true;
    },
  );
  const runUser = await runProgram(SSH, ["-G", "-F", "none", "-l", "x`id`", "h"], { timeoutMs: 15000 });
  assert.equal(runUser.status, 255);
  await assert.rejects(
    resolveSshConfig({ host: "h", configFile: "none", commandLineOptions: ["User=x`id`"] }),
    (err: Error) => {
      assert.equal(err.message, runUser.stderr.replaceAll("\r\n", "\n").trim());
      return true;
    },
  );
});
