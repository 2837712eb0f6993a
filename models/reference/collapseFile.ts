import { folioNrPages } from '../machine/geometry';
import type { MmId, Pfn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt, folioHead, frameAt, OutOfFramesError } from '../machine/frames';
import { mmAt, pmdAt, pmdLockOf, pmdStart, setPmd, setPte, tableEntries } from '../machine/pgtable';
import { PMD_NONE, PTE_NONE } from '../machine/pte';
import { fileAt, fileHasThp, vmaFileAt, vmaRunLength } from '../machine/files';
import { ownPtls } from '../machine/locks';
import { withLock } from '../machine/lockedCall';
import { rmapWalk } from '../machine/rmapWalk';
import { mark } from '../machine/marks';
import type { TlbUbc } from '../machine/tlbUbc';
import type { OpResult } from '../result';
import type { KernelSteps } from '../machine/tasks';
import { runToEnd } from '../machine/tasks';
import { noop } from '../result';
import { WalkerPaths } from './walkers';

/**
 * Why khugepaged did not collapse a PMD range: the kernel's `enum scan_result` (mm/khugepaged.c,
 * 6.12) for the outcomes the model can reach, 'succeed' when it may go on.
 */
export type CollapseScan =
  | 'succeed'
  | 'fail'
  | 'pmd_none'
  | 'pmd_mapped'
  | 'pmd_null'
  | 'address_range'
  | 'vma_check'
  | 'page_anon'
  | 'page_null'
  | 'page_compound'
  | 'pte_mapped_hugepage'
  | 'pte_non_present'
  | 'exceed_none_pte'
  | 'exceed_swap_pte'
  | 'exceed_shared_pte'
  | 'page_count'
  | 'page_ro'
  | 'lack_referenced_page'
  | 'alloc_huge_page_fail';

/**
 * khugepaged on file mappings (issue 14), as 6.12 builds it with CONFIG_READ_ONLY_THP_FOR_FS for
 * a filesystem without large folios (the model's file 0): the small page-cache folios of a
 * PMD-aligned file range are replaced by one PMD-order folio (`collapse_file()`), and the PTE
 * tables that mapped the range are taken out of every mm that maps it suitably
 * (`retract_page_tables()`) and freed after an RCU grace period (`pte_free_defer()`), so that a
 * later fault could map the THP with a PMD. No `mmap_lock` is held: only the i_mmap lock, PMD
 * locks and PTLs, and the folio locks that keep faults off the range — which is why a table may be
 * freed only after every lockless walker (GUP-fast, `pte_offset_map()` readers) has left it.
 * Simplified: one preemption point, between the scan and `collapse_file()` (where no lock is
 * held); `collapse_file()` itself runs whole (the model has no folio locks for faults to wait on),
 * and the runner lets no other task be in flight when it starts or resumes, as for truncate); a file is "open for write" exactly when a
 * live mm maps it MAP_SHARED (the model has no file descriptors; pwrite opens, writes and closes);
 * `filemap_flush()` of a dirty range is not started; the THP is always PTE-mapped (no `do_set_pmd()`).
 */
export abstract class CollapseFilePaths extends WalkerPaths {
  /**
   * Mirrors the file branch of `khugepaged_scan_mm_slot()` (mm/khugepaged.c, 6.12) for PMD slot
   * `i` of `mm`, which lies in a file VMA: `thp_vma_allowable_order()` (the VMA suits a PMD, the
   * file is not open for write: `file_thp_enabled()`), then `hpage_collapse_scan_file()` and
   * `collapse_file()`; when the page cache holds the THP already, `collapse_pte_mapped_thp()`
   * with `install_pmd` false, as khugepaged calls it.
   */
  khugepagedScanFile(m: Machine, mm: MmId, i: number): OpResult {
    return runToEnd(this.khugepagedScanFileSteps(m, mm, i));
  }

