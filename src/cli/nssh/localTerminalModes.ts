/**
 * The local terminal's modes for a pty-req, as ssh(1) sends them (ttymodes.c tty_make_modes, RFC 4254 §8):
 * the output and input speeds, then every special character and flag in ttymodes.h's order. Node has no
 * tcgetattr(3), so the modes come from `stty -a` run on our stdin (POSIX stty's portable, symbolic output)
 * before the terminal is put in raw mode. Without a terminal ssh sends no modes at all (only TTY_OP_END).
 */
import { spawnSync } from "node:child_process";
import { TERMINAL_MODE_OPCODES, type TerminalModes } from "../../session/terminalModes.js";
import type { CliLog } from "./log.js";

/** stty's names for the special characters ssh sends (swtch is not: Linux's VSWTC is not ssh's VSWTCH). */
const CHAR_NAMES: Readonly<Record<string, string>> = {
  intr: "VINTR",
  quit: "VQUIT",
  erase: "VERASE",
  kill: "VKILL",
  eof: "VEOF",
  eol: "VEOL",
  eol2: "VEOL2",
  start: "VSTART",
  stop: "VSTOP",
  susp: "VSUSP",
  dsusp: "VDSUSP",
  rprnt: "VREPRINT",
  reprint: "VREPRINT",
  werase: "VWERASE",
  lnext: "VLNEXT",
  status: "VSTATUS",
  discard: "VDISCARD",
};

/** special_char_encode: a disabled character (_POSIX_VDISABLE) is sent as 255. */
const DISABLED = 255;

/** One character as stty shows it: `^C`, `^?`, `M-^C`, `M-a`, `a`, `<undef>` (or `undef`). */
export function parseSttyChar(text: string): number | null {
  if (text === "<undef>" || text === "undef" || text === "^-") return DISABLED;
  let meta = 0;
  let s = text;
  if (s.startsWith("M-") && s.length > 2) {
    meta = 0x80;
    s = s.slice(2);
  }
  if (s === "^?") return meta | 0x7f;
  if (s.length === 2 && s[0] === "^") {
    const c = s.charCodeAt(1);
    if (c >= 0x40 && c <= 0x5f) return meta | (c - 0x40);
    if (c >= 0x60 && c <= 0x7e) return meta | (c - 0x60);
    return null;
  }
  if (s.length === 1) return meta | s.charCodeAt(0);
  return null;
}

/**
 * The modes in `stty -a` output (GNU, BSD and macOS layouts), in tty_make_modes' order. A mode the output
 * does not show is left out (the server keeps its default for it).
 */
export function parseSttyAll(text: string): TerminalModes {
  const chars = new Map<string, number>();
  for (const m of text.matchAll(/(?:^|[\s;])([a-z0-9]+) = (\S+?)(?=;|\s|$)/g)) {
    const name = CHAR_NAMES[m[1]!];
    const value = parseSttyChar(m[2]!);
    if (name !== undefined && value !== null && !chars.has(name)) chars.set(name, value);
  }
  const flags = new Map<string, boolean>();
  for (const word of text.split(/[\s;]+/)) {
    const m = /^(-?)([a-z][a-z0-9]*)$/.exec(word);
    if (m) flags.set(m[2]!, m[1] === "");
  }
  const modes: TerminalModes = {};
  // GNU: "speed 38400 baud;" or "ispeed 9600 baud; ospeed 38400 baud;"; BSD: "speed 9600 baud;".
  const speed = /(?:^|\s)speed (\d+) baud/.exec(text)?.[1];
  const ispeed = /ispeed (\d+) baud/.exec(text)?.[1] ?? speed;
  const ospeed = /ospeed (\d+) baud/.exec(text)?.[1] ?? speed;
  if (ospeed !== undefined) modes.TTY_OP_OSPEED = Number(ospeed);
  if (ispeed !== undefined) modes.TTY_OP_ISPEED = Number(ispeed);
  // The character size is one field (cs5..cs8); ssh tests `c_cflag & CS7` and `c_cflag & CS8` as bits,
  // so a cs8 terminal sends CS7=1 and CS8=1. We send what ssh sends.
  const size = ["cs5", "cs6", "cs7", "cs8"].find((c) => flags.get(c) === true);
  for (const name of Object.keys(TERMINAL_MODE_OPCODES)) {
    if (name.startsWith("TTY_OP_")) continue;
    if (name.startsWith("V")) {
      const value = chars.get(name);
      if (value !== undefined) modes[name] = value;
    } else if (name === "CS7" || name === "CS8") {
      if (size === undefined) continue;
      const bits = { cs5: 0, cs6: 1, cs7: 2, cs8: 3 }[size]!;
      modes[name] = (bits & (name === "CS7" ? 2 : 3)) !== 0 ? 1 : 0;
    } else {
      const on = flags.get(name.toLowerCase());
      if (on !== undefined) modes[name] = on ? 1 : 0;
    }
  }
  return modes;
}

/**
 * The modes of the terminal on our stdin, or `{}` when stdin is not a terminal or stty cannot read it
 * (ssh then logs "tcgetattr: ..." and sends no modes).
 */
export function readLocalTerminalModes(log: CliLog): TerminalModes {
  const r = spawnSync("stty", ["-a"], { stdio: [0, "pipe", "pipe"], encoding: "utf8", timeout: 5000 });
  if (r.error || r.status !== 0) {
    const why = r.error?.message ?? (r.stderr || `exit status ${r.status}`).trim();
    log.info(`tcgetattr: ${why}`);
    return {};
  }
  return parseSttyAll(r.stdout);
}
