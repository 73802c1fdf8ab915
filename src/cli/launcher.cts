/**
 * The start of the client commands (nssh, nscp, nsftp, nsftp-server). Each runs from one bundled file,
 * dist/src/cli/bundles/<command>.cjs (scripts/bundle-commands.mjs), compiled with the V8 code cache an
 * earlier run left (cli/compileCache.cts): Node's ES module loader would resolve, read and compile each of
 * the ~120 modules a command uses one by one, and V8 would compile every function it calls anew in each
 * run. Without the bundle (a tsc-only build) or where require() of ES modules is switched off (the bundle
 * requires the packages it uses), the command runs from tsc's modules instead.
 *
 * The entries (cli/nssh.cts and the others), this launcher and the two modules it uses are CommonJS: an
 * ES module entry makes Node 20 set up its ES module loader (ten more of its internal modules, and the
 * resolution, reading and linking of each of ours) before the bundle runs: ~13 ms of CPU in every start
 * of a command here (bench/README.md, "What moved the numbers"). tsc's modules, when there is no bundle,
 * still load through that loader.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import vm from "node:vm";
import { bundleIdentity, compileCacheDirectory, openCompileCache } from "./compileCache.cjs";
import { onRunWorthCaching } from "./runWorthCaching.cjs";

/**
 * Run `command` (launchCommand) from an entry file. A failure to load it ends the process as a top-level
 * await in an ES module entry would: Node's report of an uncaught error, exit status 1.
 */
export function startCommand(
  command: string,
  importModules: () => Promise<unknown>,
  options?: { codeCache: boolean },
): void {
  launchCommand(command, importModules, options).catch((err: unknown) => {
    process.nextTick(() => {
      throw err;
    });
  });
}

/** The bundle's path for a command, next to this module as the build writes it. */
export function bundlePath(command: string): string {
  return path.join(__dirname, "bundles", `${command}.cjs`);
}

/**
 * Run `command` from its bundle, or from tsc's modules through `importModules` when there is none.
 * `codeCache: false` for a command that never writes a cache (a server's subsystem writes nothing into
 * the user's home but what its client asks for): it does not look for one either.
 */
async function launchCommand(
  command: string,
  importModules: () => Promise<unknown>,
  options: { codeCache: boolean } = { codeCache: true },
): Promise<void> {
  const bundle = bundlePath(command);
  const found = (process.features as { require_module?: boolean }).require_module ? readBundle(bundle) : null;
  if (found === null) {
    await importModules();
    return;
  }
  const { source, stat } = found;
  const cache = openCompileCache(
    command,
    bundleIdentity(stat),
    options.codeCache ? compileCacheDirectory() : null,
  );
  // The wrapper CommonJS puts around a module, on the source's first line so that line numbers hold.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    cachedData: cache.data,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cache.data === undefined || script.cachedDataRejected === true) {
    // Made at exit, it holds every function the run compiled (the functions a login calls).
    onRunWorthCaching(() => process.once("exit", () => cache.save(() => script.createCachedData())));
  }
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  const module = { exports: {} };
  run.call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
}

/** The bundle's source and the identity of the file it was read from, or null when the build made none. */
function readBundle(bundle: string): { source: string; stat: fs.Stats } | null {
  let fd: number;
  try {
    fd = fs.openSync(bundle, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    return { stat: fs.fstatSync(fd), source: fs.readFileSync(fd, "utf8") };
  } finally {
    fs.closeSync(fd);
  }
}
