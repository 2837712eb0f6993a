import type { Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import type { MmuGather } from '../batched/mmuGather';
import type { ZapStep } from '../batched/zap';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: when `__tlb_remove_folio_pages()` reports the gather full, `zap_present_folio_ptes()`
 * does not force the flush (`force_flush`, `force_break`): it makes room by freeing what was
 * gathered (`tlb_flush_mmu_free()`) and carries on zapping, leaving the TLB flush to
 * `tlb_finish_mmu()` at the end.
 * Violates: seed 000 (PTE-batched zap): a full gather (MAX_GATHER_BATCH_COUNT) forces
 * `tlb_flush_mmu_tlbonly()` before the PTL is dropped and only then `tlb_flush_mmu()` frees the
 * pages (docs/kernel-semantics.md §2, §3); rule R1, unhook → flush → free.
 * Caught by: the free_with_stale_tlb hazard — only once a zap fills the gather (small geometry:
 * 7 to 13 gather entries in one zap or exit) while a CPU still caches one of the pages; or the
 * ledger's mapcount_mismatch when the gather held a dirty shared file page: its delayed rmap is
 * freed with the batch, never removed (`tlb_flush_rmaps()` runs only on the forced flush).
 */
export class NoFlushWhenGatherFull extends BatchedKernel {
  override readonly name: string = 'no-flush-when-gather-full';

  override zapPresentFolioPtes(m: Machine, tlb: MmuGather, v: Vpn, pte: PresentPte, nr: number): Omit<ZapStep, 'nr'> {
    const r = super.zapPresentFolioPtes(m, tlb, v, pte, nr);
    if (!r.forceBreak) return r;
    this.tlbFlushMmuFree(m, tlb);
    return { forceFlush: false, forceBreak: false };
  }
}

export const noFlushWhenGatherFull: MutantSpec = defineMutant(NoFlushWhenGatherFull, {
  breaks: 'a full mmu_gather is emptied by freeing its pages without the forced TLB flush',
  violates: 'seed 000: a full gather (MAX_GATHER_BATCH_COUNT) forces the TLB flush before the free (rule R1)',
  caughtBy: ['free_with_stale_tlb', 'tlb_use_after_free', 'mapcount_mismatch'],
});
