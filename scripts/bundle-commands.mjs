#!/usr/bin/env node
/**
 * Bundles the client commands (nssh, nscp, nsftp, nsftp-server) into one CommonJS file each,
 * dist/src/cli/bundles/<name>.cjs, which the commands' launchers (src/cli/launcher.cts) compile with a V8
 * code cache, and the library's entry into one ES module (at the end of this file). A command starts for
 * every connection a user makes: Node's ES module loader would resolve, read and compile each of its ~120
 * modules separately (a third of `nssh host true`'s CPU time), and V8 has no code cache for ES modules in
 * Node 20 (bench/README.md, latency). The launchers and the daemon stay as tsc wrote them; a launcher runs
 * tsc's modules when there is no bundle.
 *
 * Packages stay external (required from node_modules: Node >= 20.19 requires ES modules); only our own
 * modules are joined. Three patterns need care, each checked here so that a new use fails the build
 * instead of a run:
 * - A module loaded on first use with createRequire(import.meta.url)("../x.js") (the KEMs: a connection uses
 *   one at most; node:zlib, for compression only): rewritten to a plain require() so that esbuild bundles
 *   the module as a lazily initialized one (or leaves Node's own to Node), still evaluated only when first
 *   required.
 * - Any other import.meta.url in bundled code would point at the bundle, not at the module's own place:
 *   each is listed in ALLOWED_META_URL with why it is right from the bundle's place too.
 * - Top-level await has no CommonJS form: code that only an ES module run needs sits between
 *   "// bundle: esm-only start" and "// bundle: esm-only end" lines and is left out.
 * Needs esbuild (a devDependency): an install from the registry ships dist/ already built.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Each command's bundle and the module that runs it (what its launcher would import without a bundle). */
const COMMANDS = {
  nssh: "src/cli/nssh/run.ts",
  nscp: "src/cli/nscp/run.ts",
  nsftp: "src/cli/nsftp/run.ts",
  "nsftp-server": "src/cli/nsftpServer/run.ts",
};
const ESM_ONLY =
  /\n[ \t]*\/\/ bundle: esm-only start[^\n]*\n[\s\S]*?\n[ \t]*\/\/ bundle: esm-only end[^\n]*\n/g;
const LAZY_REQUIRE = /const (\w+) = createRequire\(import\.meta\.url\);/;

/** Files whose import.meta.url is fine in a bundle at dist/src/cli/bundles/ (they look upward for a file). */
const ALLOWED_META_URL = new Set(["src/cli/nssh/version.ts"]);

const lazyRequire = {
  name: "lazy-require",
  setup(b) {
    b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      const rel = path.relative(root, args.path);
      let text = await fs.promises.readFile(args.path, "utf8");
      const m = LAZY_REQUIRE.exec(text);
      // requireModule("x") and createRequire(import.meta.url)("x") -> require("x"): esbuild bundles a required
      // module of ours lazily (evaluated on the first call) and leaves a package's require to Node.
      if (m) text = text.replace(m[0], "").replaceAll(`${m[1]}(`, "require(");
      text = text.replaceAll("createRequire(import.meta.url)(", "require(");
      text = text.replace(ESM_ONLY, "\n");
      if (text.includes("bundle: esm-only")) throw new Error(`${rel}: unmatched "bundle: esm-only" lines`);
      if (text.includes("import.meta.url") && !ALLOWED_META_URL.has(rel)) {
        throw new Error(`${rel}: import.meta.url in a bundled module (see scripts/bundle-commands.mjs)`);
      }
      return { contents: text, loader: "ts" };
    });
  },
};

/** What both builds (the commands' and the library's) share. */
const COMMON = {
  bundle: true,
  packages: "external",
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
  plugins: [lazyRequire],
};

