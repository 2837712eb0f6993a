import { folioNrPages } from '../machine/geometry';
import type { MmId, Pfn } from '../machine/ids';
import { pfn as asPfn } from '../machine/ids';
import type { Folio, Machine } from '../machine/state';
import { allocFolioFrames, folioAt, folioHead, frameAt, freeFolioFrames } from '../machine/frames';
import { mmAt } from '../machine/pgtable';
import { folioTestAnon } from '../machine/files';
import { ModelViolationError } from '../machine/violation';

/** GUP_PIN_COUNTING_BIAS: a pin on a small folio counts this many references. */
export const GUP_PIN_COUNTING_BIAS = 1024;

/**
 * Reference counting and rmap accounting: the struct-page primitives every path uses, in both
 * kernels. Each is one kernel function, so a variant can override exactly the one a patch changes.
 * Counts are unbiased (see Machine). Every call is one atomic update or one rmap call in the cost
 * counters, whatever `nr` is: that is what batching saves.
 */
export abstract class RmapPaths {
  /** Registry name of this kernel. */
  abstract readonly name: string;

  /** Mirrors `VM_WARN_ON()` (include/linux/mmdebug.h): a kernel self-check failed, reported as kernel_warn. */
  warnOn(m: Machine, cond: boolean, message: string): void {
    if (cond) throw new ModelViolationError({ code: 'kernel_warn', step: m.clock.step, message });
  }

  /** Mirrors `folio_alloc()` / `vma_alloc_folio()` (mm/mempolicy.c): a zeroed folio with one reference. */
  allocFolio(m: Machine, order: number): Pfn {
    return allocFolioFrames(m, order);
  }

  /** Mirrors `folio_ref_add()` (include/linux/page_ref.h). */
  folioRefAdd(m: Machine, head: Pfn, nr: number): void {
    const f = folioAt(m, head);
    this.warnOn(m, f.refcount <= 0, `folio_ref_add on folio ${f.id} with refcount ${f.refcount}`);
    f.refcount += nr;
    m.stats.atomicRefUpdates++;
  }

  /** Mirrors `folio_get()` (include/linux/mm.h). */
  folioGet(m: Machine, head: Pfn): void {
    this.folioRefAdd(m, head, 1);
  }

  /** Mirrors `folio_put_refs()` (include/linux/mm.h): drop `nr` references, free at zero. */
  folioPutRefs(m: Machine, head: Pfn, nr: number): void {
    const f = folioAt(m, head);
    this.warnOn(m, f.refcount < nr, `folio_put_refs(${nr}) on folio ${f.id} with refcount ${f.refcount}`);
    f.refcount -= nr;
    m.stats.atomicRefUpdates++;
    if (f.refcount === 0) this.freeFolio(m, head);
  }

  /** Mirrors `folio_put()` (include/linux/mm.h). */
  folioPut(m: Machine, head: Pfn): void {
    this.folioPutRefs(m, head, 1);
  }

  /**
   * Mirrors `__folio_put()` (mm/swap.c): the last reference is gone, the frames go back. On the
   * way, `free_pages_prepare()` → `free_page_is_bad()` (mm/page_alloc.c) reports a page still
   * mapped ("Bad page state: nonzero mapcount"), as it would for an rmap removal that was lost.
   */
  freeFolio(m: Machine, head: Pfn): void {
    const f = folioAt(m, head);
    const mapped = f.largeMapcount !== 0 || f.entireMapcount !== 0 || Array.from({ length: folioNrPages(f.order) }, (_, i) => frameAt(m, asPfn(head + i)).mapcount).some((c) => c !== 0);
    this.warnOn(m, mapped, `bad page state: folio ${f.id} freed with a nonzero mapcount`);
    freeFolioFrames(m, head);
  }

  /** Mirrors `folio_maybe_dma_pinned()` (include/linux/mm.h): exact for large folios, a guess from the refcount for small ones. */
  folioMaybeDmaPinned(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    return f.order > 0 ? f.pincount > 0 : f.refcount >= GUP_PIN_COUNTING_BIAS;
  }

