import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt, frameAt } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: MADV_COLD/PAGEOUT decides whether a large folio is shared from its first page's
 * mapcount alone (`folio_estimated_sharers()`), where 6.12's `folio_likely_mapped_shared()` first
 * says "shared" whenever the folio has more mappings than pages. A folio another mm maps whole
 * while this mm maps all but its first page looks exclusive, and is split.
 * Violates: seed 001 ("folio_estimated_sharers(folio) is similarly wrong like page_mapcount() …
 * they miss to detect some cases of sharing of the folio -- false negatives"): madvise must not
 * interfere with other processes' mappings of a folio.
 * Caught by: divergence (the reference leaves the folio whole). Needs a fork, a partial zap and
 * a partial madvise on one large folio.
 */
export class MadviseEstimatesSharers extends BatchedKernel {
  override readonly name: string = 'madvise-estimates-sharers';

  override folioLikelyMappedShared(m: Machine, head: Pfn): boolean {
    // folio_estimated_sharers() = page_mapcount(folio_page(folio, 0)): the first page's PTE
    // mappings plus the folio's PMD mappings.
    return frameAt(m, head).mapcount + folioAt(m, head).entireMapcount > 1;
  }
}

export const madviseEstimatesSharers: MutantSpec = defineMutant(MadviseEstimatesSharers, {
  breaks: "madvise_cold_or_pageout_pte_range() judges a large folio's sharing by its first page's mapcount (folio_estimated_sharers())",
  violates: 'seed 001: false negatives of the sharing test; madvise must not split a folio another process maps',
  caughtBy: ['divergence'],
});
