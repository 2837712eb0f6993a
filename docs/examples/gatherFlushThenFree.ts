import { BatchedKernel } from '../../models/batched/BatchedKernel';
import type { Pfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import type { MmuGather } from '../../models/batched/mmuGather';

/**
 * The same patch after review: when the gather fills, flush the TLB first, then free the batch,
 * and keep going. The PTL is still held, but anonymous pages have no delayed rmap to wait for.
 */
export default class GatherFlushThenFree extends BatchedKernel {
  override readonly name = 'gather-flush-then-free';

  override tlbRemoveFolioPagesRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    const full = super.tlbRemoveFolioPagesRaw(m, tlb, page, nr, delayRmap);
    if (full) this.tlbFlushMmu(m, tlb); // flush, then free: tlb.h's "unhook, invalidate, free"
    return false;
  }
}
