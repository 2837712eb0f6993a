import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { freeTableFrame } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: a single page table is freed "semi RCU" style — `tlb_remove_table_sync_one()` (an IPI
 * to every CPU) and then an immediate free — instead of through RCU. This is 6.12's
 * `tlb_remove_table_one()`, the path `tlb_remove_table()` takes when the GFP_NOWAIT table batch
 * page cannot be allocated; here that allocation always fails, so every table takes it.
 * Violates: seed 003 ("free page table pages by RCU instead of semi RCU"): with PT reclaim (6.14,
 * under the mmap read lock) a `pte_offset_map()` reader can be on the table; the IPI waits for
 * GUP-fast's IRQs-off walk but not for that reader, which holds only rcu_read_lock() on the table
 * and keeps dereferencing it after taking the IPI. For munmap/exit tables the semi-RCU free is
 * correct (no RCU-only reader reaches them: exit takes the mmap write lock, `free_pgtables()`
 * unlinks the VMAs first), so only a reclaimed table shows the bug.
 * Caught by: the table_freed_under_walker hazard, on a reclaimed table under a pte_offset_map() reader.
 */
export class SemiRcuSingleTable extends BatchedKernel {
  override readonly name: string = 'semi-rcu-single-table';

  /** The table batch page's `__get_free_page(GFP_NOWAIT)` fails: not the bug, the way onto its path. */
  override tlbTableBatchAlloc(_m: Machine): boolean {
    return false;
  }

  override tlbRemoveTableOne(m: Machine, table: Pfn): void {
    this.tlbRemoveTableSyncOne(m, [table]);
    freeTableFrame(m, table);
  }
}

export const semiRcuSingleTable: MutantSpec = defineMutant(SemiRcuSingleTable, {
  breaks: 'a single page table freed after an IPI instead of an RCU grace period',
  violates: 'seed 003: PT reclaim runs under the mmap read lock, where an IPI does not wait for a pte_offset_map() reader',
  caughtBy: ['table_freed_under_walker'],
});
