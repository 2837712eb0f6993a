import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: reclaim discards a lazyfree folio without looking at its dirty bit: the
 * `!folio_test_dirty(folio)` test of `try_to_unmap_one()`'s MADV_FREE branch is gone.
 * Violates: MADV_FREE (mm/rmap.c): a lazyfree page written to after MADV_FREE must not be
 * discarded; the folio is made swap-backed again and kept.
 * Caught by: stale_read (the store after MADV_FREE reads back as zero), or free_with_stale_tlb: the
 * dirty folio, discarded, is freed when reclaim puts it back, before the deferred flush.
 */
export class LazyfreeDiscardsDirty extends BatchedKernel {
  override readonly name: string = 'lazyfree-discards-dirty';

  override lazyfreeCanDiscard(m: Machine, head: Pfn): boolean {
    return folioAt(m, head).refcount === 1 + this.folioMapcount(m, head);
  }
}

export const lazyfreeDiscardsDirty: MutantSpec = defineMutant(LazyfreeDiscardsDirty, {
  breaks: 'try_to_unmap_one() discards a lazyfree folio whether or not it was written to after MADV_FREE',
  violates: 'MADV_FREE: a page written after MADV_FREE keeps its data (the dirty bit decides)',
  caughtBy: ['stale_read', 'divergence', 'free_with_stale_tlb'],
});
