import type { Machine } from '../machine/state';
import type { MigrcReleasePoint } from '../tracepoints';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: MIGRC's release point in `do_wp_page()` / `do_huge_pmd_wp_page()` is missing: a write
 * fault makes a migrated page writable (reuse of an exclusive page, or a COW copy) while another
 * CPU may still hold the read-only TLB entry to the source that the skipped flush left behind.
 * The other release points (mprotect, memory pressure, tick) stay.
 * Violates: seed 002 (MIGRC): "give up and flush when a pending folio is write-faulted"; rule R3
 * (docs/kernel-semantics.md §10): never a writable translation to dst while a CPU may still use src.
 * Caught by: the stale_tlb_divergent_write hazard (a store to dst while a CPU caches src for the
 * same address), or the memory oracle (stale_read through the stale entry).
 */
export class MigrcNoGiveupOnWrite extends BatchedKernel {
  override readonly name: string = 'migrc-no-giveup-on-write';

  override migrcGiveUp(m: Machine, why: MigrcReleasePoint): void {
    if (why === 'write fault') return;
    super.migrcGiveUp(m, why);
  }
}

export const migrcNoGiveupOnWrite: MutantSpec = defineMutant(MigrcNoGiveupOnWrite, {
  breaks: 'MIGRC does not flush its pending folios on a write fault',
  violates: 'seed 002: give up the deferral when a pending folio is write-faulted; rule R3',
  caughtBy: ['stale_tlb_divergent_write', 'stale_read'],
});
