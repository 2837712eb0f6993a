import { folioNrPages } from '../machine/geometry';
import type { CpuId, MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Cpu, Machine } from '../machine/state';
import { allocTableFrame, folioAt, frameAt } from '../machine/frames';
import { pmdAt, pmdStart, setPmd, tableEntries } from '../machine/pgtable';
import type { FlushInfo } from '../machine/tlb';
import { flushTlbMm, flushTlbPage, flushTlbRange, nativeShouldFlush } from '../machine/tlb';
import { callRcu } from '../machine/rcu';
import type { LeafPmd } from '../machine/pte';
import { PMD_NONE } from '../machine/pte';
import { RmapPaths } from './rmap';

/**
 * Page-table pages and TLB flushing: allocating and splitting tables, flushing translations, and
 * freeing a PTE table only once no walker of either kind can still reach it.
 */
export abstract class PageTablePaths extends RmapPaths {
  /** Mirrors `flush_tlb_page()` (arch/x86/include/asm/tlbflush.h, 6.12). */
  flushTlbPage(m: Machine, mm: MmId, v: Vpn): void {
    this.flushIpiWaitsForIrqsOff(m, flushTlbPage(m, mm, v, this.sendFlushIpi));
  }

  /**
   * Mirrors `flush_tlb_range()` / `flush_tlb_mm_range()` (arch/x86/mm/tlb.c, 6.12): [start, end)
   * in pages; `freedTables` is `flush_tlb_info.freed_tables`, which makes the IPI reach lazy CPUs
   * too (should_flush_tlb()). The IPI is synchronous (on_each_cpu_cond_mask(..., wait=true)).
   */
  flushTlbRange(m: Machine, mm: MmId, start: number, end: number, freedTables = false): void {
    this.flushIpiWaitsForIrqsOff(m, flushTlbRange(m, mm, start, end, freedTables, this.sendFlushIpi));
  }

  /** Mirrors `flush_tlb_mm()` (arch/x86/include/asm/tlbflush.h, 6.12): TLB_FLUSH_ALL, with `freed_tables` as given. */
  flushTlbMm(m: Machine, mm: MmId, freedTables = false): void {
    this.flushIpiWaitsForIrqsOff(m, flushTlbMm(m, mm, freedTables, this.sendFlushIpi));
  }

  /** `shouldFlushTlb` bound to this kernel, as the machine's flush calls it. */
  private readonly sendFlushIpi = (c: Cpu, info: FlushInfo): boolean => this.shouldFlushTlb(c, info);

  /**
   * Mirrors `native_flush_tlb_multi()`'s target test (arch/x86/mm/tlb.c, 6.12): with
   * `freed_tables` every CPU of mm_cpumask (`on_each_cpu_mask()`), lazy ones included, since a
   * lazy CPU still walks the mm's tables speculatively; otherwise `should_flush_tlb()`: not lazy,
   * and the mm loaded.
   */
  shouldFlushTlb(c: Cpu, info: FlushInfo): boolean {
    return nativeShouldFlush(c, info);
  }

  /**
   * A flush IPI sent to `cpus` is taken by a CPU with IRQs off only when its IRQs-off section
   * ends (smp_call_function_many_cond() waits for every target): see WalkerPaths.
   */
  abstract flushIpiWaitsForIrqsOff(m: Machine, cpus: readonly CpuId[]): void;

