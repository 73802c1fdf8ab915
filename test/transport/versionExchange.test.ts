/** The identification string exchange (RFC 4253 §4.2): formatting ours, reading the peer's. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { InputBuffer } from "../../src/transport/inputBuffer.js";
import {
  formatVersionLine,
  MAX_PRE_BANNER_LINES,
  MAX_VERSION_LINE,
  readVersionLine,
} from "../../src/transport/versionExchange.js";
import { SshError } from "../../src/wire/index.js";

function input(...chunks: Array<string | Buffer>): InputBuffer {
  const b = new InputBuffer();
  for (const c of chunks) b.push(typeof c === "string" ? Buffer.from(c, "latin1") : c);
  return b;
}

function read(data: string | Buffer, acceptPreamble = false, preamble: string[] = []) {
  return readVersionLine(input(data), acceptPreamble, preamble);
}

const isVersionError = (e: unknown): boolean => e instanceof SshError && e.code === "VERSION";

describe("formatVersionLine", () => {
  test("SSH-2.0-softwareversion CR LF, with optional comments", () => {
    assert.equal(formatVersionLine("nssh_0.1"), "SSH-2.0-nssh_0.1\r\n");
    assert.equal(formatVersionLine("nssh_0.1", "Debian"), "SSH-2.0-nssh_0.1 Debian\r\n");
  });

  test("what we format, we read back", () => {
    const line = formatVersionLine("nssh_0.1", "test build");
    assert.equal(read(line)?.version, line.trimEnd());
  });
});

describe("readVersionLine", () => {
  test("returns the line without CR LF (it goes into the exchange hash), comments included", () => {
    const r = read("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n");
    assert.equal(r?.version, "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13");
    assert.deepEqual(r?.preamble, []);
  });

  test("accepts a bare LF, as OpenSSH does", () => {
    assert.equal(read("SSH-2.0-x\n")?.version, "SSH-2.0-x");
  });

  test("accepts protocol 1.99 (a server also speaking SSH-1) and 2.0", () => {
    assert.equal(read("SSH-1.99-old\r\n")?.version, "SSH-1.99-old");
    assert.equal(read("SSH-2.0-new\r\n")?.version, "SSH-2.0-new");
  });

  test("refuses other protocol versions", () => {
    assert.throws(
      () => read("SSH-1.5-ancient\r\n"),
      (e: unknown) => isVersionError(e) && /major versions differ/.test((e as Error).message),
    );
    assert.throws(() => read("SSH-3.0-future\r\n"), isVersionError);
    assert.throws(() => read("SSH-2-x\r\n"), isVersionError);
  });

  test("leaves the bytes after the line in the buffer", () => {
    const b = input("SSH-2.0-x\r\n", Buffer.from([0, 0, 0, 12, 10]));
    assert.equal(readVersionLine(b, false, [])?.version, "SSH-2.0-x");
    assert.equal(b.length, 5);
  });

  test("waits for the line end, however the bytes are split", () => {
    const line = "SSH-2.0-split_version comment\r\n";
    const b = new InputBuffer();
    for (let i = 0; i < line.length - 1; i++) {
      b.push(Buffer.from(line[i]!, "latin1"));
      assert.equal(readVersionLine(b, false, []), null);
    }
    b.push(Buffer.from("\n"));
    assert.equal(readVersionLine(b, false, [])?.version, "SSH-2.0-split_version comment");
  });

  test("a CR without LF is not a line end", () => {
    assert.equal(read("SSH-2.0-x\r"), null);
  });

  test("a line of 255 bytes including CR LF is accepted (RFC 4253 §4.2)", () => {
    const line = "SSH-2.0-" + "v".repeat(MAX_VERSION_LINE - 10) + "\r\n";
    assert.equal(line.length, 255);
    assert.equal(read(line)?.version, line.trimEnd());
  });

  test("a longer line is refused, with or without its line end", () => {
    assert.throws(() => read("SSH-2.0-" + "v".repeat(300) + "\r\n"), isVersionError);
    assert.throws(() => read("SSH-2.0-" + "v".repeat(300)), isVersionError);
    assert.throws(() => read("x".repeat(100_000)), isVersionError);
  });

  test("a partial line under the limit waits for more", () => {
    assert.equal(read("SSH-2.0-" + "v".repeat(200)), null);
  });

  test("refuses NUL, CR and other control characters inside the line", () => {
    assert.throws(() => read("SSH-2.0-a\0b\r\n"), isVersionError);
    assert.throws(() => read("SSH-2.0-a\rb\r\n"), isVersionError);
    assert.throws(() => read("SSH-2.0-a\tb\r\n"), isVersionError);
  });

  test("refuses an empty software version", () => {
    assert.throws(() => read("SSH-2.0-\r\n"), isVersionError);
    assert.throws(() => read("SSH-2.0- comment\r\n"), isVersionError);
  });

  test("a server accepts no line before the identification string", () => {
    assert.throws(
      () => read("hello\r\nSSH-2.0-x\r\n", false),
      (e: unknown) => isVersionError(e) && /before its identification/.test((e as Error).message),
    );
    assert.throws(() => read("\r\nSSH-2.0-x\r\n", false), isVersionError);
  });

  test("a client collects the lines before the server's identification string", () => {
    const r = read("Welcome\r\n\r\nto the server\nSSH-2.0-srv\r\n", true);
    assert.equal(r?.version, "SSH-2.0-srv");
    assert.deepEqual(r?.preamble, ["Welcome", "", "to the server"]);
  });

  test("the preamble accumulates across calls", () => {
    const preamble: string[] = [];
    const b = input("one\r\ntw");
    assert.equal(readVersionLine(b, true, preamble), null);
    b.push(Buffer.from("o\r\nSSH-2.0-srv\r\n"));
    assert.deepEqual(readVersionLine(b, true, preamble)?.preamble, ["one", "two"]);
  });

  test(`a client accepts ${MAX_PRE_BANNER_LINES} lines before the version, not one more`, () => {
    const ok = read("line\r\n".repeat(MAX_PRE_BANNER_LINES) + "SSH-2.0-srv\r\n", true);
    assert.equal(ok?.preamble.length, MAX_PRE_BANNER_LINES);
    assert.throws(
      () => read("line\r\n".repeat(MAX_PRE_BANNER_LINES + 1) + "SSH-2.0-srv\r\n", true),
      isVersionError,
    );
  });

  test("a pre-banner line is bounded in length too", () => {
    assert.throws(() => read("x".repeat(300) + "\r\nSSH-2.0-srv\r\n", true), isVersionError);
  });

  test("a line starting with SSH- is the identification line and must be valid", () => {
    assert.throws(() => read("SSH-garbage\r\n", true), isVersionError);
  });

  test("binary garbage ends with a VERSION error, never another exception", () => {
    let seed = 1;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 500; i++) {
      const buf = Buffer.from(Array.from({ length: 1 + (i % 400) }, rand));
      for (const acceptPreamble of [false, true]) {
        try {
          readVersionLine(input(buf), acceptPreamble, []);
        } catch (e) {
          assert.ok(isVersionError(e), `unexpected ${String(e)}`);
        }
      }
    }
  });
});
