import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `folio_free_swap()` takes a folio out of the swap cache without asking
 * `folio_swapped()`: swap entries elsewhere (a fork child's) still refer to its slot.
 * Violates: mm/swapfile.c: a swap-cache folio may leave the cache only when no swap PTE refers
 * to its slots; the other process's swap-in then reads the slot's old copy, not the page
 * (stored to since it was swapped in).
 * Caught by: user-visible memory (a stale read), the ledger's swap-cache checks, or — first, most
 * often — free_with_stale_tlb: `swap_writepage()` asks `folio_free_swap()` first, which now drops
 * the swap cache of a folio reclaim just unmapped, so the folio, redirtied and kept, loses its
 * last reference when reclaim puts it back, before the deferred TLB flush.
 */
export class FreeSwapWhileSwapped extends BatchedKernel {
  override readonly name: string = 'free-swap-while-swapped';

  override folioFreeSwap(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    if (f.swap === null) return false;
    this.deleteFromSwapCache(m, head);
    f.dirty = true;
    return true;
  }
}

export const freeSwapWhileSwapped: MutantSpec = defineMutant(FreeSwapWhileSwapped, {
  breaks: 'folio_free_swap() ignores folio_swapped(): the swap cache is dropped while swap entries still refer to it',
  violates: 'mm/swapfile.c: the swap cache goes only with the last swap entry of its slots',
  caughtBy: ['stale_read', 'swap_count_mismatch', 'divergence', 'pin_unreliable', 'free_with_stale_tlb'],
});
