import type { Machine } from '../machine/state';
import type { GatherBatch } from '../batched/mmuGather';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `__tlb_batch_free_encoded_pages()` caps a chunk at MAX_NR_FOLIOS_PER_FREE slots without
 * the `nr++` that takes a "page + nr_pages" entry whole when its page is the last slot under the
 * cap: the page goes to one `free_pages_and_swap_cache()` call and its nr_pages slot is left to
 * start the next chunk. (The C loop still reads the count just past its chunk, so the refs of
 * that entry come out right; the next chunk then decodes `nr << 2` as a `struct page *`.)
 * Violates: seed 000 (PTE-batched zap, "page + nr_pages" entries) with its follow-up in 6.12's
 * mm/mmu_gather.c ("improve cond_resched() handling with large folios and expensive page freeing"):
 * "make sure we cover page + nr_pages, and don't leave nr_pages behind when capping the number
 * of entries"; docs/kernel-semantics.md §3 `__tlb_batch_free_encoded_pages()`.
 * Caught by: kernel_warn from the gather's memory checks (an nr_pages slot decoded as a page) at
 * the zap or exit that frees a large-folio entry straddling the cap (small geometry: cap 1 slot,
 * so any zapped run of two or more pages of one folio).
 */
export class FreeChunkSplitsNrPages extends BatchedKernel {
  override readonly name: string = 'free-chunk-splits-nr-pages';

  override tlbFreeChunkNr(m: Machine, batch: GatherBatch): number {
    if (this.pagePoisoningOrInitOnFree(m)) return super.tlbFreeChunkNr(m, batch);
    return Math.min(m.geometry.maxNrFoliosPerFree, batch.nr);
  }
}

export const freeChunkSplitsNrPages: MutantSpec = defineMutant(FreeChunkSplitsNrPages, {
  breaks: 'the chunked free of a gather batch cuts a "page + nr_pages" entry at the cap, leaving its nr_pages slot to the next chunk',
  violates: 'seed 000 / 6.12 __tlb_batch_free_encoded_pages(): never leave nr_pages behind when capping a chunk',
  caughtBy: ['kernel_warn'],
});
