import type { MmId, Vpn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import type { PreemptPoint } from '../../machine/tasks';
import { pmdIndexOf, setPte } from '../../machine/pgtable';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';
import { underPmdLock, underPtl } from '../../machine/lockedCall';

/**
 * Breaks: `do_anonymous_page()` installs its page without rechecking the PTE under the PTL: the
 * `vmf_pte_changed()` test after `pte_offset_map_lock()` is gone.
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

  override *doAnonymousPageSteps(m: Machine, mm: MmId, v: Vpn): Generator<PreemptPoint, void, void> {
    const i = pmdIndexOf(m, v);
    underPmdLock(m, mm, i, () => this.pteAlloc(m, mm, i));
    const page = this.allocFolio(m, 0);
    yield 'fault: page allocated, before the PTL';
    // The bug: no vmf_pte_changed() recheck (the table is allocated again if it went meanwhile).
    // It still takes the PTL: the mutant breaks the recheck, not the locking.
    underPmdLock(m, mm, i, () => this.pteAlloc(m, mm, i));
    underPtl(m, mm, i, () => {
      this.folioAddAnonRmapPtes(m, page, 1, true, mm);
      setPte(m, mm, v, { kind: 'present', pfn: page, writable: true, dirty: true, young: true });
    });
  }
}

export const faultSkipsPteSame: MutantSpec = defineMutant(FaultSkipsPteSame, {
  breaks: 'do_anonymous_page() installs its page without the vmf_pte_changed() recheck under the PTL',
  violates: 'mm/memory.c do_anonymous_page(): recheck the PTE under the PTL, back off if it changed (pte_same())',
  caughtBy: ['mapcount_mismatch', 'refcount_mismatch', 'stale_read', 'stale_tlb_divergent_write', 'tlb_use_after_free', 'free_with_stale_tlb', 'divergence'],
  needsInterleave: true,
});
