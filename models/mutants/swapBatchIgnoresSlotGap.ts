import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { SwapPte } from '../machine/pte';
import { pteAt } from '../machine/pgtable';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `swap_pte_batch()` batches every following swap entry, whatever its slot: the batch is
 * then freed as a run of consecutive slots from the first (`free_swap_and_cache_nr()`).
 * Violates: swap_pte_batch()'s contract (mm/internal.h): a batch is consecutive swap offsets
 * (`pte_next_swp_offset()`), so zap drops exactly the counts of the entries it clears.
 * Caught by: the ledger's swap counts (a slot loses a count another entry still holds).
 */
export class SwapBatchIgnoresSlotGap extends BatchedKernel {
  override readonly name: string = 'swap-batch-ignores-slot-gap';

  override swapPteBatch(m: Machine, mm: MmId, v: Vpn, _first: SwapPte, maxNr: number): number {
    let nr = 1;
    while (nr < maxNr && pteAt(m, mm, (v + nr) as Vpn)?.kind === 'swap') nr++;
    return nr;
  }
}

export const swapBatchIgnoresSlotGap: MutantSpec = defineMutant(SwapBatchIgnoresSlotGap, {
  breaks: 'swap_pte_batch() batches swap entries whose slots are not consecutive',
  violates: 'mm/internal.h swap_pte_batch(): a batch is consecutive swap offsets with the same exclusive bit',
  caughtBy: ['swap_count_mismatch', 'kernel_warn', 'stale_read', 'divergence'],
});
