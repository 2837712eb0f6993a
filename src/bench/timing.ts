import { median as medianOrNull } from '../stats/median';
/** Median of a non-empty list (0 for an empty one). */
export const median = (xs: readonly number[]): number => medianOrNull(xs) ?? 0;

/** Wall time of fn in ms. */
export function timeMs(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

/** a/b as the tables print it. */
export function ratio(a: number, b: number): string {
  if (b === 0) return '-';
  const r = a / b;
  return r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

/** Right-aligned columns after a left-aligned first one. */
export function row(first: string, width: number, cols: readonly string[], colWidth = 12): string {
  return `  ${first.padEnd(width)}${cols.map((c) => c.padStart(colWidth)).join('')}`;
}
