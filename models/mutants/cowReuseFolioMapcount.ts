import type { MmId, Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { Batched615 } from '../v615/Batched615';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: 6.15's large-folio COW reuse (`__wp_can_reuse_large_anon_folio()`, mm/memory.c) without
 * its MM_ID test: a large folio is reused when every reference is a mapping
 * (`folio_large_mapcount() == folio_ref_count()`), without asking whether all those mappings are
 * in this mm (`folio_test_large_maybe_mapped_shared()`). After fork a PTE-mapped large folio is
 * mapped by both mms, with refcount == mapcount.
 * Violates: seed 001 — reuse needs "total_mapcount() == refcount AND I am responsible for all
 * these mappings"; the 6.15 comment: "If all folio references are from mappings, and all mappings
 * are in the page tables of this MM, then this folio is exclusive to this MM".
 * Caught by: the ledger (exclusive_mapped_twice: the reused page is still mapped by the other mm),
 * the memory oracle (stale_read: the other mm sees the write), or the differential check against
 * reference-6.15, which copies.
 */
export class CowReuseFolioMapcount extends Batched615 {
  override readonly name: string = 'cow-reuse-folio-mapcount';

  override wpCanReuseLargeAnonFolio(m: Machine, head: Pfn, _mm: MmId): boolean {
    const f = folioAt(m, head);
    return f.largeMapcount > 1 && f.largeMapcount === f.refcount;
  }
}

export const cowReuseFolioMapcount: MutantSpec = defineMutant(CowReuseFolioMapcount, {
  breaks: "6.15's large-folio COW reuse without the MM_ID maybe-mapped-shared test (refcount == large mapcount only)",
  violates: 'seed 001 and 6.15 __wp_can_reuse_large_anon_folio(): reuse needs refcount == mapcount and all mappings in this mm',
  caughtBy: ['exclusive_mapped_twice', 'stale_read', 'divergence'],
});