  /**
   * `khugepagedScanFile()` with its preemption point: after `hpage_collapse_scan_file()`, which
   * holds only `rcu_read_lock()`, and before `collapse_file()` locks the folios, khugepaged holds
   * no lock ('collapse_file: range scanned, no lock held'): faults, pins, zaps, pwrite, truncate
   * and MAP_SHARED mmaps of the file may all run there, and `collapse_file()` checks each page
   * again (and the file's writers) when it resumes. `collapse_pte_mapped_thp()` runs at once (the
   * kernel retakes `mmap_read_lock()` for it; the model does not stop there).
   */
  *khugepagedScanFileSteps(m: Machine, mm: MmId, i: number): KernelSteps<OpResult> {
    const vf = vmaFileAt(m, mm, pmdStart(m, i));
    if (vf === null || !mmAt(m, mm).alive) return noop('khugepaged: vma_check');
    if (!this.fileThpVmaSuitable(m, mm, i)) return noop('khugepaged: vma_check');
    let r = this.hpageCollapseScanFile(m, vf.file, vf.pgoff);
    if (r === 'succeed') {
      const scanned = this.fileRangeView(m, vf.file, vf.pgoff);
      yield 'collapse_file: range scanned, no lock held';
      // Stryker disable next-line all: tracepoint only (coverage, not behaviour)
      if (this.fileRangeView(m, vf.file, vf.pgoff) !== scanned) mark(m, 'collapse_file found the range changed since its scan');
      r = this.collapseFile(m, vf.file, vf.pgoff);
    } else if (r === 'pte_mapped_hugepage') r = this.collapsePteMappedThp(m, mm, i);
    return r === 'succeed' ? { kind: 'done' } : noop(`khugepaged: ${r}`);
  }

  /** What `hpage_collapse_scan_file()` looked at, as text: each page of the range and its folio's references and dirty bit (for a tracepoint). */
  protected fileRangeView(m: Machine, file: number, start: number): string {
    const cache = fileAt(m, file).cache;
    const view: string[] = [];
    for (let index = start; index < start + m.geometry.ptrsPerPte; index++) {
      const page = cache[index] ?? null;
      const f = page === null ? null : folioAt(m, folioHead(m, page));
      view.push(page === null || f === null ? '-' : `${page}:${f.refcount}:${f.dirty ? 'd' : 'c'}`);
    }
    return view.join(',');
  }

  /**
   * Mirrors `thp_vma_allowable_order()` for a file VMA under CONFIG_READ_ONLY_THP_FOR_FS
   * (mm/huge_memory.c, include/linux/huge_mm.h, 6.12): `file_thp_enabled()` — the file is not open
   * for write — and `thp_vma_suitable_order()`: the PMD range lies in the VMA and its address and
   * file offset agree modulo the PMD size. Simplified: the sysfs setting is 'always'.
   */
  fileThpVmaSuitable(m: Machine, mm: MmId, i: number): boolean {
    const start = pmdStart(m, i);
    const vf = vmaFileAt(m, mm, start);
    const ppt = m.geometry.ptrsPerPte;
    return vf !== null && !this.inodeIsOpenForWrite(m, vf.file) && vf.pgoff % ppt === 0 && vmaRunLength(m, mm, start, ppt) === ppt;
  }

  /**
   * Mirrors `inode_is_open_for_write()` (include/linux/fs.h): in the model, a live mm maps the file
   * MAP_SHARED (a shared mapping keeps the file it was made from, opened read-write).
   */
  inodeIsOpenForWrite(m: Machine, file: number): boolean {
    return m.mms.some((mm) => mm.alive && mm.vmaFile !== undefined && mm.vmaFile.some((vf) => vf !== null && vf.file === file && vf.shared));
  }

  /**
   * Mirrors `hpage_collapse_scan_file()` (mm/khugepaged.c, 6.12) over file pages [start, start +
   * PTRS_PER_PTE): a large folio stops the scan — the THP itself at `start`
   * (`SCAN_PTE_MAPPED_HUGEPAGE`), anything else `SCAN_PAGE_COMPOUND` (a filesystem with large
   * folios never gets here: "khugepaged should compact smaller compound pages"); a folio with a
   * reference beyond the page cache's and its mappings is `SCAN_PAGE_COUNT`; fewer than
   * `PTRS_PER_PTE - max_ptes_none` present pages (at least one at the default) is
   * `SCAN_EXCEED_NONE_PTE`. Changes nothing.
   */
  hpageCollapseScanFile(m: Machine, file: number, start: number): CollapseScan {
    const cache = fileAt(m, file).cache;
    let present = 0;
    for (let index = start; index < start + m.geometry.ptrsPerPte; index++) {
      const page = cache[index] ?? null;
      if (page === null) continue;
      const head = folioHead(m, page);
      const f = folioAt(m, head);
      if (f.order > 0) return f.order === m.geometry.maxFolioOrder && f.mapping?.index === start ? 'pte_mapped_hugepage' : 'page_compound';
      if (f.refcount !== 1 + this.folioMapcount(m, head)) return 'page_count';
      present++;
    }
    return present < 1 ? 'exceed_none_pte' : 'succeed';
  }

