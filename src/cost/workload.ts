import type { Geometry } from '../../models/machine/geometry';
import type { Machine, Stats } from '../../models/machine/state';
import type { OpResult } from '../../models/result';
import type { Op } from '../ops/op';

/** The seed discussions a workload can reproduce (docs/seeds.md). */
export const SEEDS = {
  '000': 'mm/memory: optimize unmap/zap with PTE-mapped THP',
  '001': 'madvise: make madvise_cold_or_pageout_pte_range() support large folio',
  '002': 'mm: Defer TLB flush by keeping both src and dst folios at migration (MIGRC)',
  '003': 'x86: mm: free page table pages by RCU instead of semi RCU',
  '004': 'mm/gup: Grab head page refcount once for group of subpages',
} as const;
export type SeedId = keyof typeof SEEDS;

/** A workload's ops: `setup` builds the state and is not measured; `measured` is what the table counts. */
export interface WorkloadOps {
  readonly setup: readonly Op[];
  /** Ends with a drain, so deferred work (RCU table frees, MIGRC's owed flush) is paid inside the measurement. */
  readonly measured: readonly Op[];
}

/** What the measured phase left behind, for a workload to check that it did its job. */
export interface MeasuredRun {
  readonly geometry: Geometry;
  /** One per measured op, in order (a skipped op is a noop). */
  readonly results: readonly OpResult[];
  /** Counter deltas of the measured phase. */
  readonly stats: Stats;
  readonly machine: Machine;
}

/** Did the measured phase do what the workload stands for? A one-line summary, or why not. */
export type Verdict = { readonly ok: true; readonly summary: string } | { readonly ok: false; readonly reason: string };

/**
 * A named cost workload: a fixed op list that stands for one benchmark of a seed discussion.
 * Parametrised by geometry (built for `realistic`: 512 PTEs per table, order-9 PMD folios,
 * 4 CPUs; it also runs on `small`, at that scale).
 */
export interface CostWorkload {
  readonly name: string;
  /** The seed discussion it reproduces; null for a workload of your own (a file given to `mmcheck cost --workload`). */
  readonly seed: SeedId | null;
  /** One line: what the measured phase does. */
  readonly description: string;
  /** The seed's own number this stands for; for your own workload, what its numbers should show. */
  readonly headline: string;
  /** Printed under the table: how to read the counters (e.g. where the reference's per-page work shows). */
  readonly notes: readonly string[];
  build(g: Geometry): WorkloadOps;
  verify(run: MeasuredRun): Verdict;
}

export const pass = (summary: string): Verdict => ({ ok: true, summary });
export const fail = (reason: string): Verdict => ({ ok: false, reason });

/** Results of one kind, narrowed. */
export function resultsOf<K extends OpResult['kind']>(results: readonly OpResult[], kind: K): Extract<OpResult, { kind: K }>[] {
  return results.filter((r): r is Extract<OpResult, { kind: K }> => r.kind === kind);
}
