import type { Pfn, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { callRcu } from '../machine/rcu';
import { mark } from '../machine/marks';
import type { MmuGather } from './mmuGather';
import { BatchedGather } from './gather';
import { queueTable } from './gatherLimits';

/**
 * Freeing page-table pages through the mmu_gather (MMU_GATHER_TABLE_FREE +
 * MMU_GATHER_RCU_TABLE_FREE, mm/mmu_gather.c) with the seed patch "x86: mm: free page table pages
 * by RCU instead of semi RCU" applied: a batch of tables is freed by an RCU callback, and so is a
 * single table when no batch page can be had — never IPI + immediate free, because an IPI does
 * not wait for a `pte_offset_map()` reader that holds only `rcu_read_lock()`.
 *
 * Keeps: a table is unlinked from its PMD, flushed with freed_tables, and freed only after a
 * grace period, which covers both GUP-fast (IRQs off) and `pte_offset_map()` readers. No
 * `tlb_remove_table_sync_one()` IPI is ever sent (stats.tableSyncIpis stays 0).
 */
export abstract class BatchedTableFree extends BatchedGather {
  /**
   * Mirrors `pte_free_tlb()` (include/asm-generic/tlb.h): record the table's address for the
   * flush (`tlb_flush_pmd_range(addr, PAGE_SIZE)`), set freed_tables so the flush also drops
   * paging-structure caches, and queue the table (`__pte_free_tlb()` → `tlb_remove_table()`).
   */
  pteFreeTlb(m: Machine, tlb: MmuGather, table: Pfn, addr: Vpn): void {
    this.tlbFlushPmdRange(tlb, addr, 1);
    tlb.freedTables = true;
    this.tlbRemoveTable(m, tlb, table);
  }

  /**
   * Mirrors `tlb_remove_table()` (mm/mmu_gather.c): queue the table in the table batch, allocating
   * the batch page on first use; a full batch goes to RCU at once. If the batch page cannot be
   * allocated, invalidate and free this one table on its own.
   */
  tlbRemoveTable(m: Machine, tlb: MmuGather, table: Pfn): void {
    if (tlb.tables === null) {
      // Stryker disable next-line BlockStatement,BooleanLiteral,ConditionalExpression: GFP_NOWAIT may fail or succeed; both paths are correct
      if (!this.tlbTableBatchAlloc(m)) {
        this.tlbTableInvalidate(m, tlb);
        this.tlbRemoveTableOne(m, table);
        return;
      }
      tlb.tables = [];
    }
    queueTable(m, tlb.tables, table);
    // Stryker disable next-line EqualityOperator: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    if (tlb.tables.length === m.geometry.maxTableBatch) this.tlbTableFlush(m, tlb);
  }

  /**
   * Mirrors `tlb_remove_table()`'s batch-page allocation (mm/mmu_gather.c, 6.12),
   * `__get_free_page(GFP_NOWAIT | __GFP_NOWARN)`: it fails when the op sequence says so (a
   * `nowaitFail` op), and then the table is invalidated and freed on its own
   * (`tlb_remove_table_one()`).
   */
  // Stryker disable next-line BlockStatement: GFP_NOWAIT may fail or succeed; both paths are correct
  tlbTableBatchAlloc(m: Machine): boolean {
    // Stryker disable next-line BooleanLiteral,ConditionalExpression: GFP_NOWAIT may fail or succeed; both paths are correct
    if (this.getFreePageNowait(m)) return true;
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    mark(m, 'table batch page allocation failed');
    // Stryker disable next-line BooleanLiteral: GFP_NOWAIT may fail or succeed; both paths are correct
    return false;
  }

  /**
   * Mirrors `tlb_table_invalidate()` (mm/mmu_gather.c): `tlb_needs_table_invalidate()` is true on
   * x86, so the TLB (and paging-structure caches) are flushed before any table goes.
   */
  tlbTableInvalidate(m: Machine, tlb: MmuGather): void {
    this.tlbFlushMmuTlbonly(m, tlb);
  }

  /** Mirrors `tlb_table_flush()` (mm/mmu_gather.c): invalidate, then hand the batch to RCU. */
  override tlbTableFlush(m: Machine, tlb: MmuGather): void {
    if (tlb.tables === null) return;
    const tables = tlb.tables;
    tlb.tables = null;
    this.tlbTableInvalidate(m, tlb);
    this.tlbRemoveTableFree(m, tables);
  }

  /** Mirrors `tlb_remove_table_free()` (mm/mmu_gather.c): `call_rcu(tlb_remove_table_rcu)` for the whole batch. */
  tlbRemoveTableFree(m: Machine, tables: readonly Pfn[]): void {
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    mark(m, 'table batch freed by RCU');
    callRcu(m, { kind: 'freeTables', tables: [...tables] });
  }

  /**
   * Mirrors `tlb_remove_table_one()` (mm/mmu_gather.c) as the seed patch changes it:
   * `__tlb_remove_table_one()` = `call_rcu(__tlb_remove_table_one_rcu)` for the single table. The
   * 6.12 "semi RCU" version (`tlb_remove_table_sync_one()` IPI + immediate free) is a UAF for a
   * `pte_offset_map()` reader, whose rcu_read_lock() does not hold off the IPI.
   */
  tlbRemoveTableOne(m: Machine, table: Pfn): void {
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    mark(m, 'single table freed by RCU');
    callRcu(m, { kind: 'freeTables', tables: [table] });
  }
}
