import type { Machine } from '../machine/state';
import type { MmuGather } from '../batched/mmuGather';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `tlb_flush_mmu()` frees the gathered pages (and hands the table batch on) before it
 * flushes the TLB, instead of `tlb_flush_mmu_tlbonly()` first and `tlb_flush_mmu_free()` second.
 * Violates: tlb.h's contract "1) unhook page 2) TLB invalidate page 3) free page" and rule R1
 * (docs/kernel-semantics.md §3, §10): a CPU may keep using a stale translation until the flush, so the
 * page must not go back to the allocator before it. Seed 000: the batched zap drops the
 * references only at free time, after the flush.
 * Caught by: the free_with_stale_tlb hazard (a zapped page is freed while a TLB still maps it).
 */
export class FreeBeforeFlush extends BatchedKernel {
  override readonly name: string = 'free-before-flush';

  override tlbFlushMmu(m: Machine, tlb: MmuGather): void {
    this.tlbFlushMmuFree(m, tlb);
    this.tlbFlushMmuTlbonly(m, tlb);
  }
}

export const freeBeforeFlush: MutantSpec = defineMutant(FreeBeforeFlush, {
  breaks: 'tlb_flush_mmu() frees the gathered pages before the TLB flush',
  violates: 'tlb.h: unhook, TLB invalidate, then free (rule R1); seed 000',
  caughtBy: ['free_with_stale_tlb', 'tlb_use_after_free'],
});
