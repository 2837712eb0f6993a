import type { MmId, Pfn, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioHead } from '../machine/frames';
import { mmAt, pmdStart } from '../machine/pgtable';
import { mark } from '../machine/marks';
import { ReferenceKernel } from '../reference/ReferenceKernel';
import type { GatherBatch, MmuGather } from './mmuGather';
import { adjustedRange, batchNeedsNext, encodeNrPages, encodePage, encodedSlots, gatherNeedsFlush, hasDelayRmap, hasNrPagesNext, newGather, resetRange } from './mmuGather';
import { addBatchPage, encodedNrPages, encodedPagePtr, loadSlot, storeSlot } from './gatherLimits';

/**
 * The mmu_gather (mm/mmu_gather.c, include/asm-generic/tlb.h, 6.12): pages unmapped by a zap are
 * queued with their references, the TLB is flushed once for the tracked range, and only then
 * are the references dropped — tlb.h's contract "1) unhook page 2) TLB invalidate page 3) free
 * page", batched. Table freeing through the gather lives in tableFree.ts.
 *
 * For simplicity batch pages are not taken from the frame allocator: their GFP_NOWAIT allocation
 * (`getFreePageNowait()`) fails only when the op sequence says so (a `nowaitFail` op), which
 * forces the flush path as an allocation failure does in the kernel. Gathers of one mm nest only
 * when a zap task is preempted inside its window (issue 11, docs/concurrency.md); then
 * `tlb_finish_mmu()` honours `mm_tlb_flush_nested()`. No per-VMA hooks (one VMA per mm; x86
 * merges VMAs anyway).
 */
export abstract class BatchedGather extends ReferenceKernel {
  /** Mirrors `tlb_table_flush()` (mm/mmu_gather.c); implemented with the table batch in tableFree.ts. */
  abstract tlbTableFlush(m: Machine, tlb: MmuGather): void;

  /**
   * Mirrors `tlb_gather_mmu()` / `tlb_gather_mmu_fullmm()` (mm/mmu_gather.c, 6.12): a fresh
   * gather, and `inc_tlb_flush_pending()` — from here until `tlb_finish_mmu()` another CPU that
   * changes this mm's PTEs can tell (`mm_tlb_flush_nested()`) that a flush of it may be owed.
   */
  tlbGatherMmu(m: Machine, mm: MmId, fullmm: boolean): MmuGather {
    mmAt(m, mm).tlbFlushPending++;
    return newGather(m.geometry, mm, fullmm);
  }

  /**
   * Mirrors `mm_tlb_flush_nested()` (include/linux/mm_types.h, 6.12): more than one gather of the
   * mm is live, so another task may have cleared PTEs this one then found none and flushed
   * nothing for, its own flush still owed (only possible while a zap task is preempted).
   */
  mmTlbFlushNested(m: Machine, mm: MmId): boolean {
    return mmAt(m, mm).tlbFlushPending > 1;
  }

  /** Mirrors `tlb_flush_pte_range()` (include/asm-generic/tlb.h): PTEs of [addr, addr+nr) were cleared. */
  tlbFlushPteRange(tlb: MmuGather, addr: number, nr: number): void {
    Object.assign(tlb, adjustedRange(tlb, addr, nr));
    tlb.clearedPtes = true;
  }

  /** Mirrors `tlb_flush_pmd_range()` (include/asm-generic/tlb.h): a PMD entry covering [addr, addr+nr) was cleared. */
  tlbFlushPmdRange(tlb: MmuGather, addr: number, nr: number): void {
    Object.assign(tlb, adjustedRange(tlb, addr, nr));
    // Stryker disable next-line BooleanLiteral: a bit no oracle reads (young, cleared_pmds, private dirty)
    tlb.clearedPmds = true;
  }

  /** Mirrors `tlb_remove_tlb_entries()` (include/asm-generic/tlb.h): record nr cleared PTEs for the coming flush. */
  tlbRemoveTlbEntries(tlb: MmuGather, v: Vpn, nr: number): void {
    this.tlbFlushPteRange(tlb, v, nr);
  }

