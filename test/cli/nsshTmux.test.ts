/**
 * nssh on a real terminal, driven through tmux against a real sshd: an interactive shell (typing
 * `echo $((6*7))` shows 42), the window size following a resize (SIGWINCH → window-change), the escape
 * sequences (~. ~? ~C ~^Z), the local terminal sane after every way out, and the prompts that need a
 * terminal: the host key question, a key passphrase and a password, read from /dev/tty.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import {
  NSSH,
  nsshSkip,
  startNsshWorld,
  startTmux,
  tmuxAvailable,
  type NsshWorld,
  type TmuxPane,
} from "../helpers/nsshFixtures.js";

const skip = nsshSkip || (!tmuxAvailable() ? "tmux is not installed" : false);

describe("nssh: interactive sessions in tmux", { skip }, () => {
  let w: NsshWorld;
  let pane: TmuxPane | null = null;
  let protectedKey: string;
  before(async () => {
    w = await startNsshWorld([], { pam: true });
    protectedKey = path.join(w.dir, "id_protected");
    assert.equal(
      spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "s3cret", "-f", protectedKey]).status,
      0,
    );
    w.sshd.setAuthorizedKeys([
      fs.readFileSync(w.key.file + ".pub", "utf8").trim(),
      fs.readFileSync(protectedKey + ".pub", "utf8").trim(),
    ]);
  });
  after(async () => {
    await w?.stop();
  });
  afterEach(() => {
    pane?.kill();
    pane = null;
  });

  /** A tmux pane whose local shell prompt is "L> ", with nssh started in it. */
  const open = (args: string[]): TmuxPane => {
    pane = startTmux(w.dir, w.env({ TERM: "xterm" }));
    pane.type("PS1='L> '; clear");
    pane.type(`${process.execPath} ${NSSH} ${args.map((a) => `'${a}'`).join(" ")}`);
    return pane;
  };
  /** The local terminal's modes, asked once nssh has gone. */
  const assertSane = async (p: TmuxPane): Promise<void> => {
    p.type(
      "stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo|isig|icrnl)' | tr '\\n' ' '; echo '<modes'",
    );
    const text = await p.waitFor(/^(?:L> )?[a-z -]*<modes$/m);
    const modes = /^(?:L> )?([a-z -]*)<modes$/m.exec(text)![1]!.trim().split(" ");
    assert.deepEqual(modes.sort(), ["echo", "icanon", "icrnl", "isig"], text);
  };

  test("a shell: 42, the window size follows a resize, ~. disconnects, the terminal is sane", async () => {
    const p = open(w.baseArgs(["-o", "StrictHostKeyChecking=yes"]).concat("127.0.0.1"));
    await p.waitFor(/^\$ ?$/m);
    p.type("echo $((6*7))");
    await p.waitFor(/^42$/m);
    p.type("stty size");
    await p.waitFor(/^30 100$/m);
    p.resize(120, 40);
    await new Promise((r) => setTimeout(r, 300));
    p.type("stty size");
    await p.waitFor(/^40 120$/m);
    p.keys("Enter");
    p.type("~.", false);
    // Type only once the local shell is back: keys typed while nssh exits land before its prompt.
    await p.waitFor(/Connection to 127\.0\.0\.1 closed\.\r?\n(?:.*\n)*L> ?$/m);
    p.type("echo rc=$?");
    await p.waitFor(/^rc=255$/m);
    await assertSane(p);
  });

  test("the remote exit status comes back and the terminal is sane; ~? ~C ~R answer", async () => {
    const p = open(w.baseArgs(["-o", "LogLevel=VERBOSE"]).concat("127.0.0.1"));
    await p.waitFor(/^\$ ?$/m);
    p.keys("Enter");
    p.type("~?", false);
    await p.waitFor(/Supported escape sequences:/);
    p.keys("Enter");
    p.type("~C", false);
    await p.waitFor(/not supported yet/);
    p.keys("Enter");
    p.type("~R", false);
    await p.waitFor(/rekey completed/);
    p.type("echo after-$((5*5))");
    await p.waitFor(/^after-25$/m);
    p.type("exit 7");
    // Type only once the local shell is back: keys typed while nssh exits land before its prompt.
    await p.waitFor(/Connection to 127\.0\.0\.1 closed\.\r?\n(?:.*\n)*L> ?$/m);
    p.type("echo rc=$?");
    await p.waitFor(/^rc=7$/m);
    await assertSane(p);
  });

  test("~^Z suspends nssh with the terminal restored; fg resumes the session", async () => {
    const p = open(w.baseArgs().concat("127.0.0.1"));
    await p.waitFor(/^\$ ?$/m);
    p.keys("Enter");
    p.type("~", false);
    p.keys("C-z");
    await p.waitFor(/\[suspend ssh\]/);
    await p.waitFor(/^L> ?$/m);
    await assertSane(p);
    p.type("fg");
    await new Promise((r) => setTimeout(r, 500));
    p.type("echo back-$((2*3))");
    await p.waitFor(/^back-6$/m);
    p.type("exit");
    await p.waitFor(/Connection to 127\.0\.0\.1 closed\./);
    await assertSane(p);
  });

  test("first contact asks on the terminal; yes records the key", async () => {
    fs.rmSync(w.knownHosts, { force: true });
    try {
      const p = open(w.baseArgs(["-o", "StrictHostKeyChecking=ask"]).concat("127.0.0.1", "echo asked-ok"));
      const text = await p.waitFor(/\(yes\/no\/\[fingerprint\]\)\? ?$/m);
      assert.match(text, new RegExp(`The authenticity of host '\\[127\\.0\\.0\\.1\\]:${w.sshd.port} `));
      assert.match(text, /ED25519 key fingerprint is SHA256:/);
      p.type("yes");
      await p.waitFor(/Permanently added/);
      await p.waitFor(/^asked-ok$/m);
      assert.match(fs.readFileSync(w.knownHosts, "utf8"), /ssh-ed25519/);
      await assertSane(p);
    } finally {
      fs.writeFileSync(w.knownHosts, w.knownHostsLine + "\n");
    }
  });

  test("a key passphrase is asked on the terminal, not echoed, and works", async () => {
    const args = w
      .baseArgs(["-o", "PreferredAuthentications=publickey"])
      .map((a) => (a === w.key.file ? protectedKey : a));
    const p = open(args.concat("127.0.0.1", "echo pass-$((3*3))"));
    await p.waitFor(new RegExp(`Enter passphrase for key '${protectedKey}': ?$`, "m"));
    p.type("s3cret");
    const text = await p.waitFor(/^pass-9$/m);
    assert.ok(!text.includes("s3cret"), "the passphrase must not be echoed");
    await assertSane(p);
  });

  test("a password is asked on the terminal: user@host's password:", async () => {
    const p = open(
      w.baseArgs(["-o", "PreferredAuthentications=password"]).concat("127.0.0.1", "echo pw-$((4*4))"),
    );
    await p.waitFor(new RegExp(`^${w.user.name}@127\\.0\\.0\\.1's password: ?$`, "m"));
    p.type(w.user.password);
    const text = await p.waitFor(/^pw-16$/m);
    assert.ok(!text.includes(w.user.password));
    await assertSane(p);
  });
});
