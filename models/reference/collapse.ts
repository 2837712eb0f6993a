import { folioNrPages } from '../machine/geometry';
import type { MmId, Pfn } from '../machine/ids';
import { pfn as asPfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt, folioHead, frameAt } from '../machine/frames';
import { mmAt, mmapLockOf, pmdAt, pmdLockOf, pmdStart, setPmd, tableEntries } from '../machine/pgtable';
import type { Pte } from '../machine/pte';
import { PTE_NONE } from '../machine/pte';
import { rangeHasFileVma, vmaFileAt } from '../machine/files';
import { lockAcquire, lockRelease } from '../machine/locks';
import { withLock } from '../machine/lockedCall';
import { mark } from '../machine/marks';
import { isZeroPfn } from '../machine/zeroPage';
import type { KernelSteps } from '../machine/tasks';
import { runToEnd } from '../machine/tasks';
import type { OpResult } from '../result';
import { noop } from '../result';
import type { CollapseScan } from './collapseFile';
import { CollapseFilePaths } from './collapseFile';

export type { CollapseScan } from './collapseFile';

/**
 * khugepaged (issue 14): collapsing the small pages of a PMD range of anonymous memory into one
 * new PMD-mapped THP, as `khugepaged_scan_mm_slot()` → `hpage_collapse_scan_pmd()` →
 * `collapse_huge_page()` do it. The path unlinks a live PTE table while GUP-fast may walk it,
 * which is what `tlb_remove_table_sync_one()` and GUP-fast's PMD recheck are for.
 */
export abstract class CollapsePaths extends CollapseFilePaths {
  /** Mirrors khugepaged's scan of one PMD range and `collapse_huge_page()` (mm/khugepaged.c, 6.12), run whole. */
  collapseHugePage(m: Machine, mm: MmId, i: number): OpResult {
    return runToEnd(this.collapseHugePageSteps(m, mm, i));
  }

  /**
   * `collapseHugePage()` with its two preemption points. Mirrors `hpage_collapse_scan_pmd()` (under
   * the mmap read lock and the PTL: is the range worth collapsing?) and `collapse_huge_page()`
   * (mm/khugepaged.c, 6.12): drop `mmap_lock` and allocate the THP, then stop at 'collapse: THP
   * allocated, no lock held' — anything may change the range there, so what the scan saw is only
   * a hint — then take `mmap_lock` for write
   * (faults, slow GUP and `pte_offset_map()` readers of the mm are out — the model's readers hold
   * the read lock and leave first, `mmapWriteLockWaitsForReaders()`), revalidate, then under
   * `pmd_lock()` `pmdp_collapse_flush()`: the PMD is cleared and the range flushed, so no CPU's
   * TLB and no new walk reaches the table. A GUP-fast walk already on it (IRQs off, no lock) is
   * waited for by `tlb_remove_table_sync_one()`; only then does `__collapse_huge_page_isolate()`,
   * under the table's PTL, check each page again — an extra reference (a pin, a GUP-fast grab, a
   * gathered page) fails the collapse and `pmd_populate()` puts the table back. Between the
   * isolation and the copy the path stops at 'collapse: pages isolated, before the copy': it holds
   * `mmap_lock` for write and no spinlock, and what no lock excludes — GUP-fast walks and the
   * hardware on other CPUs — runs there. Then `__collapse_huge_page_copy()` copies each page (none
   * and the zero page read as zeros), clears its PTE in the detached table, drops its rmap and
   * reference (`free_page_and_swap_cache()`), and the new folio is mapped by a PMD leaf, dirty,
   * writable when the VMA is (`maybe_pmd_mkwrite()`), young, PageAnonExclusive.
   * Simplified: khugepaged's swap-in of up to `max_ptes_swap` swap entries
   * (`__collapse_huge_page_swapin()`) is not modelled — a range with a swap or migration entry
   * is left alone; the old table is freed (after a grace period) where the kernel deposits it
   * under the PMD (`pgtable_trans_huge_deposit()`, review row 19: the model has no deposit), so
   * the flush carries freed_tables; folio locks and LRU isolation are not modelled (the runner
   * completes an in-flight migration or reclaim first); the sysfs knobs are at their defaults
   * (`max_ptes_none` = PTRS_PER_PTE - 1, `max_ptes_shared` = PTRS_PER_PTE / 2).
   */
  *collapseHugePageSteps(m: Machine, mm: MmId, i: number): KernelSteps<OpResult> {
    // khugepaged_scan_mm_slot(): a file VMA goes to hpage_collapse_scan_file() (collapseFile.ts).
    if (vmaFileAt(m, mm, pmdStart(m, i)) !== null) return yield* this.khugepagedScanFileSteps(m, mm, i);
    const scan = this.hpageCollapseScanPmd(m, mm, i);
    if (scan !== 'succeed') return noop(`khugepaged: ${scan}`);
    const head = this.allocCollapseFolio(m);
    if (head === null) return noop('khugepaged: alloc_huge_page_fail');
    yield 'collapse: THP allocated, no lock held';
    this.mmapWriteLockWaitsForReaders(m, mm);
    lockAcquire(m, mmapLockOf(mm, 'write'));
    try {
      // What the gap may have changed: the VMA (munmap, mprotect, exit) and the PMD (a fault, a zap, another collapse).
      const vma = this.hugepageVmaRevalidate(m, mm, i);
      const again = vma === 'succeed' ? this.findPmdOrThpOrNone(m, mm, i) : vma;
      const pmd = pmdAt(m, mm, i);
      if (again !== 'succeed' || pmd.kind !== 'table') {
        this.folioPut(m, head);
        return noop(`khugepaged: ${again}`);
      }
      const table = pmd.table;
      withLock(m, pmdLockOf(mm, i), () => this.pmdpCollapseFlush(m, mm, i));
      this.tlbRemoveTableSyncOne(m, [table]);
      const isolated = withLock(m, { kind: 'ptl', table }, () => this.collapseScanEntries(m, tableEntries(m, table)));
      if (isolated !== 'succeed') {
        withLock(m, pmdLockOf(mm, i), () => this.pmdPopulate(m, mm, i, table));
        mark(m, 'collapse put the table back (a page changed after the scan)');
        this.folioPut(m, head);
        return noop(`khugepaged: ${isolated}`);
      }
      yield 'collapse: pages isolated, before the copy';
      this.collapseHugePageCopy(m, mm, table, head);
      withLock(m, pmdLockOf(mm, i), () => {
        this.folioAddAnonRmapPmd(m, head, true, mm); // folio_add_new_anon_rmap(RMAP_EXCLUSIVE)
        setPmd(m, mm, i, { kind: 'leaf', pfn: head, writable: mmAt(m, mm).vmaWritable[pmdStart(m, i)] === true, dirty: true, young: true });
      });
      this.freePteTable(m, table);
      mark(m, 'khugepaged collapsed a PMD range into a THP');
      return { kind: 'done' };
    } finally {
      lockRelease(m, mmapLockOf(mm, 'write'));
    }
  }

