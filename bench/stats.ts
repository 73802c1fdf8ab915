/**
 * Statistics and number formatting for the benchmark tables: median, min and max of a run series, ratios
 * against a reference system, and units (MB/s with MB = 10^6 bytes, CPU seconds per GiB, KiB, ms).
 */

export interface Summary {
  median: number;
  min: number;
  max: number;
  count: number;
}

/** Median (the mean of the middle two for an even count), min and max; null for no values. */
export function summarize(values: readonly number[]): Summary | null {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return null;
  const sorted = [...finite].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, count: sorted.length };
}

/** A number with about three significant digits: 1234 -> "1234", 12.34 -> "12.3", 0.1234 -> "0.123". */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  const a = Math.abs(n);
  if (a >= 100) return n.toFixed(0);
  if (a >= 10) return n.toFixed(1);
  if (a >= 1) return n.toFixed(2);
  if (a === 0) return "0";
  return n.toFixed(3);
}

/** "median (min-max)", e.g. "412 (398-420)". */
export function formatSummary(s: Summary | null, scale = 1): string {
  if (!s) return "n/a";
  if (s.count === 1) return formatNumber(s.median * scale);
  return `${formatNumber(s.median * scale)} (${formatNumber(s.min * scale)}-${formatNumber(s.max * scale)})`;
}

/** ours / reference as "1.23x"; "n/a" when either is missing or the reference is zero. */
export function formatRatio(ours: number | null | undefined, reference: number | null | undefined): string {
  if (ours == null || reference == null || !Number.isFinite(ours) || !Number.isFinite(reference))
    return "n/a";
  if (reference === 0) return "n/a";
  return `${(ours / reference).toFixed(2)}x`;
}

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

/** MB/s (10^6 bytes per second). */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / seconds / 1e6 : NaN;
}

/** CPU seconds spent per GiB moved. */
export function cpuSecondsPerGiB(cpuSeconds: number, bytes: number): number {
  return bytes > 0 ? cpuSeconds / (bytes / GIB) : NaN;
}