  /** Mirrors `tlb_remove_pmd_tlb_entry()` (include/asm-generic/tlb.h): the whole PMD range. */
  tlbRemovePmdTlbEntry(m: Machine, tlb: MmuGather, i: number): void {
    this.tlbFlushPmdRange(tlb, pmdStart(m, i), m.geometry.ptrsPerPte);
  }

  /**
   * Mirrors `tlb_next_batch()` (mm/mmu_gather.c, 6.12): move `active` to the next batch page,
   * reusing one from an earlier round or allocating a new one (`__get_free_page(GFP_NOWAIT |
   * __GFP_NOWARN)`) up to MAX_GATHER_BATCH_COUNT; false when it cannot, so
   * `__tlb_remove_folio_pages()` reports the gather full and the caller flushes. While rmaps are
   * delayed it refuses to go past the first batch page, because `tlb_flush_rmaps()` only scans
   * `local` and `active`: a delayed entry in any other batch would never get its rmap removed.
   */
  // Stryker disable next-line BlockStatement: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
  tlbNextBatch(m: Machine, tlb: MmuGather): boolean {
    // (next-batch-ignores-delayed-rmap shows why: tlb_flush_rmaps() would miss the batches between)
    if (tlb.delayedRmap && tlb.active !== 0) return false;
    // Stryker disable next-line BlockStatement: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    if (tlb.active + 1 < tlb.batches.length) {
      tlb.active++;
      // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
      return true;
    }
    // Stryker disable next-line EqualityOperator: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    if (tlb.batchCount === m.geometry.maxGatherBatchCount) return false;
    // Stryker disable next-line BlockStatement,BooleanLiteral,ConditionalExpression: GFP_NOWAIT may fail or succeed; both paths are correct
    if (!this.getFreePageNowait(m)) {
      // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
      mark(m, 'gather batch page allocation failed');
      return false;
    }
    addBatchPage(m, tlb);
    tlb.active = tlb.batches.length - 1;
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    return true;
  }

  /**
   * Mirrors `__get_free_page(GFP_NOWAIT | __GFP_NOWARN)` (mm/page_alloc.c) for the gather's own
   * pages (batch pages, the table batch): false when it fails. A GFP_NOWAIT allocation cannot
   * sleep or reclaim, so it can fail under memory pressure; the model lets the op sequence decide
   * (`m.nowaitFailures`, set by a `nowaitFail` op), and the page does not come from the frames.
   */
  // Stryker disable next-line BlockStatement: GFP_NOWAIT may fail or succeed; both paths are correct
  getFreePageNowait(m: Machine): boolean {
    // Stryker disable next-line BooleanLiteral,ConditionalExpression,EqualityOperator: GFP_NOWAIT may fail or succeed; both paths are correct
    if (m.nowaitFailures <= 0) return true;
    // Stryker disable next-line UpdateOperator: GFP_NOWAIT may fail or succeed; both paths are correct
    m.nowaitFailures--;
    // Stryker disable next-line BooleanLiteral: GFP_NOWAIT may fail or succeed; both paths are correct
    return false;
  }

  /**
   * Mirrors `__tlb_remove_folio_pages_size()` (mm/mmu_gather.c, 6.12): queue `nr` consecutive pages
   * of one folio from `page` as one entry — one slot, or two for "page + nr_pages" (the page with
   * ENCODED_PAGE_BIT_NR_PAGES_NEXT, then `encode_nr_pages(nr)`). Returns true when the gather is
   * full: the caller must flush before queueing anything else. The entry is queued either way;
   * after an append at least two slots stay free ("make sure that we can always add another
   * page + nr_pages") or the next batch is taken, so the next entry is never split or overflows.
   */
  tlbRemoveFolioPagesSizeRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    // VM_BUG_ON(!tlb->end): the caller records the range (tlb_remove_tlb_entries) first.
    // Stryker disable next-line StringLiteral: message text
    this.warnOn(m, tlb.end === 0, `gathering page ${page} with no range recorded`);
    const batch = this.activeBatch(tlb);
    storeSlot(m, batch, encodePage(page, nr, delayRmap));
    if (nr > 1) storeSlot(m, batch, encodeNrPages(nr));
    // Stryker disable next-line AssignmentOperator: cost counter, measured not checked
    m.stats.gatherSlots += encodedSlots(nr);
    if (delayRmap) tlb.delayedRmap = true;
    // Stryker disable next-line LogicalOperator: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    if (batchNeedsNext(batch) && !this.tlbNextBatch(m, tlb)) {
      // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
      mark(m, 'gather full');
      return true;
    }
    const now = this.activeBatch(tlb);
    // VM_BUG_ON_PAGE(batch->nr > batch->max - 1, page)
    // Stryker disable next-line ArithmeticOperator,StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it); message text
    this.warnOn(m, now.nr > now.max - 1, `gather batch overfilled (${now.nr} of ${now.max})`);
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    return false;
  }

  /** `tlb->active`: the batch appends go to (a model accessor, not a kernel function). */
  activeBatch(tlb: MmuGather): GatherBatch {
    const batch = tlb.batches[tlb.active];
    // Stryker disable next-line StringLiteral: the other side is unreachable in the model
    if (batch === undefined) throw new Error(`gather has no active batch ${tlb.active}`);
    return batch;
  }

  /** Mirrors `__tlb_remove_folio_pages()` (mm/mmu_gather.c): PAGE_SIZE pages. */
  tlbRemoveFolioPagesRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    return this.tlbRemoveFolioPagesSizeRaw(m, tlb, page, nr, delayRmap);
  }

  /** Mirrors `__tlb_remove_page_size()` (mm/mmu_gather.c): one page entry, whatever its mapping size. */
  tlbRemovePageSizeRaw(m: Machine, tlb: MmuGather, page: Pfn): boolean {
    return this.tlbRemoveFolioPagesSizeRaw(m, tlb, page, 1, false);
  }

  /** Mirrors `tlb_remove_page_size()` (include/asm-generic/tlb.h): queue, and flush everything if that filled the gather. */
  tlbRemovePageSize(m: Machine, tlb: MmuGather, page: Pfn): void {
    if (this.tlbRemovePageSizeRaw(m, tlb, page)) this.tlbFlushMmu(m, tlb);
  }

  /**
   * Mirrors x86's `tlb_flush()` (arch/x86/include/asm/tlb.h, 6.12): `flush_tlb_mm_range()` of the
   * whole mm for a fullmm gather, else of the tracked range, with `tlb->freed_tables`. Simplified:
   * x86's 33-page ceiling that turns a range into a full flush is the machine's business (row 25).
   */
  tlbFlush(m: Machine, tlb: MmuGather): void {
    if (tlb.fullmm) this.flushTlbMm(m, tlb.mm, tlb.freedTables);
    else if (tlb.end > tlb.start) this.flushTlbRange(m, tlb.mm, tlb.start, tlb.end, tlb.freedTables);
  }

  /** Mirrors `__tlb_reset_range()` (include/asm-generic/tlb.h). */
  // Stryker disable next-line BlockStatement: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
  tlbResetRange(m: Machine, tlb: MmuGather): void {
    Object.assign(tlb, resetRange(m.geometry, tlb));
  }

  /** Mirrors `tlb_flush_mmu_tlbonly()` (include/asm-generic/tlb.h): flush only if something was cleared or freed. */
  tlbFlushMmuTlbonly(m: Machine, tlb: MmuGather): void {
    if (!gatherNeedsFlush(tlb)) return;
    this.tlbFlush(m, tlb);
    this.tlbResetRange(m, tlb);
  }

  /**
   * Mirrors `tlb_flush_rmaps()` → `tlb_flush_rmap_batch()` (mm/mmu_gather.c, 6.12): after the TLB
   * flush and before the PTL is dropped, remove the rmaps that were delayed (so `folio_mkclean()`,
   * which takes the PTL, cannot miss a dirty TLB entry). Only `local` and `active` can hold them
   * (see tlbNextBatch). Only dirty pages of shared file mappings delay (zapPresentFolioPtes).
   */
  tlbFlushRmaps(m: Machine, tlb: MmuGather): void {
    if (!tlb.delayedRmap) return;
    const scan = tlb.active === 0 ? [0] : [0, tlb.active];
    for (const b of scan) {
      const batch = tlb.batches[b];
      if (batch === undefined) continue;
      for (let i = 0; i < batch.nr; i++) {
        const slot = loadSlot(m, batch, i);
        if (!hasDelayRmap(slot)) continue;
        const nrPages = hasNrPagesNext(slot) ? encodedNrPages(m, loadSlot(m, batch, ++i)) : 1;
        this.folioRemoveRmapPtes(m, encodedPagePtr(m, slot), nrPages, tlb.mm);
      }
    }
    tlb.delayedRmap = false;
  }

  /**
   * Mirrors `tlb_batch_pages_flush()` (mm/mmu_gather.c, 6.12): free every batch from `local` on,
   * stopping at the first empty one, then `active` goes back to `local`.
   */
  tlbBatchPagesFlush(m: Machine, tlb: MmuGather): void {
    for (const batch of tlb.batches) {
      if (batch.nr === 0) break;
      this.tlbBatchFreeEncodedPages(m, batch);
    }
    tlb.active = 0;
  }

  /**
   * Mirrors `__tlb_batch_free_encoded_pages()` (mm/mmu_gather.c, 6.12): free one batch in chunks
   * (`tlbFreeChunkNr()` slots each), one `free_pages_and_swap_cache()` per chunk with a
   * `cond_resched()` between them, so freeing a full gather cannot cause a soft lockup. The kernel
   * advances a pointer and decrements `batch->nr`; the model drops the freed prefix, which leaves
   * the same slots pending.
   */
  tlbBatchFreeEncodedPages(m: Machine, batch: GatherBatch): void {
    let chunks = 0;
    while (batch.nr > 0) {
      const nr = this.tlbFreeChunkNr(m, batch);
      // Stryker disable next-line StringLiteral: message text
      this.warnOn(m, nr < 1, `empty free chunk from a batch of ${batch.nr} slots`);
      this.freePagesAndSwapCache(m, batch, nr);
      // An unsigned `batch->nr -= nr` past zero would loop over garbage in C (the checked loads
      // of free_pages_and_swap_cache() normally report the missing slot first).
      // Stryker disable next-line StringLiteral: message text
      this.warnOn(m, nr > batch.nr, `free chunk of ${nr} slots from a batch of ${batch.nr}`);
      batch.slots.splice(0, nr);
      batch.nr -= nr;
      // Stryker disable next-line UpdateOperator: tracepoint only (coverage, not behaviour)
      chunks++;
    }
    batch.slots.length = 0;
    // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: tracepoint only (coverage, not behaviour)
    if (chunks > 1) mark(m, 'gather batch freed in chunks');
  }

  /**
   * Mirrors the chunk size of `__tlb_batch_free_encoded_pages()` (mm/mmu_gather.c, 6.12): how
   * many of the batch's pending slots the next `free_pages_and_swap_cache()` gets. Without page
   * poisoning or init_on_free, freeing costs per folio: `min(MAX_NR_FOLIOS_PER_FREE, nr)` slots,
   * one more when the last one is a page with NR_PAGES_NEXT ("don't leave nr_pages behind when
   * capping the number of entries"). With them, freeing costs per page: whole entries are taken
   * while fewer than MAX_NR_FOLIOS_PER_FREE pages have been counted (the entry that crosses the
   * cap is taken whole, so a chunk may hold more pages than the cap).
   */
  tlbFreeChunkNr(m: Machine, batch: GatherBatch): number {
    const cap = m.geometry.maxNrFoliosPerFree;
    // Stryker disable next-line BlockStatement,BooleanLiteral,ConditionalExpression: a smaller batch or the per-PTE path: any batch size >= 1 is correct
    if (!this.pagePoisoningOrInitOnFree(m)) {
      // Stryker disable next-line MethodExpression: a smaller batch or the per-PTE path: any batch size >= 1 is correct
      let nr = Math.min(cap, batch.nr);
      if (hasNrPagesNext(loadSlot(m, batch, nr - 1))) {
        nr++;
        // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
        mark(m, 'gather free chunk kept an entry with its nr_pages');
      }
      return nr;
    }
    let nr = 0;
    // Stryker disable next-line BlockStatement,ConditionalExpression,EqualityOperator,LogicalOperator,UpdateOperator: the other side is unreachable in the model
    for (let pages = 0; nr < batch.nr && pages < cap; nr++) {
      const slot = loadSlot(m, batch, nr);
      // Stryker disable next-line AssignmentOperator,UpdateOperator: the other side is unreachable in the model
      pages += hasNrPagesNext(slot) ? encodedNrPages(m, loadSlot(m, batch, ++nr)) : 1;
    }
    return nr;
  }

  /**
   * Mirrors `page_poisoning_enabled_static() || want_init_on_free()` (include/linux/mm.h, 6.12):
   * does freeing a page cost time per page (poisoning or zeroing it)? False in the modelled
   * configuration (x86-64 defaults: PAGE_POISONING and INIT_ON_FREE_DEFAULT_ON off); a variant
   * returns true to check the page-counting branch of the free path.
   */
  // Stryker disable next-line BlockStatement: one correct configuration for another
  pagePoisoningOrInitOnFree(_m: Machine): boolean {
    // Stryker disable next-line BooleanLiteral: one correct configuration for another
    return false;
  }

  /**
   * Mirrors `free_pages_and_swap_cache()` (mm/swap_state.c, 6.12): free the first `nr` pending
   * slots of a batch, per entry `free_swap_cache()` and one
   * `folio_put_refs(refs)`, refs being 1 or the entry's nr_pages. Like the C loop (`pages[++i]`), the nr_pages slot of an
   * entry is read even when it lies just past the chunk — it is the caller's job not to cut there.
   */
  freePagesAndSwapCache(m: Machine, batch: GatherBatch, nr: number): void {
    for (let i = 0; i < nr; i++) {
      const slot = loadSlot(m, batch, i);
      const page = encodedPagePtr(m, slot);
      const refs = hasNrPagesNext(slot) ? encodedNrPages(m, loadSlot(m, batch, ++i)) : 1;
      this.freeSwapCache(m, folioHead(m, page));
      this.folioPutRefs(m, folioHead(m, page), refs);
    }
  }

  /** Mirrors `tlb_flush_mmu_free()` (mm/mmu_gather.c): the table batch first, then the pages. */
  tlbFlushMmuFree(m: Machine, tlb: MmuGather): void {
    this.tlbTableFlush(m, tlb);
    this.tlbBatchPagesFlush(m, tlb);
  }

  /** Mirrors `tlb_flush_mmu()` (mm/mmu_gather.c): flush the TLB, then free what was gathered. */
  tlbFlushMmu(m: Machine, tlb: MmuGather): void {
    this.tlbFlushMmuTlbonly(m, tlb);
    this.tlbFlushMmuFree(m, tlb);
  }

  /**
   * Mirrors `tlb_finish_mmu()` (mm/mmu_gather.c, 6.12): when another gather of the mm is live
   * (`mm_tlb_flush_nested()`), this one cannot know what that one cleared and has not flushed
   * yet — a second MADV_DONTNEED of a range finds its PTEs already none and gathers nothing — so
   * it flushes the whole mm: `tlb->fullmm = 1; __tlb_reset_range(tlb); tlb->freed_tables = 1;`
   * (x86's `tlb_flush()` then flushes TLB_FLUSH_ALL). Then flush and free everything, give the
   * batch pages back, and `dec_tlb_flush_pending()`. Keeps: nothing gathered survives
   * (no delayed rmap, no queued page or table).
   */
  tlbFinishMmu(m: Machine, tlb: MmuGather): void {
    if (this.mmTlbFlushNested(m, tlb.mm)) {
      tlb.fullmm = true;
      this.tlbResetRange(m, tlb);
      tlb.freedTables = true;
      // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
      mark(m, 'tlb_finish_mmu flushed the whole mm (nested gathers)');
    }
    this.tlbFlushMmu(m, tlb);
    tlb.batches.length = 1;
    tlb.batchCount = 0;
    // Stryker disable next-line StringLiteral: message text
    this.warnOn(m, tlb.delayedRmap, 'tlb_finish_mmu with rmaps still delayed');
    // Stryker disable next-line UpdateOperator: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    mmAt(m, tlb.mm).tlbFlushPending--;
  }
}
