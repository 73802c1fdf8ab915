/**
 * The session channel requests of RFC 4254 §6 (and OpenSSH's eow@openssh.com), encoded and decoded. A
 * decoder receives the request-specific data (after "want reply") and validates every field.
 */
import { SshReader, SshWriter } from "../wire/index.js";
import { decodeTerminalModes, encodeTerminalModes, type TerminalModes } from "./terminalModes.js";

export interface PtyRequest {
  term: string;
  cols: number;
  rows: number;
  widthPx: number;
  heightPx: number;
  modes: TerminalModes;
}

export interface WindowChange {
  cols: number;
  rows: number;
  widthPx: number;
  heightPx: number;
}

export type ExitSignal = { signal: string; coreDumped: boolean; message: string; language: string };

const bytes = (w: SshWriter): Buffer => Buffer.from(w.toBuffer());

export function encodePtyRequest(p: PtyRequest): Buffer {
  return bytes(
    new SshWriter()
      .string(p.term)
      .uint32(p.cols)
      .uint32(p.rows)
      .uint32(p.widthPx)
      .uint32(p.heightPx)
      .string(encodeTerminalModes(p.modes)),
  );
}

export function decodePtyRequest(data: Buffer): PtyRequest {
  const r = new SshReader(data);
  const p = {
    term: r.ascii(256, "TERM"),
    cols: r.uint32(),
    rows: r.uint32(),
    widthPx: r.uint32(),
    heightPx: r.uint32(),
    modes: decodeTerminalModes(r.string(64 * 1024, "terminal modes")),
  };
  r.done("pty-req");
  return p;
}

export function encodeWindowChange(w: WindowChange): Buffer {
  return bytes(new SshWriter().uint32(w.cols).uint32(w.rows).uint32(w.widthPx).uint32(w.heightPx));
}

export function decodeWindowChange(data: Buffer): WindowChange {
  const r = new SshReader(data);
  const w = { cols: r.uint32(), rows: r.uint32(), widthPx: r.uint32(), heightPx: r.uint32() };
  r.done("window-change");
  return w;
}

export function encodeEnv(name: string, value: string): Buffer {
  return bytes(new SshWriter().string(name).string(value));
}

export function decodeEnv(data: Buffer): { name: string; value: string } {
  const r = new SshReader(data);
  const e = { name: r.utf8(1024, "variable name"), value: r.utf8(64 * 1024, "variable value") };
  r.done("env");
  return e;
}

/** exec's command, subsystem's name, signal's name: one string. */
export function encodeString(value: string | Buffer): Buffer {
  return bytes(new SshWriter().string(value));
}

export function decodeString(data: Buffer, what: string, max = 256 * 1024): Buffer {
  const r = new SshReader(data);
  const v = r.string(max, what);
  r.done(what);
  return Buffer.from(v);
}

export function encodeExitStatus(code: number): Buffer {
  return bytes(new SshWriter().uint32(code));
}

export function decodeExitStatus(data: Buffer): number {
  const r = new SshReader(data);
  const code = r.uint32();
  r.done("exit-status");
  return code;
}

export function encodeExitSignal(s: ExitSignal): Buffer {
  return bytes(new SshWriter().string(s.signal).boolean(s.coreDumped).string(s.message).string(s.language));
}

export function decodeExitSignal(data: Buffer): ExitSignal {
  const r = new SshReader(data);
  const s = {
    signal: r.ascii(64, "signal name"),
    coreDumped: r.boolean(),
    message: r.utf8(4096, "error message"),
    language: r.ascii(64, "language tag"),
  };
  r.done("exit-signal");
  return s;
}

export function encodeBreak(lengthMs: number): Buffer {
  return bytes(new SshWriter().uint32(lengthMs));
}
