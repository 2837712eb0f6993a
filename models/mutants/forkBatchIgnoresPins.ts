import type { MmId, Pfn } from '../machine/ids';
import { pfn as asPfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { frameAt } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: the batched `folio_try_dup_anon_rmap_ptes()` (nr > 1, fork's `copy_present_ptes()`
 * batch) never fails: it skips the `folio_needs_cow_for_dma()` test, so a pinned exclusive page
 * inside a batch is shared with the child (R/O in both) instead of the -EAGAIN fallback that
 * copies it for the child. The single-PTE path still checks.
 * Violates: docs/kernel-semantics.md §4 (`__folio_try_dup_anon_rmap`: maybe pinned and any page of the
 * batch exclusive → -EBUSY); seed 001's cow.c "vmsplice() before fork(), unmap in parent after
 * fork()" and "Longterm R/W pin is reliable": a pinned page must stay the parent's.
 * Caught by: the ledger (pinned_not_exclusive: a pinned page mapped shared), or the memory oracle
 * (pin_unreliable: the parent's next write copies away from the pin), or the differential check.
 */
export class ForkBatchIgnoresPins extends BatchedKernel {
  override readonly name: string = 'fork-batch-ignores-pins';

  override folioTryDupAnonRmapPtes(m: Machine, srcMm: MmId, page: Pfn, nr: number): boolean {
    if (nr === 1) return super.folioTryDupAnonRmapPtes(m, srcMm, page, nr);
    for (let i = 0; i < nr; i++) frameAt(m, asPfn(page + i)).anonExclusive = false;
    this.folioAddAnonRmapPtes(m, page, nr, false);
    return true;
  }
}

export const forkBatchIgnoresPins: MutantSpec = defineMutant(ForkBatchIgnoresPins, {
  breaks: 'batched fork dups the rmap of a PTE batch without the maybe-pinned check',
  violates: 'docs/kernel-semantics.md §4: folio_try_dup_anon_rmap_ptes() fails for a maybe-pinned exclusive page; seed 001 (cow.c pins)',
  caughtBy: ['pinned_not_exclusive', 'pin_unreliable', 'divergence'],
});
