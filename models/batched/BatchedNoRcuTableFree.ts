import type { MmId, Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { freeTableFrame } from '../machine/frames';
import type { OpResult } from '../result';
import { ReferenceKernel } from '../reference/ReferenceKernel';
import { BatchedKernel } from './BatchedKernel';

/**
 * The batched kernel on x86 without MMU_GATHER_RCU_TABLE_FREE (6.12 selects it only `if
 * PARAVIRT`): `__pte_free_tlb()` → `paravirt_tlb_remove_table()` → `tlb_remove_page()`, so a
 * table is freed with the gather's pages, right after the flush, with no grace period and no
 * `tlb_remove_table_sync_one()`. Correct, because:
 * - the flush carries `freed_tables`, so `native_flush_tlb_multi()` sends it to every CPU of
 *   mm_cpumask, lazy ones included, and waits for each (arch/x86/mm/tlb.c); a CPU in GUP-fast
 *   has IRQs off and takes it only after the walk's last read of the table;
 * - no RCU-only `pte_offset_map()` reader can be on a table munmap or exit frees:
 *   `free_pgtables()` runs after the VMAs are unlinked from the rmap and, in `exit_mmap()`, under
 *   the mmap write lock (ReferenceKernel.exitMm waits for readers).
 * PT reclaim (6.14 mm/pt_reclaim.c), the path that frees a table under the mmap *read* lock, is
 * not available in this configuration: PT_RECLAIM selects (6.14) or depends on (later)
 * MMU_GATHER_RCU_TABLE_FREE. The model's `freeTable` op then stands for the one remaining way an
 * empty PTE table goes outside munmap/exit, khugepaged's `retract_page_tables()` →
 * `pte_free_defer()` (mm/pgtable-generic.c), which uses `call_rcu()` whatever the configuration.
 * The table batch of the model still collects the tables (the kernel puts them in the page
 * batch); what matters, the order flush → IPI acknowledged → free, is the same.
 */
export class BatchedNoRcuTableFree extends BatchedKernel {
  // Stryker disable next-line StringLiteral: kernel name, identifies the kernel in reports
  override readonly name: string = 'batched-no-rcu-table-free';

  /** Mirrors `tlb_batch_pages_flush()` freeing the table pages queued by `tlb_remove_page()` (mm/mmu_gather.c, 6.12), after the flush. */
  override tlbRemoveTableFree(m: Machine, tables: readonly Pfn[]): void {
    for (const t of tables) freeTableFrame(m, t);
  }

  /**
   * Mirrors x86's `___pte_free_tlb()` → `tlb_remove_page()` with MMU_GATHER_RCU_TABLE_FREE off
   * (arch/x86/mm/pgtable.c, 6.12): without a table batch there is no single-table path either; the
   * table goes with the pages, after the flush `tlbRemoveTable` just did.
   */
  override tlbRemoveTableOne(m: Machine, table: Pfn): void {
    freeTableFrame(m, table);
  }

  /**
   * An empty PTE table freed outside munmap/exit in this configuration: as the reference does it
   * — clear the PMD, flush with freed_tables, `pte_free_defer()` (mm/pgtable-generic.c, 6.12:
   * `call_rcu()`). Simplified: khugepaged's `retract_page_tables()` flushes through
   * `pmdp_collapse_flush()` → `flush_tlb_range()`, which x86 sends *without* freed_tables, so
   * lazy CPUs keep their paging-structure caches there; the model does not follow that path
   * (see docs/fidelity/tlb.md, "open question").
   */
  override reclaimPteTable(m: Machine, mm: MmId, i: number): OpResult {
    // The reference's path, not the batched kernel's gather-based PT reclaim.
    return ReferenceKernel.prototype.reclaimPteTable.call(this, m, mm, i);
  }
}
