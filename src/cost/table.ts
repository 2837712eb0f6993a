import isEqual from 'lodash/isEqual.js';
import pc from 'picocolors';
import type { Stats } from '../../models/machine/state';
import type { OpResult } from '../../models/result';
import type { Measurement } from './measure';
import { COUNTERS } from './stats';
import type { CostWorkload } from './workload';
import { SEEDS } from './workload';

/** kernel / reference as the table prints it: "-" when both are 0, "new" when only the reference is 0. */
export function formatRatio(kernel: number, reference: number): string {
  if (reference === 0) return kernel === 0 ? '-' : 'new';
  const r = kernel / reference;
  if (r === 1) return '1';
  const fixed = r >= 0.01 ? r.toFixed(r >= 10 ? 1 : 3) : r.toPrecision(3);
  if (kernel === 0) return '0';
  const times = r < 1 ? reference / kernel : r;
  const t = times >= 10 ? String(Math.round(times)) : times.toFixed(1);
  return r < 1 ? `${fixed} (1/${t})` : `${fixed} (${t}x)`;
}

/** First measured op whose result differs between the two runs, or null. */
export function firstResultDifference(a: readonly OpResult[], b: readonly OpResult[]): number | null {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (!isEqual(a[i], b[i])) return i;
  return null;
}

/** One counter row of the table, as data (the tests and the bench read these). */
export interface CounterRow {
  readonly key: keyof Stats;
  readonly label: string;
  readonly reference: number;
  readonly kernel: number;
  readonly ratio: string;
}

export function counterRows(reference: Stats, kernel: Stats): CounterRow[] {
  return COUNTERS.map(({ key, label }) => ({ key, label, reference: reference[key], kernel: kernel[key], ratio: formatRatio(kernel[key], reference[key]) }));
}

/**
 * The printed block for one workload: what it is and which seed it reproduces, one row per
 * counter (reference, the kernel, kernel/reference), whether each run did its job, and notes.
 */
export function formatCostTable(w: CostWorkload, reference: Measurement, kernel: Measurement): string[] {
  const head = pc.bold(`${w.name}`) + (w.seed !== null ? `  seed ${w.seed}: ${SEEDS[w.seed]}` : '  (a workload of your own)');
  const lines = [head, `  ${w.description}`, pc.dim(`  ${w.seed !== null ? 'seed headline' : 'headline'}: ${w.headline}`)];
  const kw = Math.max(12, kernel.kernel.length);
  lines.push(`  ${'counter'.padEnd(28)} ${'reference'.padStart(10)} ${kernel.kernel.padStart(kw)}   ${kernel.kernel}/reference`);
  for (const row of counterRows(reference.stats, kernel.stats)) {
    const line = `  ${row.label.padEnd(28)} ${String(row.reference).padStart(10)} ${String(row.kernel).padStart(kw)}   ${row.ratio}`;
    lines.push(row.kernel > row.reference ? pc.yellow(line) : line);
  }
  for (const mm of [reference, kernel]) {
    const v = mm.verdict;
    lines.push(v.ok ? `  ${pc.green('ok')}   ${mm.kernel}: ${v.summary}` : pc.red(`  FAIL ${mm.kernel}: ${v.reason}`));
  }
  const diff = firstResultDifference(reference.results, kernel.results);
  if (diff !== null) lines.push(pc.red(`  op results differ from the reference's at measured op ${diff}`));
  for (const n of w.notes) lines.push(pc.dim(`  note: ${n}`));
  return lines;
}
