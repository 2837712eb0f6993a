import type { MmId, Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt, frameAt } from '../machine/frames';
import { Batched615 } from '../v615/Batched615';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: 6.15's large-folio COW reuse (`__wp_can_reuse_large_anon_folio()`, mm/memory.c) with
 * the MM_ID "maybe mapped shared" bit replaced by the estimate it superseded: the first subpage's
 * mapcount (`folio_estimated_sharers()` = `page_mapcount(folio_page(folio, 0))`, the pre-MM_ID
 * `folio_likely_mapped_shared()` guess). The refcount == large mapcount test is kept, so pins and
 * other references still prevent a reuse. After fork and a partial unmap of the first page in
 * one mm, the other mm sees page 0 mapped once and takes the folio for its own.
 * Violates: seed 001 — "folio_estimated_sharers(folio) is similarly wrong like page_mapcount(),
 * as it's essentially a page_mapcount() of the first subpage ... they miss to detect some cases
 * of sharing of the folio -- false negatives"; COW needs an answer without false negatives.
 * Caught by: the ledger (exclusive_mapped_twice), the memory oracle (stale_read: the other mm
 * sees the write), or the differential check against reference-6.15.
 */
export class CowReuseFirstSubpage extends Batched615 {
  override readonly name: string = 'cow-reuse-first-subpage';

  override wpCanReuseLargeAnonFolio(m: Machine, head: Pfn, _mm: MmId): boolean {
    const f = folioAt(m, head);
    if (f.largeMapcount <= 1) return false;
    if (frameAt(m, head).mapcount > 1) return false; // the estimate instead of the MM_ID bit
    return f.largeMapcount === f.refcount;
  }
}

export const cowReuseFirstSubpage: MutantSpec = defineMutant(CowReuseFirstSubpage, {
  breaks: "6.15's large-folio COW reuse with the MM_ID shared bit replaced by the first subpage's mapcount (folio_estimated_sharers)",
  violates: 'seed 001: the first-subpage estimate misses sharing (false negatives) after a partial unmap; COW reuse needs all mappings in this mm',
  caughtBy: ['exclusive_mapped_twice', 'stale_read', 'divergence'],
});
