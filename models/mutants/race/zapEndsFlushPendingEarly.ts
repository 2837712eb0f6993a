import type { Machine } from '../../machine/state';
import type { MmId, Vpn } from '../../machine/ids';
import type { KernelSteps } from '../../machine/tasks';
import { mmAt } from '../../machine/pgtable';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: the zap drops `mm->tlb_flush_pending` (`dec_tlb_flush_pending()`) as soon as
 * `unmap_page_range()` is done, before `tlb_finish_mmu()` has flushed.
 * Violates: include/linux/mm_types.h (6.12) `inc_tlb_flush_pending()`/`dec_tlb_flush_pending()`:
 * the count must stay raised from before the first PTE is cleared until after the TLB flush, so
 * that `mm_tlb_flush_nested()` in a concurrent `tlb_finish_mmu()` (and `mm_tlb_flush_pending()`
 * elsewhere) sees a flush still owed. Dropped early, a second MADV_DONTNEED of the range inside
 * the window sees no nesting, flushes nothing, and returns with another CPU's translation alive.
 * Caught by: the user-memory oracle (stale_read) with `--interleave`, with the first zap preempted
 * at 'zap: before tlb_finish_mmu()'; without schedule ops the count is never read while it is
 * wrong, so it is equivalent to batched.
 */
export class ZapEndsFlushPendingEarly extends BatchedKernel {
  override readonly name: string = 'zap-ends-flush-pending-early';

  override *zapPageRangeSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    const tlb = this.tlbGatherMmu(m, mm, false);
    yield* this.unmapPageRangeSteps(m, tlb, start, end);
    // The bug: dec_tlb_flush_pending() here, with the flush still owed.
    mmAt(m, mm).tlbFlushPending--;
    yield 'zap: before tlb_finish_mmu()';
    // Only so that tlb_finish_mmu()'s own decrement leaves the count balanced.
    mmAt(m, mm).tlbFlushPending++;
    this.tlbFinishMmu(m, tlb);
  }
}

export const zapEndsFlushPendingEarly: MutantSpec = defineMutant(ZapEndsFlushPendingEarly, {
  breaks: 'dec_tlb_flush_pending() before tlb_finish_mmu() has flushed',
  violates: 'include/linux/mm_types.h: tlb_flush_pending stays raised until the flush is done (mm_tlb_flush_nested())',
  caughtBy: ['stale_read', 'pin_unreliable', 'stale_tlb_divergent_write', 'tlb_use_after_free', 'free_with_stale_tlb'],
  needsInterleave: true,
});