  /**
   * Mirrors `collapse_file()` (mm/khugepaged.c, 6.12) for a filesystem without large folios:
   * allocate the THP; for each page of the range, read a missing one in
   * (`page_cache_sync_readahead()`), give up on a dirty folio (`SCAN_FAIL`: "khugepaged only works
   * on read-only fd"), unmap a mapped one from every mm (`try_to_unmap(TTU_BATCH_FLUSH)`: the
   * batched kernel owes the flush), and give up if anything but the page cache holds it
   * (`SCAN_PAGE_COUNT`: the pages stay unmapped, to be faulted in again). Then
   * `try_to_unmap_flush()` — before the copy, so no CPU reads an old page through a stale entry
   * after the collapse — copy each page into the THP, replace the small folios in the page cache
   * by it (`xas_store()`; the cache takes a reference per page, `nr_thps` counts it), remove the
   * page tables that mapped the range (`retractPageTables()`) and free the old folios.
   * Simplified: a file with a dirty folio anywhere is left alone (the kernel checks the range
   * only; the model keeps the rest clean so that `do_dentry_open()`'s truncation of the page cache
   * at the next open for write never meets a dirty page, which the model does not mirror).
   */
  collapseFile(m: Machine, file: number, start: number): CollapseScan {
    const fs = fileAt(m, file);
    const nr = m.geometry.ptrsPerPte;
    if (fs.cache.some((p) => p !== null && folioAt(m, folioHead(m, p)).dirty)) return 'fail';
    // After the loop in the kernel (`inode_is_open_for_write()`, paired with do_dentry_open()'s
    // smp_mb()); in the model nothing runs inside the loop, so checking first is the same.
    if (this.inodeIsOpenForWrite(m, file)) return 'fail';
    const head = this.allocCollapseFolio(m);
    if (head === null) return 'alloc_huge_page_fail';
    const ubc = this.reclaimUnmapBatch(m);
    const old: Pfn[] = [];
    let result: CollapseScan = 'succeed';
    for (let index = start; index < start + nr && result === 'succeed'; index++) {
      let page = fs.cache[index] ?? null;
      if (page === null) {
        const read = this.filemapReadFolio(m, file, index);
        this.folioPut(m, read); // readahead drops its reference once the folio is in the cache
        page = asPfn(read + (index - folioAt(m, read).mapping!.index));
      }
      const src = folioHead(m, page);
      const f = folioAt(m, src);
      if (f.order > 0) result = 'page_compound';
      else if (f.dirty) result = 'fail';
      else {
        if (this.folioMapcount(m, src) > 0) this.tryToUnmapFileFolio(m, src, ubc);
        if (f.refcount !== 1) result = 'page_count';
        else old.push(src);
      }
    }
    this.tryToUnmapFlush(m, ubc);
    if (result !== 'succeed') {
      this.folioPut(m, head);
      return result;
    }
    old.forEach((src, k) => {
      frameAt(m, asPfn(head + k), 'collapse_file()').content = frameAt(m, src).content;
    });
    m.stats.pagesCopied += nr;
    this.filemapReplaceWithThp(m, file, start, head, old);
    this.retractPageTables(m, file, start);
    mark(m, 'khugepaged collapsed a file range into a THP');
    return 'succeed';
  }

  /**
   * Mirrors `alloc_charge_folio()` (mm/khugepaged.c, 6.12): a PMD-order folio, or null when there
   * is no free run for one (`SCAN_ALLOC_HUGE_PAGE_FAIL`).
   */
  allocCollapseFolio(m: Machine): Pfn | null {
    try {
      return this.allocFolio(m, m.geometry.maxFolioOrder);
    } catch (e) {
      if (e instanceof OutOfFramesError) return null;
      throw e;
    }
  }

  /**
   * Mirrors `try_to_unmap()` → `try_to_unmap_one()` (mm/rmap.c, 6.12) for a clean page-cache
   * folio: every PTE mapping it is cleared (`tryToUnmapClearPte()`: flushed at once, or owed
   * through `ubc`), its dirty bit goes to the folio, and the mapping's rmap and reference go.
   */
  tryToUnmapFileFolio(m: Machine, head: Pfn, ubc: TlbUbc | null): void {
    ownPtls(m, () => {
      for (const mp of rmapWalk(m, head)) {
        if (mp.kind !== 'pte') continue;
        const pte = this.tryToUnmapClearPte(m, mp.mm, mp.vpn, ubc);
        if (pte.dirty) this.folioMarkDirty(m, head);
        this.folioRemoveRmapPtes(m, mp.pfn, 1, mp.mm);
        this.folioPut(m, head);
      }
    });
  }

