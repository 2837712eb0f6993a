import type { MmId, Pfn, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioHead } from '../machine/frames';
import { pmdStart } from '../machine/pgtable';
import { mark } from '../machine/marks';
import { ReferenceKernel } from '../reference/ReferenceKernel';
import type { MmuGather } from './mmuGather';
import { adjustedRange, batchNeedsNext, encodedSlots, gatherNeedsFlush, newGather, resetRange } from './mmuGather';

/**
 * The mmu_gather (mm/mmu_gather.c, include/asm-generic/tlb.h, 6.12): pages unmapped by a zap are
 * queued with their references, the TLB is flushed once for the tracked range, and only then
 * are the references dropped — tlb.h's contract "1) unhook page 2) TLB invalidate page 3) free
 * page", batched. Table freeing through the gather lives in tableFree.ts.
 *
 * For simplicity batch pages are not taken from the frame allocator (their GFP_NOWAIT
 * allocation never fails here; MAX_GATHER_BATCH_COUNT is the only limit), there is no nested
 * gather on one mm (`mm_tlb_flush_nested()` never holds: every gather finishes inside its op),
 * and no per-VMA hooks (one VMA per mm; x86 merges VMAs anyway).
 */
export abstract class BatchedGather extends ReferenceKernel {
  /** Mirrors `tlb_table_flush()` (mm/mmu_gather.c); implemented with the table batch in tableFree.ts. */
  abstract tlbTableFlush(m: Machine, tlb: MmuGather): void;

  /**
   * Mirrors `tlb_gather_mmu()` / `tlb_gather_mmu_fullmm()` (mm/mmu_gather.c). Simplified:
   * `inc_tlb_flush_pending()` is not modelled; nothing else can look at the mm during the op.
   */
  tlbGatherMmu(m: Machine, mm: MmId, fullmm: boolean): MmuGather {
    return newGather(m.geometry, mm, fullmm);
  }

  /** Mirrors `tlb_flush_pte_range()` (include/asm-generic/tlb.h): PTEs of [addr, addr+nr) were cleared. */
  tlbFlushPteRange(tlb: MmuGather, addr: number, nr: number): void {
    Object.assign(tlb, adjustedRange(tlb, addr, nr));
    tlb.clearedPtes = true;
  }

