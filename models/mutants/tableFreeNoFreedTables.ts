import type { Pfn, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { MmuGather } from '../batched/mmuGather';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `pte_free_tlb()` records the table's range but forgets `tlb->freed_tables = 1`, so the
 * gather's flush (x86 `tlb_flush()` → `flush_tlb_mm_range(..., freed_tables = false)`) is a plain
 * one, which `should_flush_tlb()` does not send to lazy-TLB CPUs.
 * Violates: arch/x86/mm/tlb.c (6.12) `native_flush_tlb_multi()`: "freed_tables" flushes go to
 * every CPU of mm_cpumask, because a lazy CPU still has the mm's CR3 and its paging-structure
 * caches may point to the freed table; the hardware may walk through them speculatively.
 * Caught by: the table_freed_with_cached_pointer hazard, when a CPU that had the mm loaded went
 * lazy (a `tick`) before the table was unlinked and is still lazy when it is freed.
 */
export class TableFreeNoFreedTables extends BatchedKernel {
  override readonly name: string = 'table-free-no-freed-tables';

  override pteFreeTlb(m: Machine, tlb: MmuGather, table: Pfn, addr: Vpn): void {
    this.tlbFlushPmdRange(tlb, addr, 1);
    this.tlbRemoveTable(m, tlb, table);
  }
}

export const tableFreeNoFreedTables: MutantSpec = defineMutant(TableFreeNoFreedTables, {
  breaks: 'a page table freed through the gather without setting freed_tables',
  violates: 'x86 native_flush_tlb_multi(): a table free must reach lazy CPUs, whose paging-structure caches may point to it',
  caughtBy: ['table_freed_with_cached_pointer'],
});
