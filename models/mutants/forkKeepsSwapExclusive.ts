import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { SwapPte } from '../machine/pte';
import { setPte } from '../machine/pgtable';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: fork copies an exclusive swap entry to the child as it is, without
 * `pte_swp_clear_exclusive()` in the parent and the child (`copy_nonpresent_pte()`).
 * Violates: the cow.c rule for swapped-out pages: after fork the page is shared, so whoever
 * swaps it in first must not map it writable without the COW check — with the bit kept, both
 * map the one swap-cache page exclusive and writable, and a store leaks to the other process.
 * Caught by: the ledger (an exclusive swap entry with two references, a page exclusive and mapped
 * twice) and user-visible memory.
 */
export class ForkKeepsSwapExclusive extends BatchedKernel {
  override readonly name: string = 'fork-keeps-swap-exclusive';

  override copyNonpresentPte(m: Machine, _parent: MmId, child: MmId, v: Vpn, pte: SwapPte): void {
    this.swapDuplicate(m, pte.slot);
    setPte(m, child, v, pte);
  }
}

export const forkKeepsSwapExclusive: MutantSpec = defineMutant(ForkKeepsSwapExclusive, {
  breaks: 'copy_nonpresent_pte() leaves the swap entry exclusive in parent and child',
  violates: 'cow.c (swapped-out pages): a swap entry shared by fork is not exclusive; no leak parent to child',
  caughtBy: ['swap_count_mismatch', 'exclusive_mapped_twice', 'writable_not_exclusive', 'stale_read'],
});
