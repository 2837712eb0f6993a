/**
 * The median of a list (the mean of the middle two for an even count), or null for an empty one.
 * Hand-written: lodash has mean and sum but no median. Used by the kill matrix and the benchmarks.
 */
export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