  /**
   * The end of `collapse_file()` (mm/khugepaged.c, 6.12) once the copy is made: the THP becomes
   * the page cache's folio for the range (`folio_mark_uptodate()`, `folio_ref_add(new_folio,
   * HPAGE_PMD_NR - 1)`, `xas_store()`), clean — a non-shmem file is collapsed only clean — and
   * each old folio leaves the cache with its references (`folio->mapping = NULL`,
   * `folio_put_refs()`), which frees it.
   */
  filemapReplaceWithThp(m: Machine, file: number, start: number, head: Pfn, old: readonly Pfn[]): void {
    const fs = fileAt(m, file);
    const nr = folioNrPages(m.geometry.maxFolioOrder);
    const thp = folioAt(m, head);
    thp.mapping = { file, index: start };
    thp.swapbacked = false;
    this.folioRefAdd(m, head, nr - 1);
    for (let k = 0; k < nr; k++) fs.cache[start + k] = asPfn(head + k);
    for (const src of old) {
      delete folioAt(m, src).mapping;
      this.folioPut(m, src);
    }
  }

  /**
   * Mirrors `retract_page_tables()` (mm/khugepaged.c, 6.12): under the i_mmap lock, every VMA of
   * the file that maps page `start` at a PMD-aligned address with the whole PMD range inside it
   * loses its PTE table there, if the PMD points to one: under the PMD lock and the PTL,
   * `pmdp_collapse_flush()` clears the PMD and flushes the range, then `pte_free_defer()` frees
   * the table after a grace period (GUP-fast and `pte_offset_map()` readers may still be on it).
   * A VMA with an `anon_vma` is skipped (a MAP_PRIVATE mapping written to: its table may hold
   * anonymous copies). Simplified: the model has no `anon_vma`; a table that still holds any
   * entry is skipped instead — the file's pages were all unmapped, so only such copies (or their
   * swap or migration entries) can be there.
   */
  retractPageTables(m: Machine, file: number, start: number): void {
    const ppt = m.geometry.ptrsPerPte;
    for (const state of m.mms) {
      if (!state.alive || state.vmaFile === undefined) continue;
      for (let i = 0; i < m.geometry.pmdsPerMm; i++) {
        const v = pmdStart(m, i);
        const vf = vmaFileAt(m, state.id, v);
        if (vf === null || vf.file !== file || vf.pgoff !== start || vmaRunLength(m, state.id, v, ppt) !== ppt) continue;
        const pmd = pmdAt(m, state.id, i);
        if (pmd.kind !== 'table' || this.retractSkipsVma(m, pmd.table)) continue;
        this.retractTable(m, state.id, i, pmd.table);
      }
    }
  }

  /**
   * `retract_page_tables()`'s `if (READ_ONCE(vma->anon_vma)) continue;` (mm/khugepaged.c, 6.12):
   * skip a MAP_PRIVATE VMA written to. Simplified (see `retractPageTables()`): read as "the table
   * still holds an entry".
   */
  retractSkipsVma(m: Machine, table: Pfn): boolean {
    return tableEntries(m, table).some((e) => e.kind !== 'none');
  }

  /**
   * One VMA's part of `retract_page_tables()` and the last step of `collapse_pte_mapped_thp()`
   * (mm/khugepaged.c, 6.12): `pmdp_collapse_flush()` under `pmd_lock()` and the PTL, then
   * `pte_free_defer()`.
   */
  retractTable(m: Machine, mm: MmId, i: number, table: Pfn): void {
    withLock(m, pmdLockOf(mm, i), () => withLock(m, { kind: 'ptl', table }, () => this.pmdpCollapseFlush(m, mm, i)));
    this.pteFreeDefer(m, table);
    mark(m, 'khugepaged retracted a page table of a file THP');
  }

  /**
   * Mirrors `pte_free_defer()` (arch/x86/mm/pgtable.c, 6.12): `call_rcu()` frees the table after a
   * grace period, which GUP-fast's IRQs-off walk and `pte_offset_map()`'s rcu_read_lock() both
   * hold off. Unlike the anonymous collapse, no `tlb_remove_table_sync_one()`: the table holds no
   * entry a walker could grab.
   */
  pteFreeDefer(m: Machine, table: Pfn): void {
    this.freePteTable(m, table);
  }

