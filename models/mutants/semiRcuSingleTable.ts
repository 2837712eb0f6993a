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
 * Violates: seed 003 ("free page table pages by RCU instead of semi RCU"): the IPI waits for
 * GUP-fast's IRQs-off walk but not for a `pte_offset_map()` reader, which holds only
 * rcu_read_lock() and keeps dereferencing the table after taking the IPI.
 * Caught by: the table_freed_under_walker hazard. (The IPI also ends every in-flight GUP-fast
 * walk at once, where the reference's walk ends only at its walkEnd; in about half of the seeds
 * that divergence shows first. It is not this bug being caught: a correct kernel that sends the
 * IPI *and* frees by RCU diverges the same way, so it is not listed in caughtBy.)
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
  violates: 'seed 003: an IPI does not wait for rcu_read_lock() readers (pte_offset_map)',
  caughtBy: ['table_freed_under_walker'],
});
