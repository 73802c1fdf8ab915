/**
 * Signal names as SSH carries them (RFC 4254 §6.10: without the "SIG" prefix) and their POSIX numbers,
 * for signal requests and exit-signal.
 */
import { constants } from "node:os";

const SIGNALS = constants.signals as unknown as Record<string, number>;

/** The names RFC 4254 §6.10 lists; OpenSSH passes others by the same rule. */
export const SSH_SIGNALS = [
  "ABRT",
  "ALRM",
  "FPE",
  "HUP",
  "ILL",
  "INT",
  "KILL",
  "PIPE",
  "QUIT",
  "SEGV",
  "TERM",
  "USR1",
  "USR2",
] as const;

/** "SIGTERM" or 15 → "TERM"; null for something that is not a signal here. */
export function sshSignalName(signal: string | number): string | null {
  if (typeof signal === "number") {
    const entry = Object.entries(SIGNALS).find(([, n]) => n === signal);
    return entry ? entry[0].slice(3) : null;
  }
  const name = signal.startsWith("SIG") ? signal.slice(3) : signal;
  return `SIG${name}` in SIGNALS ? name : null;
}

/** "TERM" → "SIGTERM", or null if this system has no such signal. */
export function nodeSignal(sshName: string): NodeJS.Signals | null {
  const full = `SIG${sshName}`;
  return full in SIGNALS ? (full as NodeJS.Signals) : null;
}

/** "TERM" → 15, as a shell reports 128 + n for a command killed by a signal. */
export function signalNumber(sshName: string): number | null {
  return SIGNALS[`SIG${sshName}`] ?? null;
}
