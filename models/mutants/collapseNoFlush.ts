import type { MmId } from '../machine/ids';
import type { Machine } from '../machine/state';
import { setPmd } from '../machine/pgtable';
import { PMD_NONE } from '../machine/pte';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: khugepaged clears the PMD with `pmdp_huge_get_and_clear()` and never flushes the range:
 * `pmdp_collapse_flush()` without its `flush_tlb_range()`.
 * Violates: rule R1 (docs/kernel-semantics.md §10; a page is freed only once no TLB can reach it): CPUs keep translations of
 * the small pages, which the copy frees; a store through one lands in a freed (or reused) page,
 * not in the new THP.
 * Caught by: the free_with_stale_tlb hazard when the copy frees a page a CPU still translates.
 */
export class CollapseNoFlush extends BatchedKernel {
  override readonly name: string = 'collapse-no-flush';

  override pmdpCollapseFlush(m: Machine, mm: MmId, i: number): void {
    setPmd(m, mm, i, PMD_NONE);
  }
}

export const collapseNoFlush: MutantSpec = defineMutant(CollapseNoFlush, {
  breaks: 'collapse clears the PMD without flushing the TLB (pmdp_collapse_flush() without flush_tlb_range())',
  violates: 'rule R1: mm/khugepaged.c collapse_huge_page() flushes the range before the small pages are copied and freed',
  caughtBy: ['free_with_stale_tlb', 'table_freed_with_cached_pointer', 'tlb_use_after_free', 'divergence'],
});
