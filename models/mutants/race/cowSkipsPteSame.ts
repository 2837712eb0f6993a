import type { MmId, Vpn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import type { PresentPte } from '../../machine/pte';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: `wp_page_copy()` installs its copy without rechecking the PTE once it has retaken the
 * PTL: the `pte_same(ptep_get(vmf->pte), vmf->orig_pte)` test always passes (`wpPteSame()`).
 * Violates: mm/memory.c (6.12) `wp_page_copy()`: `do_wp_page()` dropped the PTL before the
 * allocation and the copy, so "Re-check the pte - we dropped the lock": only if the entry is
 * still `vmf->orig_pte` may the copy replace it; otherwise the new page is freed and the access
 * retried. Without it a second CPU's COW fault on the same page, or a zap, that changed the PTE
 * inside the window is overwritten: the other copy stays counted as mapped (leaked, its store
 * lost), and the old page loses a mapcount it no longer had here.
 * Caught by: the ledger (mapcount or refcount, or the old page freed while a fork child still
 * maps it: freed_frame_in_use) or the user-memory oracle with `--interleave`, a
 * store's COW fault preempted at 'fault: COW page copied, before the PTL' while another CPU
 * copies the same page or a zap clears it; without schedule ops nothing runs in between, so it is
 * equivalent to batched.
 */
export class CowSkipsPteSame extends BatchedKernel {
  override readonly name: string = 'cow-skips-pte-same';

  /** The bug: whatever the entry now holds, it counts as `vmf->orig_pte` (a gone table still backs off: the PTL cannot be taken). */
  override wpPteSame(_m: Machine, _mm: MmId, _v: Vpn, _orig: PresentPte): boolean {
    return true;
  }
}

export const cowSkipsPteSame: MutantSpec = defineMutant(CowSkipsPteSame, {
  breaks: 'wp_page_copy() installs its copy without the pte_same() recheck under the PTL',
  violates: 'mm/memory.c wp_page_copy(): recheck the PTE against vmf->orig_pte under the PTL, back off if it changed',
  caughtBy: ['mapcount_mismatch', 'refcount_mismatch', 'freed_frame_in_use', 'stale_read', 'pin_unreliable', 'stale_tlb_divergent_write', 'tlb_use_after_free', 'free_with_stale_tlb', 'divergence', 'kernel_warn'],
  needsInterleave: true,
});