  /** Mirrors `__pte_alloc()` (mm/memory.c): make PMD slot `i` point to a PTE table, allocating one if it is none. */
  pteAlloc(m: Machine, mm: MmId, i: number): Pfn {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind === 'table') return pmd.table;
    // __pte_alloc() runs only on pmd_none(): never over a leaf or a PMD migration entry.
    this.warnOn(m, pmd.kind !== 'none', `pte_alloc over a ${pmd.kind} PMD (mm ${mm}, pmd ${i})`);
    const table = allocTableFrame(m);
    setPmd(m, mm, i, { kind: 'table', table });
    return table;
  }

  /**
   * Mirrors `__split_huge_pmd()` / `__split_huge_pmd_locked()` (mm/huge_memory.c): replace a PMD
   * leaf by a PTE table mapping the same pages. Each page gains a PTE mapping and inherits the
   * head's PageAnonExclusive; the folio gains nr-1 references (one per PTE instead of one per PMD),
   * nr PTE mappings (`folio_add_anon_rmap_ptes()`) and then loses the PMD one
   * (`folio_remove_rmap_pmd()`), in the kernel's order, all of them this mm's (6.15's MM_ID slots).
   * Simplified (row 19): the table is allocated here instead of withdrawn from the deposit
   * (`pgtable_trans_huge_withdraw()`; the model deposits none when a THP is mapped or copied, and
   * `zap_deposited_table()` has nothing to free), and `pmdp_invalidate()` leaves none rather than
   * an invalid leaf; no op boundary sees either difference (properties/lowRows.test.ts).
   */
  splitHugePmd(m: Machine, mm: MmId, i: number): void {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'leaf') return;
    const head = pmd.pfn;
    const folio = folioAt(m, head);
    const nr = folioNrPages(folio.order);
    const exclusive = frameAt(m, head).anonExclusive;
    // The PMD is made non-present and flushed before the PTEs appear.
    this.pmdpInvalidate(m, mm, i);
    const table = allocTableFrame(m);
    const entries = tableEntries(m, table);
    for (let k = 0; k < nr; k++) {
      entries[k] = { kind: 'present', pfn: asPfn(head + k), writable: pmd.writable, dirty: pmd.dirty, young: pmd.young };
      const fr = frameAt(m, asPfn(head + k), '__split_huge_pmd_locked()');
      fr.mapcount++;
      fr.anonExclusive = exclusive;
    }
    // folio_add_anon_rmap_ptes(nr) before folio_remove_rmap_pmd(), as the kernel orders them; the
    // per-page counts and flags are set above, the folio-wide ones here.
    this.folioAddLargeMapcount(m, head, nr, mm);
    folio.entireMapcount--;
    this.folioSubLargeMapcount(m, head, 1, mm);
    folio.refcount += nr - 1;
    m.stats.atomicRefUpdates++;
    setPmd(m, mm, i, { kind: 'table', table });
  }


  /**
   * Mirrors `pmdp_invalidate()` (mm/pgtable-generic.c, 6.12): make a PMD leaf non-present and
   * `flush_pmd_tlb_range()` its whole range at once on every CPU in mm_cpumask; returns the old
   * leaf. The invalid entry is written as none (row 19): the caller replaces it before anything
   * else runs.
   */
  pmdpInvalidate(m: Machine, mm: MmId, i: number): LeafPmd {
    const pmd = pmdAt(m, mm, i);
    // VM_WARN_ON_ONCE(!pmd_present()): callers hold the PMD lock over a leaf they just found.
    if (pmd.kind !== 'leaf') throw new Error(`pmdp_invalidate on a ${pmd.kind} PMD (mm ${mm}, pmd ${i})`);
    setPmd(m, mm, i, PMD_NONE);
    this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte);
    return pmd;
  }

  /**
   * Mirrors `pte_free_defer()` (mm/pgtable-generic.c): free an unlinked PTE table once no lockless
   * walker can reach it. The reference waits for an
   * RCU grace period, which (since the RCU flavour consolidation) covers both GUP-fast's
   * IRQs-off walk and pte_offset_map()'s rcu_read_lock() section: the end state of
   * "free page table pages by RCU instead of semi RCU".
   */
  freePteTable(m: Machine, table: Pfn): void {
    callRcu(m, { kind: 'freeTables', tables: [table] });
  }

  /** Virtual page range [start, start+nr) clipped to the mm. */
  clipRange(m: Machine, start: number, nr: number): { start: Vpn; end: Vpn } {
    const top = m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
    const s = Math.max(0, Math.min(start, top));
    return { start: asVpn(s), end: asVpn(Math.max(s, Math.min(top, start + nr))) };
  }
}
