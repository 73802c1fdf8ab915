/**
 * Encoded terminal modes of a pty-req (RFC 4254 §8, with OpenSSH's additions IUTF8 and the speeds).
 * Decoding stops at TTY_OP_END or at the first opcode of 160-255, whose argument format is undefined.
 */
import { SshError } from "../wire/index.js";

export const TERMINAL_MODE_OPCODES: Readonly<Record<string, number>> = {
  VINTR: 1,
  VQUIT: 2,
  VERASE: 3,
  VKILL: 4,
  VEOF: 5,
  VEOL: 6,
  VEOL2: 7,
  VSTART: 8,
  VSTOP: 9,
  VSUSP: 10,
  VDSUSP: 11,
  VREPRINT: 12,
  VWERASE: 13,
  VLNEXT: 14,
  VFLUSH: 15,
  VSWTCH: 16,
  VSTATUS: 17,
  VDISCARD: 18,
  IGNPAR: 30,
  PARMRK: 31,
  INPCK: 32,
  ISTRIP: 33,
  INLCR: 34,
  IGNCR: 35,
  ICRNL: 36,
  IUCLC: 37,
  IXON: 38,
  IXANY: 39,
  IXOFF: 40,
  IMAXBEL: 41,
  IUTF8: 42,
  ISIG: 50,
  ICANON: 51,
  XCASE: 52,
  ECHO: 53,
  ECHOE: 54,
  ECHOK: 55,
  ECHONL: 56,
  NOFLSH: 57,
  TOSTOP: 58,
  IEXTEN: 59,
  ECHOCTL: 60,
  ECHOKE: 61,
  PENDIN: 62,
  OPOST: 70,
  OLCUC: 71,
  ONLCR: 72,
  OCRNL: 73,
  ONOCR: 74,
  ONLRET: 75,
  CS7: 90,
  CS8: 91,
  PARENB: 92,
  PARODD: 93,
  TTY_OP_ISPEED: 128,
  TTY_OP_OSPEED: 129,
};

const NAME_BY_OPCODE = new Map(Object.entries(TERMINAL_MODE_OPCODES).map(([k, v]) => [v, k]));

/** Terminal modes by name (unknown opcodes below 160 keep their number as `op<N>`). */
export type TerminalModes = Record<string, number>;

export function encodeTerminalModes(modes: TerminalModes): Buffer {
  const entries = Object.entries(modes);
  const out = Buffer.alloc(entries.length * 5 + 1);
  let pos = 0;
  for (const [name, value] of entries) {
    const op = TERMINAL_MODE_OPCODES[name] ?? (/^op(\d+)$/.exec(name) ? Number(name.slice(2)) : undefined);
    if (op === undefined || op < 1 || op >= 160)
      throw new SshError("CONFIG", `unknown terminal mode ${name}`);
    out[pos++] = op;
    out.writeUInt32BE(value >>> 0, pos);
    pos += 4;
  }
  out[pos++] = 0; // TTY_OP_END
  return out.subarray(0, pos);
}

export function decodeTerminalModes(encoded: Buffer): TerminalModes {
  const modes: TerminalModes = {};
  let pos = 0;
  while (pos < encoded.length) {
    const op = encoded[pos++]!;
    if (op === 0 || op >= 160) break;
    if (pos + 4 > encoded.length) throw new SshError("MALFORMED", "truncated terminal mode");
    modes[NAME_BY_OPCODE.get(op) ?? `op${op}`] = encoded.readUInt32BE(pos);
    pos += 4;
  }
  return modes;
}
