import type { MmId } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { MigrateUbc } from '../batched/migrate';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `set_tlb_ubc_flush_pending()` decides "writable or dirty" from the PTE as it is *after*
 * `ptep_get_and_clear()` (`ptep_get(pvmw.pte)`, now none) instead of the returned `pteval`, so
 * every unmapped entry is filed under `tlb_ubc_ro` and `can_migrc_fail()` never runs: a folio
 * with a writable mapping gets MIGRC's deferred flush. A CPU that cached the writable
 * translation keeps writing into the source after its contents were copied to the destination.
 * Violates: seed 002 (MIGRC): the deferral is only for folios whose mappings were *all*
 * read-only — "migrc cannot work with the folio once it found a writable or dirty mapping of
 * it"; stale read-only entries are harmless because src == dst, a stale writable one is not.
 * Rule R3 (docs/kernel-semantics.md §10).
 * Caught by: the stale_tlb_divergent_write hazard (a store to dst while a CPU caches a writable
 * src for the same address), the memory oracle (stale_read: a store through the stale entry is
 * lost to dst), or the differential check when that lost store is read back through a FOLL_GET
 * reference, which only the differential check compares; or writeback_with_writable_tlb, when
 * reclaim writes the destination out while the stale writable entry is still cached.
 */
export class MigrcDefersWritable extends BatchedKernel {
  override readonly name: string = 'migrc-defers-writable';

  override setTlbUbcFlushPending(m: Machine, batch: MigrateUbc, mm: MmId, _writable: boolean, _dirty: boolean): void {
    super.setTlbUbcFlushPending(m, batch, mm, false, false);
  }
}

export const migrcDefersWritable: MutantSpec = defineMutant(MigrcDefersWritable, {
  breaks: 'MIGRC defers the flush for a folio with a writable mapping (tests the cleared PTE)',
  violates: 'seed 002: only folios whose mappings were all read-only may skip the flush; rule R3',
  caughtBy: ['stale_tlb_divergent_write', 'stale_read', 'divergence', 'writeback_with_writable_tlb'],
});
