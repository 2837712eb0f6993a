import type { CpuId, MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { SwapPte } from '../machine/pte';
import type { FaultKind } from '../reference/faults';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `do_swap_page()` treats every swap entry as exclusive (`pte_swp_exclusive()` ignored):
 * a page swapped out while shared with a fork child is mapped writable and exclusive by whoever
 * faults first.
 * Violates: do_swap_page()'s rule for restoring PageAnonExclusive: only an exclusive entry, or a
 * refcount of 1, proves no one else may map the page; the other process then swaps in the same
 * swap-cache page and sees the first one's stores.
 * Caught by: the ledger (a page exclusive and mapped twice, writable and not exclusive) and
 * user-visible memory.
 */
export class SwapinIgnoresExclusiveBit extends BatchedKernel {
  override readonly name: string = 'swapin-ignores-exclusive-bit';

  override doSwapPage(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, orig: SwapPte, kind: FaultKind): void {
    super.doSwapPage(m, cpu, mm, v, { ...orig, exclusive: true }, kind);
  }
}

export const swapinIgnoresExclusiveBit: MutantSpec = defineMutant(SwapinIgnoresExclusiveBit, {
  breaks: 'do_swap_page() maps every swapped-in page exclusive, ignoring pte_swp_exclusive()',
  violates: 'cow.c (swapped-out pages): PageAnonExclusive is restored only from an exclusive entry or a sole reference',
  caughtBy: ['exclusive_mapped_twice', 'writable_not_exclusive', 'stale_read', 'divergence'],
});