  /**
   * Mirrors `pmdp_collapse_flush()` (mm/pgtable-generic.c, 6.12; x86 has no override): clear the
   * PMD (`pmdp_huge_get_and_clear()`) and `flush_tlb_range()` the PMD range, so no CPU keeps a
   * translation through the table — nor a paging-structure cache entry for it, since the table
   * is about to be freed (the flush carries freed_tables).
   */
  pmdpCollapseFlush(m: Machine, mm: MmId, i: number): void {
    setPmd(m, mm, i, PMD_NONE);
    this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte, true);
  }

  /**
   * Mirrors `collapse_pte_mapped_thp(mm, addr, install_pmd = false)` (mm/khugepaged.c, 6.12), as
   * khugepaged calls it when the page cache holds the THP already: if every PTE of the range is
   * none or maps the THP's page for its offset, the PTEs are cleared (`ptep_clear()`: "TLB flush
   * can be left until pmdp_collapse_flush() does it" — the folio stays in the page cache, so no
   * page is freed before the flush), their rmaps and references dropped, and the table retracted.
   * A swap, migration or anonymous entry aborts (`SCAN_PTE_NON_PRESENT`, `SCAN_FAIL`); a none PMD
   * needs nothing (`install_pmd` is false).
   */
  collapsePteMappedThp(m: Machine, mm: MmId, i: number): CollapseScan {
    const vf = vmaFileAt(m, mm, pmdStart(m, i));
    const page = vf === null ? null : (fileAt(m, vf.file).cache[vf.pgoff] ?? null);
    if (vf === null || page === null) return 'page_null';
    const head = folioHead(m, page);
    if (folioAt(m, head).order !== m.geometry.maxFolioOrder) return 'page_compound';
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind === 'none') return 'succeed';
    if (pmd.kind !== 'table') return 'pmd_mapped';
    const table = pmd.table;
    const entries = tableEntries(m, table);
    for (const [k, e] of entries.entries()) {
      if (e.kind === 'none') continue;
      if (e.kind !== 'present') return 'pte_non_present';
      if (e.pfn !== head + k) return 'fail';
    }
    const base = pmdStart(m, i);
    let cleared = 0;
    withLock(m, { kind: 'ptl', table }, () => {
      entries.forEach((e, k) => {
        if (e.kind !== 'present') return;
        setPte(m, mm, asVpn(base + k), PTE_NONE); // ptep_clear(): no flush yet
        this.folioRemoveRmapPtes(m, e.pfn, 1, mm);
        cleared++;
      });
    });
    if (cleared > 0) this.folioPutRefs(m, head, cleared);
    this.retractTable(m, mm, i, table);
    return 'succeed';
  }

  /**
   * Mirrors what `do_dentry_open()` (fs/open.c, 6.12) does when a file is opened for write while
   * `filemap_nr_thps()` counts a THP in its page cache ("Huge page cache doesn't support writing
   * yet"): `unmap_mapping_range(mapping, 0, 0, 0)` — the page-cache pages, not MAP_PRIVATE
   * mappings' anonymous copies — then `truncate_inode_pages(mapping, 0)`: every folio leaves the
   * page cache; the file's data stays on the disk (every folio is clean: see `collapseFile()`).
   */
  releaseFileThps(m: Machine, file: number): void {
    if (!fileHasThp(m, file)) return;
    const fs = fileAt(m, file);
    this.unmapMappingPages(m, file);
    for (let index = 0; index < fs.cache.length; index++) {
      const page = fs.cache[index] ?? null;
      if (page !== null) this.filemapRemoveFolio(m, folioHead(m, page));
    }
    mark(m, 'open for write dropped the page cache of a file with a THP');
  }

  /**
   * Mirrors `unmap_mapping_range()` without `even_cows` (mm/memory.c, 6.12): every PTE that maps a
   * page of the file's page cache is zapped (`zap_skip_check_mapping()` keeps anonymous copies).
   */
  unmapMappingPages(m: Machine, file: number): void {
    for (const state of m.mms) {
      if (!state.alive || state.vmaFile === undefined) continue;
      state.vmaFile.forEach((vf, v) => {
        if (vf === null || vf.file !== file) return;
        const pmd = pmdAt(m, state.id, Math.floor(v / m.geometry.ptrsPerPte));
        if (pmd.kind !== 'table') return;
        const e = tableEntries(m, pmd.table)[v % m.geometry.ptrsPerPte];
        if (e === undefined || e.kind !== 'present' || folioAt(m, folioHead(m, e.pfn)).mapping?.file !== file) return;
        this.zapPageRange(m, state.id, asVpn(v), asVpn(v + 1));
      });
    }
  }
}
