/**
 * The V8 options of nsshd's own process, the privilege-separation monitor. It holds a small record per
 * connection, but login bursts (many connections' messages at once) grow V8's young generation to its
 * default 16 MiB halves, and V8 keeps those pages: at 1,000 idle connections the monitor had 40 MiB more
 * than before them, most of it that young generation (bench/README.md, memory). V8 reads its heap sizes when
 * the process starts, so nsshd starts again with them, in the same process (execv through
 * native/nssh-reexec.c: the same pid, descriptors and environment, as sshd re-executes itself), before it
 * reads its configuration. The children get theirs when they are spawned (CHILD_V8_OPTIONS). The same
 * addon marks descriptors nsshd inherited close-on-exec (closeInheritedDescriptorsOnExec).
 */
import { loadNativeAddon } from "../../daemon/loginExec.js";

export const MONITOR_V8_OPTIONS: readonly string[] = ["--max-semi-space-size=1"];

interface ReexecAddon {
  execv(path: string, argv: string[]): never;
  closeOnExecFrom(lowest: number): number;
}

/** The options this process still lacks (one the user gave, with any value, counts as given). */
export function missingMonitorOptions(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? "",
): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map((a) => a.split("=")[0]));
  return MONITOR_V8_OPTIONS.filter((o) => !given.has(o.split("=")[0]));
}

/**
 * Start this program again with the monitor's options; returns only when it does not: the options are
 * already there (null), or the native helper is not built or usable (the reason, for a debug line: nsshd then runs
 * with Node's defaults).
 */
export function reexecWithMonitorOptions(): string | null {
  const missing = missingMonitorOptions();
  if (missing.length === 0) return null;
  const addon = loadNativeAddon<ReexecAddon>("nssh-reexec.node", ["execv"]);
  if (typeof addon === "string") return `${addon}: running with V8's default heap sizes`;
  return addon.execv(process.execPath, [
    process.argv0,
    ...process.execArgv,
    ...missing,
    ...process.argv.slice(1),
  ]);
}

/**
 * Mark every descriptor above stderr close-on-exec, as sshd closes them at its start (closefrom): what
 * started nsshd may have left some open (a job runner's pipe, a terminal's), and each would reach every
 * program a user runs. Node's and libuv's own are close-on-exec already, and the monitor passes a child
 * only what it names. Returns a line for the debug log: how many were marked, or why none could be.
 */
export function closeInheritedDescriptorsOnExec(): string {
  const addon = loadNativeAddon<ReexecAddon>("nssh-reexec.node", ["closeOnExecFrom"]);
  if (typeof addon === "string")
    return `${addon}: descriptors inherited from nsshd's parent reach its programs`;
  const marked = addon.closeOnExecFrom(3);
  return `${marked} inherited descriptor${marked === 1 ? "" : "s"} marked close-on-exec`;
}
