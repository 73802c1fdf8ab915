/**
 * MaxStartups (sshd_config(5)): random early drop of new connections while too many are still
 * unauthenticated. With "start:rate:full", a connection arriving when `start` or more are unauthenticated
 * is refused with probability rate/100, rising linearly to 100% at `full` (OpenSSH sshd.c drop_connection).
 * The default is 10:30:100; the value is parsed by the configuration (config/sshdConfigValues.ts).
 */
import { randomInt } from "node:crypto";
import type { MaxStartups } from "../config/sshdConfigValues.js";

export type { MaxStartups };

/** The drop probability in percent when `unauthenticated` connections are in progress. */
export function dropPercent(limits: MaxStartups, unauthenticated: number): number {
  if (unauthenticated < limits.start) return 0;
  if (unauthenticated >= limits.full) return 100;
  // Integer arithmetic as sshd does it, so that the same counts give the same probabilities.
  const span = limits.full - limits.start;
  return Math.floor(((100 - limits.rate) * (unauthenticated - limits.start)) / span) + limits.rate;
}

/** Decide whether to drop a new connection; `random` is for tests (an integer in 0..99). */
export function shouldDrop(
  limits: MaxStartups,
  unauthenticated: number,
  random: () => number = () => randomInt(100),
): boolean {
  const p = dropPercent(limits, unauthenticated);
  if (p === 0) return false;
  if (p >= 100) return true;
  return random() < p;
}

/**
 * Counts the connections that have not authenticated yet, and tracks throttling episodes so that the
 * log says when dropping began and ended (sshd 9.x: "beginning MaxStartups throttling", "exited
 * MaxStartups throttling after ..., N connections dropped").
 */
export class StartupTracker {
  private count = 0;
  private dropped = 0;
  private throttlingSince: number | null = null;

  constructor(
    public limits: MaxStartups,
    private readonly random?: () => number,
  ) {}

  get unauthenticated(): number {
    return this.count;
  }

  /**
   * Called for each accepted connection. Returns null to admit it (the caller must call `finished` once
   * it authenticates or ends), or the connection number for the drop message.
   */
  admit(onThrottleStart: () => void): number | null {
    if (shouldDrop(this.limits, this.count, this.random)) {
      if (this.throttlingSince === null) {
        this.throttlingSince = Date.now();
        this.dropped = 0;
        onThrottleStart();
      }
      this.dropped++;
      return this.count;
    }
    this.count++;
    return null;
  }

  /** Count a connection that was not subject to the drop test (inetd mode). */
  add(): void {
    this.count++;
  }

  /** An admitted connection authenticated or ended. Reports the end of an episode of throttling. */
  finished(onThrottleEnd: (seconds: number, dropped: number) => void): void {
    this.count = Math.max(0, this.count - 1);
    if (this.throttlingSince !== null && this.count < this.limits.start) {
      const seconds = Math.round((Date.now() - this.throttlingSince) / 1000);
      const dropped = this.dropped;
      this.throttlingSince = null;
      this.dropped = 0;
      onThrottleEnd(seconds, dropped);
    }
  }
}
