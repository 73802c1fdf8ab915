/**
 * Pieces of a write given as several buffers (writev): what is left of them once the kernel took `written`
 * bytes, for a short write to go on from the first byte not taken.
 */
export function partsAfter(parts: readonly Buffer[], written: number): Buffer[] {
  let skip = written;
  let i = 0;
  while (i < parts.length && skip >= parts[i]!.length) skip -= parts[i++]!.length;
  const rest = parts.slice(i);
  if (skip > 0) rest[0] = rest[0]!.subarray(skip);
  return rest;
}