  /**
   * Mirrors `folio_likely_mapped_shared()` (include/linux/mm.h, 6.12): a small folio is shared
   * when mapped more than once; a large one when any page is mapped twice (an entire mapping, or
   * more mappings than pages), else it guesses from the first page's mapcount — the guess the
   * MADV_COLD/PAGEOUT thread discussed: a folio whose first page is unmapped here but mapped by
   * another mm looks exclusive (a false negative).
   */
  folioLikelyMappedShared(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    if (f.order === 0) return frameAt(m, head).mapcount > 1;
    const mapcount = f.largeMapcount;
    if (mapcount <= 1) return false;
    if (f.entireMapcount > 0 || mapcount > folioNrPages(f.order)) return true;
    return frameAt(m, head).mapcount > 1;
  }

  /** Mirrors `folio_mapcount()` (include/linux/mm.h, 6.12): every PTE and PMD mapping of the folio. */
  folioMapcount(m: Machine, head: Pfn): number {
    const f = folioAt(m, head);
    return f.order > 0 ? f.largeMapcount : frameAt(m, head).mapcount;
  }

  /** Mirrors `folio_needs_cow_for_dma()` (include/linux/mm.h): only an mm that ever pinned can have a pinned page. */
  folioNeedsCowForDma(m: Machine, mm: MmId, head: Pfn): boolean {
    return mmAt(m, mm).hasPinned && this.folioMaybeDmaPinned(m, head);
  }

  /**
   * The `_large_mapcount` update of `__folio_add_rmap()` (mm/rmap.c): 6.12 open-codes
   * `atomic_add(nr, &folio->_large_mapcount)`; 6.15 calls `folio_add_return_large_mapcount(folio,
   * diff, vma)` (include/linux/rmap.h), which also keeps the MM_ID slots (reference-6.15 overrides
   * this). `mm` is `vma->vm_mm`, the mm whose page table gains the mappings; a 6.12 kernel ignores it.
   */
  folioAddLargeMapcount(m: Machine, head: Pfn, diff: number, _mm: MmId | undefined): void {
    folioAt(m, head).largeMapcount += diff;
  }

  /**
   * The `_large_mapcount` update of `__folio_remove_rmap()` (mm/rmap.c): 6.12 open-codes
   * `atomic_sub()`; 6.15 calls `folio_sub_return_large_mapcount(folio, diff, vma)`
   * (include/linux/rmap.h), overridden by reference-6.15. `mm` is the mm losing the mappings.
   */
  folioSubLargeMapcount(m: Machine, head: Pfn, diff: number, _mm: MmId | undefined): void {
    folioAt(m, head).largeMapcount -= diff;
  }

  /**
   * Mirrors `folio_add_anon_rmap_ptes()` (mm/rmap.c), including `folio_add_new_anon_rmap()` for
   * PTE mappings: `nr` consecutive pages from `page` gain a PTE mapping; RMAP_EXCLUSIVE marks each
   * page PageAnonExclusive. `mm` (`vma->vm_mm`) is needed by 6.15's MM_ID accounting only.
   */
  folioAddAnonRmapPtes(m: Machine, page: Pfn, nr: number, exclusive: boolean, mm?: MmId): void {
    const head = folioHead(m, page);
    const f = folioAt(m, head);
    m.stats.rmapCalls++;
    for (let i = 0; i < nr; i++) {
      const fr = frameAt(m, asPfn(page + i), 'folio_add_anon_rmap_ptes()');
      this.warnOn(m, fr.head !== head, `rmap batch of ${nr} from ${page} crosses folio ${f.id}`);
      this.warnOn(m, exclusive && fr.mapcount > 0, `exclusive map of page ${page + i} that is already mapped`);
      fr.mapcount++;
      if (exclusive) fr.anonExclusive = true;
    }
    if (f.order > 0) this.folioAddLargeMapcount(m, head, nr, mm);
  }

  /**
   * Mirrors `folio_add_anon_rmap_pmd()` / `folio_add_new_anon_rmap()` for a PMD mapping
   * (mm/rmap.c): exclusivity lives on the head. `mm` as for folioAddAnonRmapPtes.
   */
  folioAddAnonRmapPmd(m: Machine, head: Pfn, exclusive: boolean, mm?: MmId): void {
    const f = folioAt(m, head);
    m.stats.rmapCalls++;
    f.entireMapcount++;
    this.folioAddLargeMapcount(m, head, 1, mm);
    if (exclusive) frameAt(m, head).anonExclusive = true;
  }

