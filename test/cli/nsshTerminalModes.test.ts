/**
 * Terminal modes on a PTY session (RFC 4254 §8, ssh's ttymodes.c): the local terminal's modes read with
 * `stty -a` and sent in the pty-req, checked end to end in tmux against a real sshd (the remote `stty`
 * shows what was set locally, and exactly what OpenSSH's ssh gives it), and the parser on sample outputs.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { parseSttyAll, parseSttyChar } from "../../src/cli/nssh/localTerminalModes.js";
import { encodeTerminalModes, decodeTerminalModes } from "../../src/session/index.js";
import {
  NSSH,
  nsshSkip,
  startNsshWorld,
  startTmux,
  tmuxAvailable,
  type NsshWorld,
  type TmuxPane,
} from "../helpers/nsshFixtures.js";

const GNU_STTY = `speed 38400 baud; rows 30; columns 100; line = 0;
intr = ^G; quit = ^\\; erase = ^H; kill = ^U; eof = ^D; eol = <undef>;
eol2 = <undef>; swtch = <undef>; start = ^Q; stop = ^S; susp = ^Z; rprnt = ^R;
werase = ^W; lnext = ^V; discard = ^O; min = 1; time = 0;
-parenb -parodd -cmspar cs8 -hupcl -cstopb cread -clocal -crtscts
-ignbrk -brkint -ignpar -parmrk -inpck -istrip -inlcr -igncr icrnl -ixon -ixoff
-iuclc -ixany -imaxbel iutf8
opost -olcuc -ocrnl onlcr -onocr -onlret -ofill -ofdel nl0 cr0 tab0 bs0 vt0 ff0
isig icanon iexten echo echoe echok -echonl -noflsh -xcase -tostop -echoprt
echoctl echoke -flusho -extproc
`;

describe("nssh: reading the local terminal's modes", () => {
  test("stty's character notation", () => {
    assert.equal(parseSttyChar("^C"), 3);
    assert.equal(parseSttyChar("^?"), 127);
    assert.equal(parseSttyChar("^\\"), 28);
    assert.equal(parseSttyChar("<undef>"), 255);
    assert.equal(parseSttyChar("M-^C"), 0x83);
    assert.equal(parseSttyChar("x"), 0x78);
    assert.equal(parseSttyChar("^"), 0x5e);
    assert.equal(parseSttyChar("bogus"), null);
  });

  test("GNU stty -a: speeds first, then ttymodes.h's order, as ssh encodes them", () => {
    const modes = parseSttyAll(GNU_STTY);
    const names = Object.keys(modes);
    assert.deepEqual(names.slice(0, 3), ["TTY_OP_OSPEED", "TTY_OP_ISPEED", "VINTR"]);
    assert.equal(modes.TTY_OP_OSPEED, 38400);
    assert.equal(modes.VINTR, 7);
    assert.equal(modes.VERASE, 8);
    assert.equal(modes.VEOL, 255);
    assert.equal(modes.VREPRINT, 18);
    assert.equal(modes.VDISCARD, 15);
    assert.equal(modes.VSWTCH, undefined, "Linux's swtch is not ssh's VSWTCH");
    assert.equal(modes.ICRNL, 1);
    assert.equal(modes.IXON, 0);
    assert.equal(modes.IUTF8, 1);
    assert.equal(modes.ECHO, 1);
    assert.equal(modes.ECHONL, 0);
    // ssh tests CS7 and CS8 as bits of c_cflag: a cs8 terminal has both.
    assert.equal(modes.CS7, 1);
    assert.equal(modes.CS8, 1);
    assert.ok(names.indexOf("VDISCARD") < names.indexOf("IGNPAR"));
    assert.ok(names.indexOf("ISIG") < names.indexOf("OPOST"));
    assert.deepEqual(decodeTerminalModes(encodeTerminalModes(modes)), modes);
  });

  test("different input and output speeds, and an unreadable text gives no modes", () => {
    const modes = parseSttyAll("ispeed 9600 baud; ospeed 38400 baud; rows 24; columns 80;\nintr = ^C;");
    assert.deepEqual(modes, { TTY_OP_OSPEED: 38400, TTY_OP_ISPEED: 9600, VINTR: 3 });
    assert.deepEqual(parseSttyAll(""), {});
  });
});

const skip = nsshSkip || (!tmuxAvailable() ? "tmux is not installed" : false);

describe("nssh: the remote PTY gets the local terminal's modes (tmux, real sshd)", { skip }, () => {
  let w: NsshWorld;
  let pane: TmuxPane | null = null;
  before(async () => {
    w = await startNsshWorld([]);
  });
  after(async () => {
    await w?.stop();
  });
  afterEach(() => {
    pane?.kill();
    pane = null;
  });

  /** Run `program` (nssh or ssh) with -tt in the pane; the remote side reports its terminal's modes. */
  const remoteModes = async (p: TmuxPane, program: string, tag: string): Promise<string> => {
    const remote = `echo ${tag}=$(stty -g); stty -a | grep -oE "(intr|erase|kill) = [^;]*|-?ixon |-?echoe " | tr "\\n" " "; echo "<${tag}"`;
    const args = w.baseArgs(["-tt", "-o", "StrictHostKeyChecking=yes"]).concat("127.0.0.1", remote);
    p.type(`${program} ${args.map((a) => `'${a}'`).join(" ")}`);
    const text = await p.waitFor(new RegExp(`<${tag}\\s*$`, "m"));
    const g = new RegExp(`^${tag}=(\\S+)\\s*$`, "m").exec(text)![1]!;
    const shown = new RegExp(`^(.*)<${tag}\\s*$`, "m").exec(text)![1]!;
    return `${g}|${shown.trim()}`;
  };

  test("stty erase ^H intr ^G -ixon -echoe locally shows on the remote side, as with OpenSSH's ssh", async () => {
    const p = (pane = startTmux(w.dir, w.env({ TERM: "xterm" })));
    p.type("PS1='L> '; clear; stty erase '^H' intr '^G' kill '^X' -ixon -echoe");
    const ours = await remoteModes(p, `${process.execPath} ${NSSH}`, "NSSH");
    const [, shown] = ours.split("|");
    assert.match(shown!, /intr = \^G/);
    assert.match(shown!, /erase = \^H/);
    assert.match(shown!, /kill = \^X/);
    assert.match(shown!, /-ixon/);
    assert.match(shown!, /-echoe/);
    const theirs = await remoteModes(p, "ssh", "OSSH");
    assert.equal(ours, theirs, "the remote terminal is set exactly as OpenSSH's ssh sets it");
    p.type("stty sane");
  });
});
