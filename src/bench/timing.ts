/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

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