  /**
   * Mirrors `hpage_collapse_scan_pmd()` (mm/khugepaged.c, 6.12) with the VMA checks of
   * `hugepage_vma_revalidate()`: a PTE table under the slot, in one anonymous VMA, whose entries
   * pass `collapseScanEntries()`. Changes nothing.
   */
  hpageCollapseScanPmd(m: Machine, mm: MmId, i: number): CollapseScan {
    const vma = this.hugepageVmaRevalidate(m, mm, i);
    if (vma !== 'succeed') return vma;
    const pmd = pmdAt(m, mm, i);
    const found = this.findPmdOrThpOrNone(m, mm, i);
    return found === 'succeed' && pmd.kind === 'table' ? this.collapseScanEntries(m, tableEntries(m, pmd.table)) : found;
  }

  /**
   * Mirrors `find_pmd_or_thp_or_none()` (mm/khugepaged.c, 6.12): 'succeed' when the PMD points to
   * a PTE table; otherwise why not (none, a THP already, a migration entry).
   */
  findPmdOrThpOrNone(m: Machine, mm: MmId, i: number): CollapseScan {
    const pmd = pmdAt(m, mm, i);
    switch (pmd.kind) {
      case 'none':
        return 'pmd_none';
      case 'leaf':
        return 'pmd_mapped';
      case 'migration':
        return 'pmd_null';
      case 'table':
        return 'succeed';
    }
  }

  /**
   * Mirrors `hugepage_vma_revalidate()` (mm/khugepaged.c, 6.12): the PMD range lies in one VMA
   * (`thp_vma_suitable_order()`; the model's VMAs differ by write permission and file), and it is
   * anonymous (`expect_anon`). Simplified: `anon_vma` and the THP sysfs setting are not checked.
   */
  hugepageVmaRevalidate(m: Machine, mm: MmId, i: number): CollapseScan {
    const start = pmdStart(m, i);
    const end = start + m.geometry.ptrsPerPte;
    if (!mmAt(m, mm).alive) return 'pmd_null';
    if (rangeHasFileVma(m, mm, start, end)) return 'page_anon';
    const w = mmAt(m, mm).vmaWritable;
    for (let v = start; v < end; v++) if (w[v] !== w[start]) return 'address_range';
    return 'succeed';
  }

