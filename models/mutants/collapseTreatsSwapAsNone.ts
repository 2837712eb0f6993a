import type { Machine } from '../machine/state';
import type { Pte } from '../machine/pte';
import { PTE_NONE } from '../machine/pte';
import type { CollapseScan } from '../reference/collapse';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: khugepaged's scan counts a swap entry as an empty one (`pte_none()`), so a range whose
 * pages are partly swapped out is collapsed without swapping them in.
 * Violates: rule R2 (docs/kernel-semantics.md §10; no data is lost): `hpage_collapse_scan_pmd()` counts swap entries apart
 * (`is_swap_pte()`, up to `max_ptes_swap`) and `__collapse_huge_page_swapin()` reads them in
 * before the copy; taken as none, the swapped-out page becomes a zero page of the THP (and its
 * swap slot is never released).
 * Caught by: the user-memory oracle (stale_read: the page reads 0, not what was stored), the
 * differential, or the swap ledger (swap_count_mismatch: the cleared entry's slot is never freed).
 */
export class CollapseTreatsSwapAsNone extends BatchedKernel {
  override readonly name: string = 'collapse-treats-swap-as-none';

  override collapseScanEntries(m: Machine, entries: readonly Pte[]): CollapseScan {
    return super.collapseScanEntries(m, entries.map((e) => (e.kind === 'swap' ? PTE_NONE : e)));
  }
}

export const collapseTreatsSwapAsNone: MutantSpec = defineMutant(CollapseTreatsSwapAsNone, {
  breaks: 'the collapse scan takes a swap entry for an empty one',
  violates: 'rule R2: mm/khugepaged.c hpage_collapse_scan_pmd() counts is_swap_pte() entries apart and __collapse_huge_page_swapin() reads them in before the copy',
  caughtBy: ['stale_read', 'divergence', 'swap_count_mismatch', 'kernel_warn', 'model_crash'],
});
