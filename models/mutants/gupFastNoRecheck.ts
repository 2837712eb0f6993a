import type { Machine, Walker } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: GUP-fast keeps the reference it grabbed without rechecking that the PMD and PTE it
 * read are still there (the `pte_val(pte) != pte_val(ptep_get(ptep))` test in
 * `gup_fast_pte_range()`).
 * Violates: rule R7 (docs/kernel-semantics.md §10): GUP-fast pins, then rechecks; whoever changes the PTE
 * (zap, COW, fork's write-protect, migration) relies on that recheck. Seed 004's grab-then-recheck.
 * Caught by: the differential check (the reference's walk fails, this one returns a handle) or
 * the memory oracle (a pin on a page the mm no longer maps).
 */
export class GupFastNoRecheck extends BatchedKernel {
  override readonly name: string = 'gup-fast-no-recheck';

  override gupFastRecheck(_m: Machine, _w: Extract<Walker, { kind: 'gupFast' }>): boolean {
    return true;
  }
}

export const gupFastNoRecheck: MutantSpec = defineMutant(GupFastNoRecheck, {
  breaks: 'GUP-fast does not recheck the PTE/PMD after taking its reference',
  violates: 'rule R7: pin, then recheck the PTE (gup_fast_pte_range); seed 004',
  caughtBy: ['divergence', 'pin_unreliable', 'pinned_not_exclusive'],
});
