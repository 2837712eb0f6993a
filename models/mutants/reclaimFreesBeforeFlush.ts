import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `shrink_folio_list()` frees its reclaimed folios (`free_unref_folios()`) before the
 * `try_to_unmap_flush()` that owes the TLB flush of the PTEs it unmapped with TTU_BATCH_FLUSH.
 * Violates: rule R1 (docs/kernel-semantics.md §3): unhook, TLB invalidate, then free. In 6.12 the freed
 * folios wait on `free_folios`, and a full batch flushes first.
 * Caught by: the free_with_stale_tlb hazard (a clean folio needs no writeback, so no
 * `try_to_unmap_flush_dirty()` flushed it earlier).
 */
export class ReclaimFreesBeforeFlush extends BatchedKernel {
  override readonly name: string = 'reclaim-frees-before-flush';

  override shrinkFolioList(m: Machine, folios: readonly Pfn[]): number {
    const ubc = this.reclaimUnmapBatch(m);
    const list = [...folios];
    let freed = 0;
    for (let i = 0; i < list.length; i++) {
      const head = list[i]!;
      if (this.shrinkFolio(m, head, list, ubc) === 'freed') {
        this.freeFolio(m, head); // the bug: before try_to_unmap_flush()
        freed++;
      } else this.folioPut(m, head);
    }
    this.tryToUnmapFlush(m, ubc);
    return freed;
  }
}

export const reclaimFreesBeforeFlush: MutantSpec = defineMutant(ReclaimFreesBeforeFlush, {
  breaks: 'shrink_folio_list() frees reclaimed folios before try_to_unmap_flush()',
  violates: 'rule R1: a page is freed only after the TLB flush of its last unmap (TTU_BATCH_FLUSH)',
  caughtBy: ['free_with_stale_tlb', 'tlb_use_after_free'],
});
