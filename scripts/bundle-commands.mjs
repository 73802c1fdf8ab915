#!/usr/bin/env node
/**
 * Bundles the client commands (nssh, nscp, nsftp, nsftp-server) into one file each, written over tsc's
 * output (dist/src/cli/<name>.js), so that what tests, benchmarks and users run is the same file. A command
 * starts for every connection a user makes, and Node's ES module loader resolves, reads and compiles each of
 * its ~120 modules separately: a bundle spares about a third of `nssh host true`'s CPU time (bench/README.md,
 * latency). The daemon and the library stay as tsc wrote them.
 *
 * Packages stay external (loaded from node_modules as before); only our own modules are joined. Two
 * patterns need care in a bundle, both checked here so that a new use fails the build instead of a run:
 * - A module loaded on first use with createRequire(import.meta.url)("../x.js") (the KEMs: a connection uses
 *   one at most): rewritten to a plain require() so that esbuild bundles the module as a lazily initialized
 *   one, still evaluated only when first required.
 * - Any other import.meta.url in bundled code would point at the bundle, not at the module's own place:
 *   each is listed in ALLOWED_META_URL with why it is right from the bundle's place too.
 * Needs esbuild (a devDependency): an install from the registry ships dist/ already built.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const COMMANDS = ["nssh", "nscp", "nsftp", "nsftp-server"];
const LAZY_REQUIRE = /const (\w+) = createRequire\(import\.meta\.url\);/;

/** Files whose import.meta.url is fine in a bundle at dist/src/cli/ (they look upward for a file). */
const ALLOWED_META_URL = new Set(["src/cli/nssh/version.ts"]);

const lazyRequire = {
  name: "lazy-require",
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      const rel = path.relative(root, args.path);
      let text = await fs.promises.readFile(args.path, "utf8");
      const m = LAZY_REQUIRE.exec(text);
      // requireModule("x") and createRequire(import.meta.url)("x") -> require("x"): esbuild bundles a required
      // module of ours lazily (evaluated on the first call) and leaves a package's require to Node (the
      // banner's require).
      if (m) text = text.replace(m[0], "").replaceAll(`${m[1]}(`, "require(");
      text = text.replaceAll("createRequire(import.meta.url)(", "require(");
      if (text.includes("import.meta.url") && !ALLOWED_META_URL.has(rel)) {
        throw new Error(`${rel}: import.meta.url in a bundled module (see scripts/bundle-commands.mjs)`);
      }
      return { contents: text, loader: "ts" };
    });
  },
};

await build({
  entryPoints: Object.fromEntries(COMMANDS.map((c) => [c, path.join(root, "src/cli", `${c}.ts`)])),
  outdir: path.join(root, "dist/src/cli"),
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  // Node's require, for the packages the lazily loaded modules require (ESM has no require of its own).
  banner: {
    js: 'import { createRequire as __nsshCreateRequire } from "node:module";\nconst require = __nsshCreateRequire(import.meta.url);',
  },
  plugins: [lazyRequire],
});
for (const c of COMMANDS) fs.chmodSync(path.join(root, "dist/src/cli", `${c}.js`), 0o755);
