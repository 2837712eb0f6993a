import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { TlbUbc } from '../machine/tlbUbc';
import { ownPtls } from '../machine/locks';
import { rmapWalk } from '../machine/rmapWalk';
import { setPte } from '../machine/pgtable';
import { PTE_NONE } from '../machine/pte';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `collapse_file()`'s `try_to_unmap(TTU_BATCH_FLUSH)` clears each PTE of an old page-cache
 * folio without `set_tlb_ubc_flush_pending()`: the CPUs that ran the mm never join the batch, so
 * `try_to_unmap_flush()` before the copy flushes nothing for them.
 * Violates: rule R1 (docs/kernel-semantics.md §10; a page is freed only once no TLB can reach it):
 * the old folios are freed after the copy while CPUs still translate to them; a load through
 * such an entry reads a freed (or reused) page instead of the THP.
 * Caught by: free_with_stale_tlb when the old folio is freed; stale reads after.
 */
export class CollapseFileUnmapUnbatched extends BatchedKernel {
  override readonly name: string = 'collapse-file-unmap-unbatched';

  override tryToUnmapFileFolio(m: Machine, head: Pfn, _ubc: TlbUbc | null): void {
    ownPtls(m, () => {
      for (const mp of rmapWalk(m, head)) {
        if (mp.kind !== 'pte') continue;
        setPte(m, mp.mm, mp.vpn, PTE_NONE);
        this.folioRemoveRmapPtes(m, mp.pfn, 1, mp.mm);
        this.folioPut(m, head);
      }
    });
  }
}

export const collapseFileUnmapUnbatched: MutantSpec = defineMutant(CollapseFileUnmapUnbatched, {
  breaks: "collapse_file() unmaps the old page-cache folios without adding the mm's CPUs to the TLB flush batch",
  violates: 'rule R1: mm/rmap.c try_to_unmap_one() calls set_tlb_ubc_flush_pending() for TTU_BATCH_FLUSH, and collapse_file() calls try_to_unmap_flush() before the copy',
  caughtBy: ['free_with_stale_tlb', 'tlb_use_after_free', 'stale_read', 'divergence'],
});
