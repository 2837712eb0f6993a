import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: MADV_COLD/PAGEOUT leaves a folio alone unless `folio_mapcount(folio) == 1`, as from
 * 6.2 to 6.8 (commit 07e8c82b5eff, "madvise: convert madvise_cold_or_pageout_pte_range() to use
 * folios", turned `page_mapcount(page) != 1` into `folio_mapcount(folio) != 1`): a PTE-mapped
 * large folio mapped whole in the range has a mapcount of its page count, so it is never paged out.
 * Violates: seed 001 (cow.c: "SKIP MADV_PAGEOUT did not work, is swap enabled?" for a PTE-mapped
 * THP); MADV_PAGEOUT must reclaim an exclusive folio the range maps whole.
 * Caught by: divergence (the reference pages the folio out).
 */
export class MadvisePageoutSkipsLargeFolios extends BatchedKernel {
  override readonly name: string = 'madvise-pageout-skips-large-folios';

  override madviseFolioMappedElsewhere(m: Machine, head: Pfn): boolean {
    return this.folioMapcount(m, head) !== 1;
  }
}

export const madvisePageoutSkipsLargeFolios: MutantSpec = defineMutant(MadvisePageoutSkipsLargeFolios, {
  breaks: 'madvise_cold_or_pageout_pte_range() skips a folio unless folio_mapcount() == 1 (6.2-6.8, commit 07e8c82b5eff)',
  violates: 'seed 001: MADV_PAGEOUT of a PTE-mapped THP did nothing (cow.c skipped its swapped-out case)',
  caughtBy: ['divergence'],
});
