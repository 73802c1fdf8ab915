/** The login environment's sources and their order (sshd's do_setup_env), and ~/.ssh/environment parsing. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SystemAccount } from "../../src/daemon/accounts.js";
import {
  buildLoginEnvironment,
  DEFAULT_ROOT_PATH,
  parseEnvironmentFile,
} from "../../src/daemon/loginEnvironment.js";
import { defaultLoginSettings } from "../../src/daemon/loginSettings.js";

const bob: SystemAccount = {
  name: "bob",
  uid: 1001,
  gid: 1001,
  gecos: "",
  home: "/home/bob",
  shell: "/bin/bash",
  groups: [],
};
const conn = { remoteAddress: "192.0.2.7", remotePort: 50000, localAddress: "192.0.2.1", localPort: 22 };

test("the base variables override the client's; SetEnv overrides everything", () => {
  const env = buildLoginEnvironment({
    account: bob,
    conn,
    settings: { ...defaultLoginSettings(), permitUserEnvironment: true, setEnv: ["FROM=admin"] },
    clientEnv: { USER: "mallory", LANG: "C.UTF-8", FROM: "client" },
    keyEnvironment: ["FROM=key", "KEYVAR=1"],
    pamEnv: { LANG: "de_DE.UTF-8" },
    userEnvironmentFile: [["FROM", "file"]],
    originalCommand: "ls -l",
    term: "xterm",
  });
  assert.equal(env.USER, "bob");
  assert.equal(env.LOGNAME, "bob");
  assert.equal(env.HOME, "/home/bob");
  assert.equal(env.SHELL, "/bin/bash");
  assert.equal(env.MAIL, "/var/mail/bob");
  assert.equal(env.PATH, "/usr/local/bin:/usr/bin:/bin:/usr/games");
  assert.equal(env.SSH_CLIENT, "192.0.2.7 50000 22");
  assert.equal(env.SSH_CONNECTION, "192.0.2.7 50000 192.0.2.1 22");
  assert.equal(env.SSH_ORIGINAL_COMMAND, "ls -l");
  assert.equal(env.TERM, "xterm");
  assert.equal(env.LANG, "de_DE.UTF-8");
  assert.equal(env.KEYVAR, "1");
  assert.equal(env.FROM, "admin");
});

test("without PermitUserEnvironment, key and file variables are ignored; a pattern list lets some in", () => {
  const input = {
    account: { ...bob, uid: 0, name: "root" },
    conn,
    clientEnv: {},
    keyEnvironment: ["A_KEY=1", "B_KEY=2"],
    userEnvironmentFile: [["A_FILE", "3"]] as [string, string][],
  };
  const off = buildLoginEnvironment({ ...input, settings: defaultLoginSettings() });
  assert.equal(off.A_KEY, undefined);
  assert.equal(off.A_FILE, undefined);
  assert.equal(off.PATH, DEFAULT_ROOT_PATH);
  const some = buildLoginEnvironment({
    ...input,
    settings: { ...defaultLoginSettings(), permitUserEnvironment: ["A_*"] },
  });
  assert.equal(some.A_KEY, "1");
  assert.equal(some.B_KEY, undefined);
  assert.equal(some.A_FILE, "3");
});

test("~/.ssh/environment: comments, blank lines, bad lines reported", () => {
  const bad: number[] = [];
  const entries = parseEnvironmentFile("# c\n\n  A=1\nnot a line\nB=x=y\r\n=nope\n", (n) => bad.push(n));
  assert.deepEqual(entries, [
    ["A", "1"],
    ["B", "x=y"],
  ]);
  assert.deepEqual(bad, [4, 6]);
});
