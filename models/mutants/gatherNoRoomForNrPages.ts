import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { MmuGather } from '../batched/mmuGather';
import { encodeNrPages, encodePage, encodedSlots } from '../batched/mmuGather';
import { storeSlot } from '../batched/gatherLimits';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `__tlb_remove_folio_pages_size()` keeps the rule `__tlb_remove_page_size()` had before
 * "page + nr_pages" entries — take the next batch only when this one is full (`batch->nr == batch->max`) — after entries
 * became one or two slots, so a 2-slot "page + nr_pages" entry appended when one slot is left
 * writes its nr_pages past the end of the batch page.
 * Violates: seed 000 (PTE-batched zap, "page + nr_pages" entries): "make sure that we can always
 * add another page + nr_pages, requiring two entries instead of only a single one"
 * (`batch->nr >= batch->max - 1`); docs/kernel-semantics.md §3 `__tlb_remove_folio_pages_size()`.
 * Caught by: kernel_warn from the gather's memory checks (a slot stored past the batch's max) at
 * the zap that appends a large-folio run to a batch with one free slot (small geometry: a single
 * page then a run in the 2-slot local batch, or two singles then a run in a 3-slot batch page).
 */
export class GatherNoRoomForNrPages extends BatchedKernel {
  override readonly name: string = 'gather-no-room-for-nr-pages';

  override tlbRemoveFolioPagesSizeRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    const batch = this.activeBatch(tlb);
    storeSlot(m, batch, encodePage(page, nr, delayRmap));
    if (nr > 1) storeSlot(m, batch, encodeNrPages(nr));
    m.stats.gatherSlots += encodedSlots(nr);
    if (delayRmap) tlb.delayedRmap = true;
    return batch.nr >= batch.max && !this.tlbNextBatch(m, tlb);
  }
}

export const gatherNoRoomForNrPages: MutantSpec = defineMutant(GatherNoRoomForNrPages, {
  breaks: 'the gather moves to the next batch only when the batch is full, so a 2-slot entry can overflow it',
  violates: 'seed 000: __tlb_remove_folio_pages_size() keeps two slots free for the next "page + nr_pages" entry',
  caughtBy: ['kernel_warn'],
});
