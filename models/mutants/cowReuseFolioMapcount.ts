import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: the COW reuse decision for a large folio is made from folio-wide counts only: reuse when
 * every reference is a mapping (`folio_large_mapcount() == folio_ref_count()`), without asking
 * whether all those mappings are in this mm (6.15's MM_ID "maybe mapped shared" test).
 * After fork a PTE-mapped large folio is mapped by both mms, with refcount == mapcount.
 * Violates: seed 001 — reuse needs "refcount == mapcount *and* all mappings are mine"
 * (kernel-semantics §7: "If all folio references are from mappings, and all mappings are in the
 * page tables of this MM, then this folio is exclusive"); 6.12 never reuses a large folio.
 * Caught by: the ledger (exclusive_mapped_twice: the reused page is still mapped by the other mm),
 * the memory oracle (stale_read: the other mm sees the write), or the differential check.
 */
export class CowReuseFolioMapcount extends BatchedKernel {
  override readonly name: string = 'cow-reuse-folio-mapcount';

  override wpCanReuseAnonFolio(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    if (f.order === 0) return super.wpCanReuseAnonFolio(m, head);
    return f.largeMapcount === f.refcount;
  }
}

export const cowReuseFolioMapcount: MutantSpec = defineMutant(CowReuseFolioMapcount, {
  breaks: 'COW reuse of a large folio decided from folio-wide counts (refcount == large mapcount)',
  violates: 'seed 001: reuse needs refcount == mapcount and all mappings mine; 6.12 never reuses large folios',
  caughtBy: ['exclusive_mapped_twice', 'stale_read', 'divergence'],
});
