import type { Machine } from '../../machine/state';
import type { MmId } from '../../machine/ids';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: `tlb_finish_mmu()` ignores `mm_tlb_flush_nested()`: it flushes only the range its own
 * gather recorded, even while another gather of the mm is live.
 * Violates: mm/mmu_gather.c `tlb_finish_mmu()` (6.12; since 99baac21e458 "mm: fix
 * MADV_[FREE|DONTNEED] TLB flush miss problem", 4.13, and 7a30df49f63a in 5.2): two
 * MADV_DONTNEEDs of one range under the mmap read lock — the second finds the PTEs already none,
 * gathers nothing, flushes nothing and returns while the first, preempted in its window, has not
 * flushed yet; a CPU still holding the translation then reads the old data where the program must
 * see 0 (or its store is lost after MADV_DONTNEED returned).
 * Caught by: the user-memory oracle (stale_read) with `--interleave`; without schedule ops no two
 * gathers of one mm are ever live, so it is equivalent to batched.
 */
export class ZapIgnoresNestedFlush extends BatchedKernel {
  override readonly name: string = 'zap-ignores-nested-flush';

  override mmTlbFlushNested(_m: Machine, _mm: MmId): boolean {
    return false;
  }
}

export const zapIgnoresNestedFlush: MutantSpec = defineMutant(ZapIgnoresNestedFlush, {
  breaks: 'tlb_finish_mmu() without the mm_tlb_flush_nested() full flush',
  violates: 'mm/mmu_gather.c tlb_finish_mmu(): flush everything when gathers of the mm nest (99baac21e458)',
  caughtBy: ['stale_read', 'pin_unreliable', 'stale_tlb_divergent_write', 'tlb_use_after_free', 'free_with_stale_tlb'],
  needsInterleave: true,
});
