import type { MmId, Vpn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: `do_anonymous_page()` installs its page without rechecking the PTE under the PTL: the
 * `vmf_pte_changed()` test after `pte_offset_map_lock()` always passes (`vmfPteChanged()`), for a
 * store's page and a load's zero-page entry alike.
 * Violates: mm/memory.c (6.12) `do_anonymous_page()`: `vmf->orig_pte` was read without the PTL,
 * so once the PTL is taken `if (vmf_pte_changed(vmf)) { update_mmu_tlb(); goto release; }` —
 * two CPUs faulting on one empty PTE both allocate, and only the first to take the PTL may
 * install (the same rule as `pte_same()` in `wp_page_copy()`). Without it the second overwrites
 * the first's PTE: the first page stays counted as mapped (leaked), and a store made through it
 * is lost.
 * Caught by: the ledger (mapcount or refcount of the overwritten page) or the user-memory oracle
 * (stale_read) with `--interleave`, a store's fault preempted at 'fault: page allocated, before
 * the PTL' while another CPU faults the same page in; without schedule ops no other fault runs
 * in between, so it is equivalent to batched.
 */
export class FaultSkipsPteSame extends BatchedKernel {
  override readonly name: string = 'fault-skips-pte-same';

  /** The bug: whatever the entry now holds, it counts as still none (a gone table still backs off: the PTL cannot be taken). */
  override vmfPteChanged(_m: Machine, _mm: MmId, _v: Vpn): boolean {
    return false;
  }
}

export const faultSkipsPteSame: MutantSpec = defineMutant(FaultSkipsPteSame, {
  breaks: 'do_anonymous_page() installs its page without the vmf_pte_changed() recheck under the PTL',
  violates: 'mm/memory.c do_anonymous_page(): recheck the PTE under the PTL, back off if it changed (pte_same())',
  caughtBy: ['mapcount_mismatch', 'refcount_mismatch', 'stale_read', 'stale_tlb_divergent_write', 'tlb_use_after_free', 'free_with_stale_tlb', 'divergence'],
  needsInterleave: true,
});
