import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { freeTableFrame } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `retract_page_tables()` and `collapse_pte_mapped_thp()` free the unlinked PTE table at
 * once (`pte_free()`) instead of after a grace period (`pte_free_defer()`), as before 6.6's
 * "mm/khugepaged: retract_page_tables() without mmap or vma lock" series made the walkers lockless.
 * Violates: rule R1 (docs/kernel-semantics.md §10; a page table is freed only once no walker can
 * reach it): a `pte_offset_map()` reader (under rcu_read_lock() only) or a GUP-fast walk (IRQs
 * off) that read the PMD before `pmdp_collapse_flush()` is still on the table when it is freed.
 * Caught by: the walker's use after free when it leaves, or the frame reused as something else.
 */
export class RetractFreesTableNow extends BatchedKernel {
  override readonly name: string = 'retract-frees-table-now';

  override pteFreeDefer(m: Machine, table: Pfn): void {
    freeTableFrame(m, table);
  }
}

export const retractFreesTableNow: MutantSpec = defineMutant(RetractFreesTableNow, {
  breaks: 'khugepaged frees a retracted file page table at once (pte_free()) instead of after an RCU grace period (pte_free_defer())',
  violates: 'rule R1: mm/khugepaged.c retract_page_tables() frees the table with pte_free_defer(), which waits for lockless walkers',
  caughtBy: ['table_freed_under_walker', 'table_freed_with_cached_pointer', 'tlb_use_after_free', 'freed_frame_in_use'],
});
