/**
 * Protocol version exchange (RFC 4253 §4.2): `SSH-2.0-softwareversion SP comments CR LF`, at most 255
 * bytes. A client accepts other lines before the server's version line (bounded in count and size, as
 * OpenSSH does); a server accepts none.
 */
import { SshError } from "../wire/index.js";
import type { InputBuffer } from "./inputBuffer.js";

export const MAX_VERSION_LINE = 255;
/** OpenSSH gives up after this many pre-banner lines (ssh_exchange_identification). */
export const MAX_PRE_BANNER_LINES = 1024;

export interface VersionLineResult {
  /** The peer's version string without CR LF: this goes into the exchange hash. */
  version: string;
  /** Lines received before it (client side only). */
  preamble: string[];
}

export function formatVersionLine(software: string, comments?: string): string {
  return `SSH-2.0-${software}${comments ? " " + comments : ""}\r\n`;
}

/**
 * Consume lines from `input` until the version line; returns null when more bytes are needed.
 * `preamble` accumulates across calls.
 */
export function readVersionLine(
  input: InputBuffer,
  acceptPreamble: boolean,
  preamble: string[],
): VersionLineResult | null {
  for (;;) {
    // 255 bytes including CR LF (RFC 4253 §4.2): the LF must sit within the first 255 bytes.
    const nl = input.indexOf(0x0a, Math.min(input.length, MAX_VERSION_LINE));
    if (nl === -1) {
      if (input.length >= MAX_VERSION_LINE) {
        throw new SshError("VERSION", `identification line longer than ${MAX_VERSION_LINE} bytes`);
      }
      return null;
    }
    const raw = input.take(nl + 1);
    if (raw.includes(0)) throw new SshError("VERSION", "identification line contains a NUL byte");
    // RFC 4253 says CR LF; OpenSSH also accepts a bare LF, and so do we.
    let line = raw.subarray(0, raw.length - 1);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    const text = line.toString("latin1");
    if (text.startsWith("SSH-")) {
      const m = /^SSH-([^-]*)-([!-~]+)(?: .*)?$/.exec(text);
      if (!m) {
        throw new SshError("VERSION", `invalid identification string: ${JSON.stringify(text.slice(0, 80))}`);
      }
      if (m[1] !== "2.0" && m[1] !== "1.99") {
        throw new SshError("VERSION", `Protocol major versions differ: 2 vs. ${m[1]!.split(".")[0]}`);
      }
      return { version: text, preamble };
    }
    if (!acceptPreamble) {
      throw new SshError(
        "VERSION",
        `peer sent a line before its identification string: ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
    if (preamble.length >= MAX_PRE_BANNER_LINES) {
      throw new SshError("VERSION", "too many lines before the server's identification string");
    }
    preamble.push(text);
  }
}
