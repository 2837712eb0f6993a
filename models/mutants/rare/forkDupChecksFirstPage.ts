import type { MmId, Pfn } from '../../machine/ids';
import { pfn as asPfn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import { frameAt, folioHead } from '../../machine/frames';
import { Batched615 } from '../../v615/Batched615';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: `folio_try_dup_anon_rmap_ptes()` (include/linux/rmap.h) of a maybe-pinned folio tests
 * only the batch's first page for PageAnonExclusive, so fork shares a later page of the batch
 * that is exclusive and pinned instead of falling back to the per-PTE path that copies it.
 * Needs: a PTE-mapped large folio whose pages differ in exclusivity — under 6.15's large-folio
 * COW reuse, a fork and the child's exit leave every page shared, then a store to a later page
 * reuses it (exclusive again) and a pin of that page — then a fork whose batch starts at an
 * earlier page of the folio.
 * Violates: rule R4 (docs/kernel-semantics.md §10; a pinned anonymous page is exclusive and never shared by fork); the kernel
 * checks every page of the batch (`for (i = 0; i < nr_pages; i++) if (PageAnonExclusive(page + i))
 * return -EBUSY`).
 * Caught by: the ledger (pinned_not_exclusive) or the differential check against reference-6.15.
 */
export class ForkDupChecksFirstPage extends Batched615 {
  override readonly name: string = 'fork-dup-checks-first-page';

  override folioTryDupAnonRmapPtes(m: Machine, srcMm: MmId, page: Pfn, nr: number, dstMm?: MmId): boolean {
    if (this.folioNeedsCowForDma(m, srcMm, folioHead(m, page)) && frameAt(m, page).anonExclusive) return false;
    for (let i = 0; i < nr; i++) frameAt(m, asPfn(page + i)).anonExclusive = false;
    this.folioAddAnonRmapPtes(m, page, nr, false, dstMm);
    return true;
  }
}

export const forkDupChecksFirstPage: MutantSpec = defineMutant(ForkDupChecksFirstPage, {
  breaks: "fork's batched rmap dup of a maybe-pinned folio tests only the batch's first page for exclusivity",
  violates: 'rule R4: a pinned anonymous page stays exclusive across fork (every page of the batch is tested)',
  caughtBy: ['pinned_not_exclusive', 'divergence', 'exclusive_mapped_twice', 'pin_unreliable'],
});
