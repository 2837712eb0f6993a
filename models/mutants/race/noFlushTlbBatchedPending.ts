import type { Machine } from '../../machine/state';
import type { MmId } from '../../machine/ids';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: `flush_tlb_batched_pending()` does nothing: zap, mprotect and mremap change PTEs of an
 * mm while a reclaim (TTU_BATCH_FLUSH) may still owe the flush of entries it unmapped.
 * Violates: mm/rmap.c `flush_tlb_batched_pending()` (6.12; 3ea277194daa "mm, mprotect: flush TLB
 * if potentially racing with a parallel reclaim leaving stale TLB entries", 4.13): a reclaim
 * preempted between two folios has turned a clean PTE into a swap entry without flushing; a
 * MADV_DONTNEED of that page drops the swap entry — nothing present, so its gather flushes
 * nothing — and returns; the CPU that still holds the translation reads the old page where the
 * program must see 0.
 * Caught by: the user-memory oracle (stale_read) with `--interleave`, on a reclaim task's window
 * (docs/fidelity/reclaim.md); with atomic ops every reclaim and migration has flushed before it
 * returns.
 */
export class NoFlushTlbBatchedPending extends BatchedKernel {
  override readonly name: string = 'no-flush-tlb-batched-pending';

  override flushTlbBatchedPending(_m: Machine, _mm: MmId): void {}
}

export const noFlushTlbBatchedPending: MutantSpec = defineMutant(NoFlushTlbBatchedPending, {
  breaks: 'flush_tlb_batched_pending() flushes nothing',
  violates: "mm/rmap.c flush_tlb_batched_pending(): flush an mm a batched unmap left unflushed before changing its PTEs (3ea277194daa)",
  caughtBy: ['stale_read', 'pin_unreliable', 'stale_tlb_divergent_write', 'tlb_use_after_free', 'free_with_stale_tlb', 'not_serialisable'],
  needsInterleave: true,
});
