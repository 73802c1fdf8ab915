/** `nssh -V`'s line, apart from -Q's algorithm tables so that printing it loads no algorithm. */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let line: string | undefined;

/**
 * The version in our package.json: the first one named "nssh" above this module, which sits in
 * dist/src/cli/nssh/ as tsc writes it and in dist/src/cli/ when bundled into a command
 * (scripts/bundle-commands.mjs). Undefined when installed without it.
 */
function packageVersion(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "nssh") return pkg.version;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `nssh -V`: our version, the runtime and the OpenSSL doing the arithmetic (ssh prints its OpenSSL too). */
export function versionLine(): string {
  line ??= `nssh_${packageVersion() ?? "0.0.0"}, Node.js ${process.version}, OpenSSL ${process.versions.openssl}`;
  return line;
}
