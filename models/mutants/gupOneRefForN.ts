import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `try_grab_folio(folio, refs, flags)` takes one reference (or one pin) whatever `refs`
 * is — `folio_ref_inc()` where `folio_ref_add(refs)` belongs — so GUP of n subpages of one folio
 * in one grab holds one reference, while unpin (per folio run, `gup_put_folio(folio, n)`) drops n.
 * In 6.12 (and so on `batched`) the grabs with refs > 1 are those of a PMD leaf:
 * `gup_fast_pmd_leaf()` (n recorded subpages) and `__get_user_pages()` (`page_increm - 1`); the
 * `batched-gup-runs` proposal adds PTE-mapped runs, so the bug exists on both kernels.
 * Violates: seed 004 ("Grab head page refcount once for group of subpages"): the head is grabbed
 * once with `refs = n`, and N subpages pinned ⇒ N refs/pins (docs/kernel-semantics.md §6).
 * Caught by: the ledger audit (refcount_mismatch / pincount_mismatch) right after the GUP.
 */
export class GupOneRefForN extends BatchedKernel {
  override readonly name: string = 'gup-one-ref-for-n';

  override tryGrabFolio(m: Machine, head: Pfn, _refs: number, pin: boolean): void {
    super.tryGrabFolio(m, head, 1, pin);
  }
}

export const gupOneRefForN: MutantSpec = defineMutant(GupOneRefForN, {
  breaks: 'try_grab_folio() takes one reference or pin for n subpages',
  violates: 'seed 004: grab the head once with refs = n; N subpages pinned hold N refs/pins',
  caughtBy: ['refcount_mismatch', 'pincount_mismatch'],
});
