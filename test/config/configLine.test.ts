import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigError,
  parseConfigLine,
  parseConfigLines,
  splitConfigArgs,
} from "../../src/config/configLine.js";

test("keyword and arguments in every spelling ssh_config(5) allows", () => {
  for (const text of ["Port 2222", "Port=2222", "Port = 2222", "  port\t2222  ", "Port =2222"]) {
    const l = parseConfigLine(text, "f", 3);
    assert.equal(l?.key, "port", text);
    assert.deepEqual(l?.args, ["2222"], text);
  }
});

test("blank and comment lines are skipped; line numbers are kept", () => {
  const lines = parseConfigLines("# c\n\nHost a b\n  User x # trailing\n", "cfg");
  assert.deepEqual(
    lines.map((l) => [l.line, l.key, l.args]),
    [
      [3, "host", ["a", "b"]],
      [4, "user", ["x"]],
    ],
  );
});

test("quotes group, backslashes escape quotes, a # inside an argument is literal", () => {
  assert.deepEqual(splitConfigArgs(`"a b" 'c d' e\\"f g#h`), ["a b", "c d", 'e"f', "g#h"]);
  assert.deepEqual(splitConfigArgs(`x\\ y z`), ["x y", "z"]);
  assert.deepEqual(splitConfigArgs(`"" end`), ["", "end"]);
  assert.deepEqual(splitConfigArgs(`keep\\n`), ["keep\\n"]);
});

test("an unterminated quote names file and line", () => {
  assert.throws(
    () => parseConfigLines('Port 22\nProxyCommand "nc %h\n', "/etc/x"),
    (e: unknown) =>
      e instanceof ConfigError && e.line === 2 && /\/etc\/x line 2: invalid quotes/.test(e.message),
  );
});
