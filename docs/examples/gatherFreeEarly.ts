import { BatchedKernel } from '../../models/batched/BatchedKernel';
import type { Pfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import type { MmuGather } from '../../models/batched/mmuGather';

/**
 * A plausible-looking patch to the mmu_gather: "when the gather fills, don't break out of
 * zap_pte_range() and come back — free the batch right away and keep going; tlb_finish_mmu()
 * flushes the whole range at the end anyway". It overrides `__tlb_remove_folio_pages()`.
 */
export default class GatherFreeEarly extends BatchedKernel {
  override readonly name: string = 'gather-free-early';

  override tlbRemoveFolioPagesRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    const full = super.tlbRemoveFolioPagesRaw(m, tlb, page, nr, delayRmap);
    if (full) this.tlbFlushMmuFree(m, tlb); // free now, flush later
    return false;
  }
}
