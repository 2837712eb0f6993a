import { BatchedKernel } from '../../models/batched/BatchedKernel';
import type { Pfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import type { MmuGather } from '../../models/batched/mmuGather';

/**
 * The same patch after review: when the gather fills, flush the TLB, remove the delayed rmaps
 * of dirty shared file pages (the PTL is still held, as `zap_pte_range()` does it), then free
 * the batch, and keep going.
 */
export default class GatherFlushThenFree extends BatchedKernel {
  override readonly name: string = 'gather-flush-then-free';

  override tlbRemoveFolioPagesRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    const full = super.tlbRemoveFolioPagesRaw(m, tlb, page, nr, delayRmap);
    if (full) {
      this.tlbFlushMmuTlbonly(m, tlb); // unhook (done), invalidate…
      this.tlbFlushRmaps(m, tlb); // …the rmaps a dirty file page delayed until after the flush…
      this.tlbFlushMmuFree(m, tlb); // …then free
    }
    return false;
  }
}
