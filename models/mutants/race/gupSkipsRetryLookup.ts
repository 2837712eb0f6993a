import type { CpuId, MmId, Pfn, Vpn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import type { KernelSteps } from '../../machine/tasks';
import { mmAt, mmapLockOf, pmdAt, pmdIndexOf, pteAt } from '../../machine/pgtable';
import { lockAcquire, lockRelease, ownPtls } from '../../machine/locks';
import type { GupFlags } from '../../reference/gup';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: GUP's slow path takes the page its fault mapped instead of looking it up again:
 * after `faultin_page()` returns 0 it does not `goto retry` into `follow_page_mask()` but keeps
 * the page the fault installed, found before the PTL was dropped.
 * Violates: mm/gup.c (6.12) `__get_user_pages()`: "retry: … page = follow_page_mask(…); if
 * (!page …) { ret = faultin_page(…); switch (ret) { case 0: goto retry; …" — the fault drops the
 * PTL, so the entry it made may be zapped, migrated or COW-replaced before GUP takes its
 * reference; only a lookup under the PTL (with the grab inside it) finds what is mapped now.
 * Without it the pin lands on a page no longer mapped there (freed by a zap or a migration, or
 * replaced), and the pin is not the memory the process sees.
 * Caught by: a kernel warning (`try_grab_folio` on a freed folio), the ledger, or the user-memory
 * oracle (pin_unreliable) with `--interleave`, a GUP preempted at 'gup: faulted, before the
 * retried lookup' while a zap or migration of the page runs; without schedule ops nothing runs
 * between the fault and the lookup, so it is equivalent to batched.
 */
export class GupSkipsRetryLookup extends BatchedKernel {
  override readonly name: string = 'gup-skips-retry-lookup';

  override *followPageWithFaultSteps(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, flags: GupFlags): KernelSteps<Pfn | null> {
    // Locks as the correct kernel takes them (models/reference/gup.ts): the bug is the lookup only.
    const mmapLock = mmapLockOf(mm, 'read');
    lockAcquire(m, mmapLock);
    let found: Pfn | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      found = this.lookupPermitted(m, mm, v, flags);
      if (found !== null || (flags.write && !mmAt(m, mm).vmaWritable[v])) break;
      const populated = pmdAt(m, mm, pmdIndexOf(m, v)).kind === 'leaf' || pteAt(m, mm, v)?.kind === 'present';
      const kind = flags.write ? 'write' : populated ? 'unshare' : 'read';
      ownPtls(m, () => this.handleMmFault(m, cpu, mm, v, kind));
      // The bug: the page the fault just mapped, remembered across the PTL drop.
      found = this.lookupPermitted(m, mm, v, flags);
      yield 'gup: faulted, before the retried lookup';
      if (found !== null) break;
    }
    lockRelease(m, mmapLock);
    if (found === null) this.warnOn(m, !(flags.write && !mmAt(m, mm).vmaWritable[v]), `GUP of mm ${mm} vpn ${v} still faults after handling`);
    return found;
  }
}

export const gupSkipsRetryLookup: MutantSpec = defineMutant(GupSkipsRetryLookup, {
  breaks: "GUP's slow path keeps the page its fault mapped instead of repeating follow_page_mask() after faultin_page()",
  violates: 'mm/gup.c __get_user_pages(): after faultin_page() returns 0, goto retry and look the page up again under the PTL',
  caughtBy: ['kernel_warn', 'pin_unreliable', 'mapcount_mismatch', 'refcount_mismatch', 'freed_frame_in_use', 'handle_use_after_free', 'stale_read', 'divergence'],
  needsInterleave: true,
});