  /**
   * Mirrors `folio_remove_rmap_ptes()` (mm/rmap.c): `nr` pages lose a PTE mapping. A large anon
   * folio left partially mapped goes on the deferred split queue (`partially_mapped = nr && mapped`).
   * `mm` (`vma->vm_mm`) is needed by 6.15's MM_ID accounting only.
   */
  folioRemoveRmapPtes(m: Machine, page: Pfn, nr: number, mm?: MmId): void {
    const head = folioHead(m, page);
    const f = folioAt(m, head);
    m.stats.rmapCalls++;
    if (f.order > 0) this.folioSubLargeMapcount(m, head, nr, mm);
    let last = 0;
    for (let i = 0; i < nr; i++) {
      const fr = frameAt(m, asPfn(page + i), 'folio_remove_rmap_ptes()');
      this.warnOn(m, fr.head !== head || fr.mapcount <= 0, `rmap removal of unmapped page ${page + i} (folio ${f.id})`);
      fr.mapcount--;
      if (fr.mapcount === 0) last++;
    }
    // (`partially_mapped && folio_test_anon(folio)`: only an anonymous folio is queued)
    if (f.order > 0 && last > 0 && f.entireMapcount === 0 && folioTestAnon(f) && this.pagesMapped(m, head, f) > 0) {
      this.deferredSplitFolio(m, head);
    }
  }

  /** Mirrors `folio_remove_rmap_pmd()` (mm/rmap.c); `mm` as for folioRemoveRmapPtes. */
  folioRemoveRmapPmd(m: Machine, head: Pfn, mm?: MmId): void {
    const f = folioAt(m, head);
    m.stats.rmapCalls++;
    this.warnOn(m, f.entireMapcount <= 0, `PMD rmap removal of folio ${f.id} that is not PMD-mapped`);
    f.entireMapcount--;
    this.folioSubLargeMapcount(m, head, 1, mm);
    if (f.entireMapcount === 0) {
      const mapped = this.pagesMapped(m, head, f);
      if (mapped > 0 && mapped < folioNrPages(f.order) && folioTestAnon(f)) this.deferredSplitFolio(m, head);
    }
  }

  /** Pages of the folio with at least one PTE mapping (`_nr_pages_mapped` without the entire bit). */
  pagesMapped(m: Machine, head: Pfn, f: Folio): number {
    let n = 0;
    for (let i = 0; i < folioNrPages(f.order); i++) if (frameAt(m, asPfn(head + i)).mapcount > 0) n++;
    return n;
  }

  /** Mirrors `deferred_split_folio()` (mm/huge_memory.c): order-1 folios are never queued. */
  deferredSplitFolio(m: Machine, head: Pfn): void {
    const f = folioAt(m, head);
    if (f.order > 1) f.deferredSplit = true;
  }

  /**
   * Mirrors `folio_try_dup_anon_rmap_ptes()` (include/linux/rmap.h): fork duplicates `nr` PTE
   * mappings of the pages from `page`. Fails (-EBUSY, here `false`) when the folio may be pinned
   * and any of the pages is exclusive: the caller must then copy those pages for the child. On
   * success every page loses PageAnonExclusive and the caller must map them R/O in parent and child.
   * The new mappings are the child's: `dstMm` (6.15 passes `dst_vma`, for the MM_ID accounting).
   */
  folioTryDupAnonRmapPtes(m: Machine, srcMm: MmId, page: Pfn, nr: number, dstMm?: MmId): boolean {
    const head = folioHead(m, page);
    const maybePinned = this.folioNeedsCowForDma(m, srcMm, head);
    if (maybePinned) {
      for (let i = 0; i < nr; i++) if (frameAt(m, asPfn(page + i), 'folio_try_dup_anon_rmap_ptes()').anonExclusive) return false;
    }
    for (let i = 0; i < nr; i++) frameAt(m, asPfn(page + i), 'folio_try_dup_anon_rmap_ptes()').anonExclusive = false;
    this.folioAddAnonRmapPtes(m, page, nr, false, dstMm);
    return true;
  }

  /** Mirrors `folio_try_dup_anon_rmap_pmd()` (include/linux/rmap.h); `dstMm` as for the PTE version. */
  folioTryDupAnonRmapPmd(m: Machine, srcMm: MmId, head: Pfn, dstMm?: MmId): boolean {
    const fr = frameAt(m, head);
    if (fr.anonExclusive && this.folioNeedsCowForDma(m, srcMm, head)) return false;
    fr.anonExclusive = false;
    this.folioAddAnonRmapPmd(m, head, false, dstMm);
    return true;
  }
}
