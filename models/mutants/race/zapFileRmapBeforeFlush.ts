import type { Machine } from '../../machine/state';
import type { PresentPte } from '../../machine/pte';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MmuGather } from '../../batched/mmuGather';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: zap never delays the rmap of a dirty file page (`tlb_delay_rmap()` false, as on UP), so
 * its mapcount drops when the PTE is cleared and nothing forces the flush before the PTL is
 * dropped: the flush comes at `tlb_finish_mmu()`.
 * Violates: rule R2 (docs/kernel-semantics.md §10; 5df397dec7c4, "mm: delay page_remove_rmap() until after the TLB has been
 * flushed"): `folio_mkclean()` starts with `if (!folio_mapped(folio)) return 0;`, so writeback
 * inside the zap's window cleans and writes the folio without looking at any TLB, while another
 * CPU still stores through its dirty translation: the store is lost at eviction.
 * Caught by: the lost_dirty_data hazard at that store, with `--interleave` (a zap preempted after
 * a table; with atomic ops the zap has flushed before writeback can run).
 */
export class ZapFileRmapBeforeFlush extends BatchedKernel {
  override readonly name: string = 'zap-file-rmap-before-flush';

  override zapDelayRmap(_m: Machine, _tlb: MmuGather, _pte: PresentPte): boolean {
    return false;
  }
}

export const zapFileRmapBeforeFlush: MutantSpec = defineMutant(ZapFileRmapBeforeFlush, {
  breaks: 'zap removes the rmap of a dirty file page before the TLB flush, and does not force the flush under the PTL',
  violates: 'mm/memory.c zap_present_folio_ptes(): delay_rmap for a dirty file page, tlb_flush_rmaps() after the flush, under the PTL (5df397dec7c4; rule R2)',
  caughtBy: ['lost_dirty_data', 'stale_file_read', 'not_serialisable', 'divergence'],
  needsInterleave: true,
});
