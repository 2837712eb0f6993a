import type { Profiler } from 'node:inspector';

/** A V8 block-coverage range: [startOffset, endOffset) in the script's source, and how often it ran. */
export type CoverageRange = Profiler.CoverageRange;

/** Every range of one script, from one `Profiler.takePreciseCoverage`, function ranges and block ranges alike. */
export const scriptRanges = (script: Profiler.ScriptCoverage): CoverageRange[] => script.functions.flatMap((f) => f.ranges);

/**
 * How often the code at `offset` ran, as V8 reports it: ranges nest (a block inside its function,
 * a nested function inside its parent), and the innermost range holding the offset carries its
 * count. Among equal ranges the later one is the more specific (V8 lists the function first, then
 * its blocks). An offset no range holds gets 0: it belongs to no function V8 reported, which after
 * a coverage reset means nothing around it ran since.
 */
export function countAt(ranges: readonly CoverageRange[], offset: number): number {
  let best: CoverageRange | null = null;
  for (const r of ranges) {
    if (offset < r.startOffset || offset >= r.endOffset) continue;
    if (best === null || r.endOffset - r.startOffset <= best.endOffset - best.startOffset) best = r;
  }
  return best?.count ?? 0;
}
