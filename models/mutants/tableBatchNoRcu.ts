import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { freeTableFrame } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `tlb_remove_table_free()` frees the batch of page tables right after the TLB
 * invalidation (`__tlb_remove_table()` for each) instead of `call_rcu(tlb_remove_table_rcu)`,
 * in a kernel that has PT reclaim (6.14 mm/pt_reclaim.c, which needs MMU_GATHER_RCU_TABLE_FREE).
 * Violates: seed 003: PT reclaim frees an empty PTE table from the DONTNEED zap under the mmap
 * *read* lock, so a `pte_offset_map()` reader (mmap read lock or rmap lock, then only
 * rcu_read_lock() on the table) can be on it; the flush IPI does not wait for such a reader, only
 * a grace period does. (For munmap/exit the same free is correct: the freed_tables IPI waits for
 * GUP-fast, and no RCU-only reader can reach tables `free_pgtables()` frees — that is the
 * registered kernel `batched-no-rcu-table-free`.)
 * Caught by: the table_freed_under_walker hazard, on a reclaimed table under a pte_offset_map() reader.
 */
export class TableBatchNoRcu extends BatchedKernel {
  override readonly name: string = 'table-batch-no-rcu';

  override tlbRemoveTableFree(m: Machine, tables: readonly Pfn[]): void {
    for (const t of tables) freeTableFrame(m, t);
  }
}

export const tableBatchNoRcu: MutantSpec = defineMutant(TableBatchNoRcu, {
  breaks: 'a batch of page tables freed right after the flush, without an RCU grace period, with PT reclaim',
  violates: 'seed 003: PT reclaim runs under the mmap read lock, where an IPI does not wait for a pte_offset_map() reader',
  caughtBy: ['table_freed_under_walker'],
});
