import type { MmId, Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioHead } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: after the copy, khugepaged drops each small page's reference but not its rmap
 * (`folio_remove_rmap_pte()` forgotten in `__collapse_huge_page_copy_succeeded()`).
 * Violates: the mapcount invariant (a folio's mapcount is the number of entries mapping it): the
 * old page still counts a mapping no table holds; freed with it, it is a "bad page state", and
 * kept alive by another mapping (fork) it looks shared forever.
 * Caught by: the ledger (mapcount_mismatch) or the free-time check (kernel_warn).
 */
export class CollapseKeepsOldRmap extends BatchedKernel {
  override readonly name: string = 'collapse-keeps-old-rmap';

  override collapseReleasePage(m: Machine, _mm: MmId, page: Pfn): void {
    const src = folioHead(m, page);
    this.freeSwapCache(m, src);
    this.folioPut(m, src);
  }
}

export const collapseKeepsOldRmap: MutantSpec = defineMutant(CollapseKeepsOldRmap, {
  breaks: "collapse drops each old page's reference but not its rmap",
  violates: 'mm/khugepaged.c __collapse_huge_page_copy_succeeded(): ptep_clear(), folio_remove_rmap_pte(), free_page_and_swap_cache() for every copied page',
  caughtBy: ['mapcount_mismatch', 'kernel_warn'],
});
