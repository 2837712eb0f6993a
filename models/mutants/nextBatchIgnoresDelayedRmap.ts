import type { Machine } from '../machine/state';
import type { MmuGather } from '../batched/mmuGather';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `tlb_next_batch()` moves on to a further batch page while rmaps are delayed (the
 * `if (tlb->delayed_rmap && tlb->active != &tlb->local) return false;` test left out), so a zap of
 * many dirty shared file pages gathers past `local` and the first batch page.
 * Violates: mm/mmu_gather.c (6.12): `tlb_flush_rmaps()` only scans `local` and `active`; a delayed
 * entry in a batch page between them never has its rmap removed (5df397dec7c4's limit).
 * Caught by: the ledger (mapcount_mismatch): the page keeps a mapcount no PTE accounts for; or,
 * when a truncate meets that page before an audit does (seed 1), truncate's own check that a folio
 * it removes from the page cache is unmapped (kernel_warn).
 */
export class NextBatchIgnoresDelayedRmap extends BatchedKernel {
  override readonly name: string = 'next-batch-ignores-delayed-rmap';

  override tlbNextBatch(m: Machine, tlb: MmuGather): boolean {
    const delayed = tlb.delayedRmap;
    tlb.delayedRmap = false;
    try {
      return super.tlbNextBatch(m, tlb);
    } finally {
      tlb.delayedRmap = delayed;
    }
  }
}

export const nextBatchIgnoresDelayedRmap: MutantSpec = defineMutant(NextBatchIgnoresDelayedRmap, {
  breaks: 'tlb_next_batch() gathers past the first batch page while rmaps are delayed',
  violates: 'mm/mmu_gather.c tlb_next_batch(): with delayed rmaps the gather stops at the first batch page, the last one tlb_flush_rmaps() scans',
  caughtBy: ['mapcount_mismatch', 'refcount_mismatch', 'divergence', 'kernel_warn'],
});
