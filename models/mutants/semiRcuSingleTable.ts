import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { freeTableFrame } from '../machine/frames';
import { ReferenceKernel } from '../reference/ReferenceKernel';
import type { MutantSpec } from './mutant';

/**
 * Breaks: a single page table is freed "semi RCU" style — `tlb_remove_table_sync_one()` (an IPI
 * to every CPU) and then an immediate free — instead of through RCU.
 * Violates: seed 003 ("free page table pages by RCU instead of semi RCU"): the IPI waits for
 * GUP-fast's IRQs-off walk but not for a `pte_offset_map()` reader, which holds only
 * rcu_read_lock() and keeps dereferencing the table after taking the IPI.
 * Caught by: the table_freed_under_walker hazard.
 */
export class SemiRcuSingleTable extends ReferenceKernel {
  override readonly name: string = 'semi-rcu-single-table';

  override freePteTable(m: Machine, table: Pfn): void {
    this.tlbRemoveTableSyncOne(m);
    freeTableFrame(m, table);
  }
}

export const semiRcuSingleTable: MutantSpec = {
  name: 'semi-rcu-single-table',
  breaks: 'a single page table freed after an IPI instead of an RCU grace period',
  violates: 'seed 003: an IPI does not wait for rcu_read_lock() readers (pte_offset_map)',
  caughtBy: ['table_freed_under_walker'],
  make: () => new SemiRcuSingleTable(),
};
