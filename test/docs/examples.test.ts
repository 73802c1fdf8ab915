/** The documentation's examples run as written (they import "nssh", the package itself). */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

test(
  "docs/examples/server-and-client.mjs runs and prints what the page says",
  { timeout: 30_000 },
  async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile(
        process.execPath,
        ["docs/examples/server-and-client.mjs"],
        { cwd: root, timeout: 25_000 },
        (err, out) => (err ? reject(err) : resolve({ stdout: out })),
      ),
    );
    assert.match(stdout, /code: 3, stdout: 'hello\\n', stderr: 'oops\\n'/);
    assert.match(stdout, /SHOUT/);
    assert.match(stdout, /code: 0, signal: null/);
  },
);
