/**
 * How a bundled command tells its launcher (cli/launcher.cts) that this run did the work a code cache
 * should hold (it logged in), so that a cache is not made from `nssh -V`'s few functions.
 * The bundle has its own copy of every module, so the two meet on a global symbol.
 */
const WORTH_CACHING = Symbol.for("nssh.compileCache.runWorthCaching");

type Registry = { [WORTH_CACHING]?: () => void };

/** Called by a command once its run has done representative work; a no-op when nothing listens. */
export function markRunWorthCaching(): void {
  (globalThis as Registry)[WORTH_CACHING]?.();
}

/** The launcher's listener: called (at most once) when the command marks its run. */
export function onRunWorthCaching(listener: () => void): void {
  let called = false;
  (globalThis as Registry)[WORTH_CACHING] = () => {
    if (called) return;
    called = true;
    listener();
  };
}