await build({
  ...COMMON,
  entryPoints: Object.fromEntries(Object.entries(COMMANDS).map(([c, entry]) => [c, path.join(root, entry)])),
  outdir: path.join(root, "dist/src/cli/bundles"),
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  // A module's own URL, for the ALLOWED_META_URL files: the bundle's (CommonJS has no import.meta).
  define: { "import.meta.url": "__nsshBundleUrl" },
  // Strict mode first: a banner line ahead of esbuild's "use strict" would leave the bundle sloppy, unlike
  // the ES modules it is made of.
  banner: {
    js: [
      '"use strict";',
      'const __nsshBundleUrl = require("node:url").pathToFileURL(__filename).href;',
      "const __nsshNodeModule = (m) => Object.create(m, { default: { value: m, enumerable: true } });",
    ].join("\n"),
  },
});
const cliDir = path.join(root, "dist/src/cli");
for (const c of Object.keys(COMMANDS)) {
  fs.chmodSync(path.join(cliDir, `${c}.cjs`), 0o755);
  rewriteNodeModuleImports(path.join(cliDir, "bundles", `${c}.cjs`));
  // The entries were ES modules named <command>.js before they became CommonJS (package.json's bin names
  // the .cjs): that name keeps working for what was set up with it (an sshd_config's Subsystem line, a
  // script), at the ES module loader's cost.
  for (const old of [`${c}.js.map`, `${c}.d.ts`]) fs.rmSync(path.join(cliDir, old), { force: true });
  const shim = `#!/usr/bin/env node\n// The entry's former name: ${c}.cjs is the entry (package.json's bin).\nimport "./${c}.cjs";\n`;
  fs.writeFileSync(path.join(cliDir, `${c}.js`), shim);
  fs.chmodSync(path.join(cliDir, `${c}.js`), 0o755);
}
// What an earlier build made of the launcher's modules when they were ES modules (an in-place rebuild).
for (const m of ["launcher", "compileCache", "runWorthCaching"]) {
  for (const ext of [".js", ".js.map", ".d.ts"]) fs.rmSync(path.join(cliDir, m + ext), { force: true });
}

/**
 * A default import of a Node module (`import fs from "node:fs"`) becomes esbuild's __toESM(require(...)),
 * which defines a getter on a new object for every export of the module: ~2 ms of each start of a
 * command for the ~20 such imports a login runs. The bundle's own helper gives the same reads (`default`,
 * and every export through the prototype) without the copies. The rewrite stays on its line, so the
 * source map holds.
 */
function rewriteNodeModuleImports(bundle) {
  const text = fs.readFileSync(bundle, "utf8");
  const rewritten = text.replace(/__toESM\((require\("node:[a-z0-9_/]+"\)), 1\)/g, "__nsshNodeModule($1)");
  if (rewritten.includes('__toESM(require("node:')) {
    throw new Error(
      `${path.relative(root, bundle)}: a __toESM() of a Node module not rewritten (see scripts/bundle-commands.mjs)`,
    );
  }
  fs.writeFileSync(bundle, rewritten);
}

/*
 * The library's entry point ("exports" in package.json) as one ES module, dist/src/bundle/nssh.js: Node's
 * loader took ~140 ms of a fresh process to import tsc's ~120 modules (resolving, reading and compiling
 * each), where a program that embeds nssh wants connect() or createServer() at once. The same rewrites
 * as the commands' bundles; a package it requires (bcrypt-pbkdf), and Node's zlib when compression is
 * negotiated, go through a require() made for the bundle's place, which esbuild's require shim uses.
 * Types stay tsc's (dist/src/index.d.ts).
 */
await build({
  ...COMMON,
  entryPoints: { nssh: path.join(root, "src/index.ts") },
  outdir: path.join(root, "dist/src/bundle"),
  format: "esm",
  // A program sees our classes' names (util.inspect, errors): esbuild would rename some (_PrivateKey).
  keepNames: true,
  banner: {
    js: 'import { createRequire as __nsshCreateRequire } from "node:module";\nconst require = __nsshCreateRequire(import.meta.url);',
  },
});
