import { BatchedKernel } from '../../models/batched/BatchedKernel';
import type { Pfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import type { MmuGather } from '../../models/batched/mmuGather';

/**
 * The first fix a reviewer might propose: flush the TLB, then free the batch (`tlb_flush_mmu()`),
 * and keep going. It forgets the rmaps a dirty page of a shared file mapping delays until after
 * the flush: the batch is freed with them still pending, and they are never removed.
 */
export default class GatherFlushThenFreeNoRmaps extends BatchedKernel {
  override readonly name: string = 'gather-flush-then-free-no-rmaps';

  override tlbRemoveFolioPagesRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    const full = super.tlbRemoveFolioPagesRaw(m, tlb, page, nr, delayRmap);
    if (full) this.tlbFlushMmu(m, tlb); // flush, then free: tlb.h's "unhook, invalidate, free"
    return false;
  }
}
