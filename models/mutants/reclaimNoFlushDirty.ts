import type { Machine } from '../machine/state';
import type { TlbUbc } from '../machine/tlbUbc';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `shrink_folio_list()` writes a dirty folio out without `try_to_unmap_flush_dirty()`
 * first: the flush owed for the PTEs it unmapped with TTU_BATCH_FLUSH comes only before the free.
 * Violates: mm/vmscan.c's rule before `pageout()` ("Flush the TLB if a writable entry potentially
 * exists to avoid CPU writes after I/O starts"): a CPU whose TLB still holds the dirty writable
 * translation stores without a page walk, after the copy to swap, and the store is lost.
 * Caught by: the writeback_with_writable_tlb hazard.
 */
export class ReclaimNoFlushDirty extends BatchedKernel {
  override readonly name: string = 'reclaim-no-flush-dirty';

  override tryToUnmapFlushDirty(_m: Machine, _ubc: TlbUbc | null): void {}
}

export const reclaimNoFlushDirty: MutantSpec = defineMutant(ReclaimNoFlushDirty, {
  breaks: 'shrink_folio_list() calls pageout() without try_to_unmap_flush_dirty() first',
  violates: 'mm/vmscan.c: no CPU may hold a writable TLB entry of a page while it is written out (TTU_BATCH_FLUSH)',
  caughtBy: ['writeback_with_writable_tlb', 'stale_read', 'free_with_stale_tlb'],
});