  /** Mirrors `tlb_flush_pmd_range()` (include/asm-generic/tlb.h): a PMD entry covering [addr, addr+nr) was cleared. */
  tlbFlushPmdRange(tlb: MmuGather, addr: number, nr: number): void {
    Object.assign(tlb, adjustedRange(tlb, addr, nr));
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
   * Mirrors `tlb_next_batch()` (mm/mmu_gather.c): move `active` to the next batch page, reusing
   * one from an earlier round or "allocating" a new one up to MAX_GATHER_BATCH_COUNT. While rmaps
   * are delayed it refuses to go past the first batch page, because `tlb_flush_rmaps()` only scans
   * `local` and `active`: a delayed entry in any other batch would never get its rmap removed.
   */
  tlbNextBatch(m: Machine, tlb: MmuGather): boolean {
    if (tlb.delayedRmap && tlb.active !== 0) return false;
    if (tlb.active + 1 < tlb.batches.length) {
      tlb.active++;
      return true;
    }
    if (tlb.batchCount === m.geometry.maxGatherBatchCount) return false;
    tlb.batchCount++;
    tlb.batches.push({ entries: [], nr: 0, max: m.geometry.maxGatherBatch });
    tlb.active = tlb.batches.length - 1;
    return true;
  }

  /**
   * Mirrors `__tlb_remove_folio_pages_size()` (mm/mmu_gather.c): queue `nr` consecutive pages of
   * one folio from `page` as one entry (1 slot, or 2 for "page + nr_pages"). Returns true when the
   * gather is full: the caller must flush before queueing anything else. The entry is queued
   * either way; after an append at least two slots stay free or the next batch is taken.
   */
  tlbRemoveFolioPagesSizeRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    // VM_BUG_ON(!tlb->end): the caller records the range (tlb_remove_tlb_entries) first.
    this.warnOn(m, tlb.end === 0, `gathering page ${page} with no range recorded`);
    const batch = tlb.batches[tlb.active];
    if (batch === undefined) throw new Error(`gather has no active batch ${tlb.active}`);
    const slots = encodedSlots(nr);
    // The caller flushes before appending to a full gather; appending anyway writes past the
    // batch page (memory corruption in C), which the model reports instead of growing the array.
    this.warnOn(m, batch.nr + slots > batch.max, `mmu_gather batch overflow: ${slots} slot(s) appended to a batch with ${batch.nr} of ${batch.max} used`);
    batch.entries.push({ page, nrPages: nr, delayRmap });
    batch.nr += slots;
    m.stats.gatherSlots += slots;
    if (delayRmap) tlb.delayedRmap = true;
    if (batchNeedsNext(batch) && !this.tlbNextBatch(m, tlb)) {
      mark(m, 'gather full');
      return true;
    }
    const now = tlb.batches[tlb.active];
    this.warnOn(m, now !== undefined && now.nr > now.max - 1, `gather batch overfilled (${now?.nr} of ${now?.max})`);
    return false;
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
   * Mirrors `tlb_flush()` (include/asm-generic/tlb.h): the whole mm for a fullmm gather, else the
   * tracked range. Simplified: x86's 33-page ceiling that turns a range into a full flush is the
   * machine's business, not the gather's.
   */
  tlbFlush(m: Machine, tlb: MmuGather): void {
    if (tlb.fullmm) this.flushTlbMm(m, tlb.mm);
    else if (tlb.end > tlb.start) this.flushTlbRange(m, tlb.mm, tlb.start, tlb.end);
  }

  /** Mirrors `__tlb_reset_range()` (include/asm-generic/tlb.h). */
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
   * Mirrors `tlb_flush_rmaps()` (mm/mmu_gather.c): after the TLB flush and before the PTL is
   * dropped, remove the rmaps that were delayed (so `folio_mkclean()`, which takes the PTL, cannot
   * miss a dirty TLB entry). Only `local` and `active` can hold them (see tlbNextBatch). Anonymous
   * pages never delay, so in this model it only runs if a variant sets the bit.
   */
  tlbFlushRmaps(m: Machine, tlb: MmuGather): void {
    if (!tlb.delayedRmap) return;
    const scan = tlb.active === 0 ? [0] : [0, tlb.active];
    for (const i of scan) {
      for (const e of tlb.batches[i]?.entries ?? []) if (e.delayRmap) this.folioRemoveRmapPtes(m, e.page, e.nrPages);
    }
    tlb.delayedRmap = false;
  }

  /**
   * Mirrors `tlb_batch_pages_flush()` → `__tlb_batch_free_encoded_pages()` →
   * `free_pages_and_swap_cache()` (mm/mmu_gather.c, mm/swap_state.c): one `folio_put_refs(nr)` per
   * entry — the references the cleared mappings held — then `active` goes back to `local`.
   * Simplified: no MAX_NR_FOLIOS_PER_FREE chunking (it only bounds latency).
   */
  tlbBatchPagesFlush(m: Machine, tlb: MmuGather): void {
    for (const batch of tlb.batches) {
      if (batch.nr === 0) break;
      for (const e of batch.entries) this.folioPutRefs(m, folioHead(m, e.page), e.nrPages);
      batch.entries.length = 0;
      batch.nr = 0;
    }
    tlb.active = 0;
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
   * Mirrors `tlb_finish_mmu()` (mm/mmu_gather.c): flush and free everything, then give the batch
   * pages back. Keeps: nothing gathered survives the op (no delayed rmap, no queued page or table).
   */
  tlbFinishMmu(m: Machine, tlb: MmuGather): void {
    this.tlbFlushMmu(m, tlb);
    tlb.batches.length = 1;
    tlb.batchCount = 0;
    this.warnOn(m, tlb.delayedRmap, 'tlb_finish_mmu with rmaps still delayed');
  }
}