  /**
   * The per-entry tests of `hpage_collapse_scan_pmd()` and `__collapse_huge_page_isolate()`
   * (mm/khugepaged.c, 6.12), with khugepaged's limits: at most `max_ptes_none` none or zero-page
   * entries, no swap or migration entry (see collapseHugePageSteps), anonymous pages only, at
   * most `max_ptes_shared` pages of likely shared folios, every folio's references exactly its
   * mappings (`is_refcount_suitable()`: plus one per page in the swap cache), and at least one
   * writable and one young entry (`SCAN_PAGE_RO`, `SCAN_LACK_REFERENCED_PAGE`). Changes nothing.
   */
  collapseScanEntries(m: Machine, entries: readonly Pte[]): CollapseScan {
    const ppt = m.geometry.ptrsPerPte;
    let noneOrZero = 0;
    let shared = 0;
    let writable = false;
    let referenced = 0;
    for (const e of entries) {
      if (e.kind === 'none' || (e.kind === 'present' && isZeroPfn(m, e.pfn))) {
        if (++noneOrZero > ppt - 1) return 'exceed_none_pte';
        continue;
      }
      if (e.kind !== 'present') return 'exceed_swap_pte';
      const head = folioHead(m, e.pfn);
      const f = folioAt(m, head);
      if (f.mapping !== undefined) return 'page_anon';
      if (this.folioLikelyMappedShared(m, head) && ++shared > ppt / 2) return 'exceed_shared_pte';
      if (!this.isRefcountSuitable(m, head)) return 'page_count';
      if (e.young) referenced++;
      if (e.writable) writable = true;
    }
    if (!writable) return 'page_ro';
    if (referenced === 0) return 'lack_referenced_page';
    return 'succeed';
  }

  /** Mirrors `is_refcount_suitable()` (mm/khugepaged.c, 6.12): no reference beyond the mappings (and the swap cache's). */
  isRefcountSuitable(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    const expected = this.folioMapcount(m, head) + (f.swap !== null ? folioNrPages(f.order) : 0);
    return f.refcount === expected;
  }

  /**
   * Mirrors `__collapse_huge_page_copy()` → `__collapse_huge_page_copy_succeeded()`
   * (mm/khugepaged.c, 6.12): each page is copied into the new folio (`copy_mc_user_highpage()`;
   * none and the zero page give zeros), then its entry in the detached table is cleared, its
   * rmap removed and its reference dropped (`free_page_and_swap_cache()`).
   */
  collapseHugePageCopy(m: Machine, mm: MmId, table: Pfn, head: Pfn): void {
    const entries = tableEntries(m, table);
    entries.forEach((e, k) => {
      const present = e.kind === 'present' && !isZeroPfn(m, e.pfn);
      frameAt(m, asPfn(head + k), '__collapse_huge_page_copy()').content = present ? frameAt(m, e.pfn).content : 0;
    });
    withLock(m, { kind: 'ptl', table }, () => {
      entries.forEach((e, k) => {
        if (e.kind === 'none') return;
        // ptep_clear() on a table no PMD points to: no CPU can hold a translation through it.
        entries[k] = PTE_NONE;
        if (e.kind !== 'present' || isZeroPfn(m, e.pfn)) return;
        this.collapseReleasePage(m, mm, e.pfn);
      });
    });
  }

  /**
   * The per-page end of `__collapse_huge_page_copy_succeeded()` (mm/khugepaged.c, 6.12), once the
   * page's entry is cleared: `folio_remove_rmap_pte()`, then `free_page_and_swap_cache()` (the
   * swap cache is let go if nothing maps the folio, then the PTE's reference is dropped).
   */
  collapseReleasePage(m: Machine, mm: MmId, page: Pfn): void {
    this.folioRemoveRmapPtes(m, page, 1, mm);
    const src = folioHead(m, page);
    this.freeSwapCache(m, src);
    this.folioPut(m, src);
  }

  /**
   * Mirrors `pmd_populate()` (arch/x86/include/asm/pgalloc.h, 6.12) as
   * `collapse_huge_page()` uses it when the isolation fails: the PMD points to the old table
   * again, whose entries were never changed.
   */
  pmdPopulate(m: Machine, mm: MmId, i: number, table: Pfn): void {
    setPmd(m, mm, i, { kind: 'table', table });
  }
}
