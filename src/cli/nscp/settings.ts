/**
 * What every part of nscp shares: the settings its flags give, and the run's failure state (scp(1) exits 1
 * when any file failed, after going on with the rest).
 */
import { ProgressMeter } from "../transferProgress.js";

export interface Settings {
  recursive: boolean;
  preserve: boolean;
  quiet: boolean;
  legacy: boolean;
  through3: boolean;
  direct: boolean;
  verbose: boolean;
  requests?: number;
  blockSize?: number;
  limitKbps?: number;
  /** Flags to repeat on a remote scp for -R (direct remote-to-remote). */
  remoteFlags: string[];
}

let failed = false;

/** Note a failure without a message (the message came from elsewhere, e.g. the remote end). */
export function markFailed(): void {
  failed = true;
}

/** Print a message for a failure on stderr and go on. */
export function warn(message: string): void {
  failed = true;
  process.stderr.write(`${message}\n`);
}

/** Whether anything has failed so far. */
export function anyFailed(): boolean {
  return failed;
}

/** A progress meter per file on stdout, silent with -q. */
export function meterFor(
  s: Settings,
): (name: string, size: number) => { update(n: number): void; finish(): void } {
  return (name, size) => new ProgressMeter(name, size, process.stdout, { quiet: s.quiet });
}

/** Quote one word for the remote shell (scp.c uses the same single-quote scheme). */
export function shellQuote(w: string): string {
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

/** A remote operand's path, "." for `host:` (the login directory). */
export function remotePathOrHome(p: string): string {
  return p === "" ? "." : p;
}
