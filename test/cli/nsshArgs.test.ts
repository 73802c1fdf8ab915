/**
 * nssh's command line and escape sequences without a server: getopt-style flags (bundled, with attached
 * values, after the destination), destinations (user@host with @ in the user, ssh:// URIs with IPv6),
 * first-value-wins order, refused flags; the escape filter of the interactive session.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseArgs, UsageError } from "../../src/cli/nssh/args.js";
import { EscapeFilter, type EscapeActions } from "../../src/cli/nssh/terminal.js";

describe("nssh command line", () => {
  test("bundled flags, attached values, flags after the destination, then the command", () => {
    const a = parseArgs(["-vvTp2222", "-oUser=x", "host", "-n", "ls", "-l", "/tmp"]);
    assert.equal(a.verbosity, 2);
    assert.equal(a.noTty, true);
    assert.equal(a.nullStdin, true);
    assert.equal(a.destination, "host");
    assert.deepEqual(a.command, ["ls", "-l", "/tmp"]);
    assert.deepEqual(a.options, ["Port=2222", "User=x", "LogLevel=DEBUG2"]);
  });

  test("-- ends the flags; the words after the destination are the command", () => {
    const a = parseArgs(["--", "host", "-v"]);
    assert.equal(a.destination, "host");
    assert.deepEqual(a.command, ["-v"]);
    assert.equal(a.verbosity, 0);
  });

  test("user@host splits at the last @; the destination's user comes where it was typed", () => {
    const a = parseArgs(["-l", "first", "me@corp@host"]);
    assert.equal(a.destination, "host");
    assert.equal(a.destinationUser, "me@corp");
    assert.deepEqual(a.options, ["User=first", "User=me@corp"]);
  });

  test("ssh:// URIs, with an IPv6 address and a port", () => {
    const a = parseArgs(["ssh://bob@[::1]:2200", "true"]);
    assert.equal(a.destination, "::1");
    assert.equal(a.destinationUser, "bob");
    assert.equal(a.destinationPort, 2200);
    assert.throws(() => parseArgs(["ssh://host:99999"]), UsageError);
  });

  test("flags that mean a keyword become command-line options", () => {
    const a = parseArgs([
      "-4",
      "-C",
      "-c",
      "aes128-ctr",
      "-m",
      "hmac-sha2-256",
      "-J",
      "j1,j2",
      "-i",
      "k",
      "-b",
      "1.2.3.4",
      "h",
    ]);
    assert.deepEqual(a.options, [
      "AddressFamily=inet",
      "Compression=yes",
      "Ciphers=aes128-ctr",
      "MACs=hmac-sha2-256",
      "ProxyJump=j1,j2",
      "IdentityFile=k",
      "BindAddress=1.2.3.4",
    ]);
  });

  test("-o takes `Keyword value` and `Keyword=value`", () => {
    assert.deepEqual(parseArgs(["-o", "Port 22", "-o", "User = u", "h"]).options, ["Port=22", "User=u"]);
  });

  test("bad input: unknown flags, missing values, bad ports, later-issue flags", () => {
    assert.throws(() => parseArgs(["-Z", "h"]), /unknown option -- Z/);
    assert.throws(() => parseArgs(["h", "-p"]), /requires an argument -- p/);
    assert.throws(() => parseArgs(["-p", "0", "h"]), /Bad port/);
    assert.throws(() => parseArgs(["-p", "22x", "h"]), /Bad port/);
    assert.throws(() => parseArgs(["-L", "1:h:2", "h"]), /not supported yet/);
    assert.throws(() => parseArgs(["-Nf", "-D", "1080", "h"]), /dynamic port forwarding/);
  });
});

describe("nssh escape sequences", () => {
  const make = (esc: number | null = 0x7e) => {
    const seen: string[] = [];
    const actions: EscapeActions = {
      disconnect: () => seen.push("disconnect"),
      suspend: () => seen.push("suspend"),
      sendBreak: () => seen.push("break"),
      rekey: () => seen.push("rekey"),
      verbosity: (up) => seen.push(up ? "v+" : "v-"),
      listConnections: () => "list",
      message: (t) => seen.push(`msg:${t.split("\n")[0]}`),
    };
    return { filter: new EscapeFilter(esc, actions), seen };
  };

  test("~. after a newline disconnects; the bytes before it are still sent", () => {
    const { filter, seen } = make();
    assert.equal(filter.filter(Buffer.from("ls\r~.")).toString(), "ls\r");
    assert.deepEqual(seen, ["msg:~.", "disconnect"]);
  });

  test("at the very start a ~ is an escape; in mid-line it is data", () => {
    const { filter, seen } = make();
    assert.equal(filter.filter(Buffer.from("a~.b")).toString(), "a~.b");
    assert.deepEqual(seen, []);
  });

  test("~~ sends one ~; ~ then another character sends both", () => {
    const { filter } = make();
    assert.equal(filter.filter(Buffer.from("~~x\n~x")).toString(), "~x\n~x");
  });

  test("an escape split across reads still works", () => {
    const { filter, seen } = make();
    assert.equal(filter.filter(Buffer.from("\n~")).toString(), "\n");
    assert.equal(filter.filter(Buffer.from("\x1a")).toString(), "");
    assert.deepEqual(seen, ["msg:~^Z [suspend ssh]", "suspend"]);
  });

  test("~? ~# ~C ~B ~R ~V ~v act and send nothing", () => {
    const { filter, seen } = make();
    assert.equal(filter.filter(Buffer.from("~?\r~#\r~C\r~B\r~R\r~V\r~v")).toString(), "\r\r\r\r\r\r");
    assert.deepEqual(seen, ["msg:~?", "msg:~#", "msg:~C", "msg:~B", "break", "msg:~R", "rekey", "v-", "v+"]);
  });

  test("EscapeChar none passes everything; another escape character works the same", () => {
    assert.equal(make(null).filter.filter(Buffer.from("~.")).toString(), "~.");
    const caret = make(0x1d); // ^]
    assert.equal(caret.filter.filter(Buffer.from("x\r\x1d.")).toString(), "x\r");
    assert.deepEqual(caret.seen, ["msg:^].", "disconnect"]);
  });
});
