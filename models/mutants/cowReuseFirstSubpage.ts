import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt, frameAt } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: the COW reuse decision for a large folio is made from the first subpage's PTE mapcount
 * ("estimated sharers": `page_mapcount(folio_page(folio, 0)) == 1`), ignoring PMD mappings of the
 * folio by other mms and references held by GUP.
 * Violates: seed 001 (madvise cold/pageout large folio) — reuse needs "refcount == mapcount and
 * all mappings are mine"; a per-page estimate gives false negatives for sharing. 6.12's
 * `wp_can_reuse_anon_folio()` never reuses a large folio.
 * Caught by: the ledger (an exclusive page mapped twice) or the memory oracle (the other mm reads
 * the write), or the differential check (the reference copies).
 */
export class CowReuseFirstSubpage extends BatchedKernel {
  override readonly name: string = 'cow-reuse-first-subpage';

  override wpCanReuseAnonFolio(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    if (f.order === 0) return super.wpCanReuseAnonFolio(m, head);
    return frameAt(m, head).mapcount <= 1;
  }
}

export const cowReuseFirstSubpage: MutantSpec = defineMutant(CowReuseFirstSubpage, {
  breaks: 'COW reuse of a large folio decided from the first subpage mapcount',
  violates: 'seed 001: reuse needs refcount == mapcount and all mappings mine; 6.12 never reuses large folios',
  caughtBy: ['exclusive_mapped_twice', 'stale_read', 'divergence', 'pinned_not_exclusive'],
});
