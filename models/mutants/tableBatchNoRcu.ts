import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { freeTableFrame } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `tlb_remove_table_free()` frees the batch of page tables right after the TLB
 * invalidation (`__tlb_remove_table()` for each) instead of `call_rcu(tlb_remove_table_rcu)`,
 * as if MMU_GATHER_RCU_TABLE_FREE were off while lockless walkers still rely on it.
 * Violates: seed 003: table freeing must wait for lockless walkers — RCU covers both GUP-fast's
 * IRQs-off walk and a `pte_offset_map()` reader's rcu_read_lock() section; kernel-semantics §9
 * (a freed table is unreachable from any IRQs-off walker and any RCU reader).
 * Caught by: the table_freed_under_walker hazard.
 */
export class TableBatchNoRcu extends BatchedKernel {
  override readonly name: string = 'table-batch-no-rcu';

  override tlbRemoveTableFree(m: Machine, tables: readonly Pfn[]): void {
    for (const t of tables) freeTableFrame(m, t);
  }
}

export const tableBatchNoRcu: MutantSpec = defineMutant(TableBatchNoRcu, {
  breaks: 'a batch of page tables freed right after the flush, without an RCU grace period',
  violates: 'seed 003: lockless walkers (GUP-fast, pte_offset_map) need the RCU table free',
  caughtBy: ['table_freed_under_walker'],
});
