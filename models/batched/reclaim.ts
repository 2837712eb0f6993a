import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { PTE_NONE } from '../machine/pte';
import { pteAt, setPte } from '../machine/pgtable';
import { mark } from '../machine/marks';
import type { TlbUbc } from '../machine/tlbUbc';
import { newTlbUbc } from '../machine/tlbUbc';
import type { MadviseWalk } from '../reference/madvise';
import { BatchedMremap } from './mremap';

/**
 * Reclaim as 6.12 batches it (mm/vmscan.c, mm/rmap.c, mm/madvise.c): `shrink_folio_list()` unmaps
 * with TTU_BATCH_FLUSH, so `try_to_unmap_one()` clears each PTE with `ptep_get_and_clear()` and
 * records the owed flush in the task's `tlb_ubc` (`set_tlb_ubc_flush_pending()`, which also
 * bumps `mm->tlb_flush_batched` for `flush_tlb_batched_pending()`); the flush comes once, before
 * the first page is written out if a dirty entry was unmapped (`try_to_unmap_flush_dirty()`),
 * and before the folios are freed (`try_to_unmap_flush()`). MADV_COLD/PAGEOUT batch a large
 * folio's PTEs with `folio_pte_batch()` and flush the young bits they clear once per batch.
 *
 * `set_tlb_ubc_flush_pending()` is 6.12's: the MIGRC seed's read-only split (`tlb_ubc_ro`) is for
 * migration only here, so every entry reclaim unmaps goes to the one record.
 */
export abstract class BatchedReclaim extends BatchedMremap {
  /** `current->tlb_ubc`: `shrink_folio_list()` unmaps with TTU_BATCH_FLUSH (`should_defer_flush()`). */
  override reclaimUnmapBatch(m: Machine): TlbUbc | null {
    return newTlbUbc(m);
  }

  /**
   * The TTU_BATCH_FLUSH side of `try_to_unmap_one()`'s "Nuke the page table entry" (mm/rmap.c,
   * 6.12): `ptep_get_and_clear()` and `set_tlb_ubc_flush_pending()`: no flush now, the CPUs that
   * ran the mm join the record.
   */
  override tryToUnmapClearPte(m: Machine, mm: MmId, v: Vpn, ubc: TlbUbc | null): PresentPte {
    if (ubc === null) return super.tryToUnmapClearPte(m, mm, v, ubc);
    const pte = pteAt(m, mm, v);
    if (pte === null || pte.kind !== 'present') throw new Error('rmap walk returned a stale PTE mapping');
    setPte(m, mm, v, PTE_NONE);
    this.setTlbUbcFlushPending(m, { ubc, ro: ubc, canMigrc: false }, mm, pte.writable, pte.dirty);
    mark(m, 'reclaim deferred its flush (TTU_BATCH_FLUSH)');
    return pte;
  }

  /** `folio_pte_batch()` (mm/internal.h, 6.12) with FPB_IGNORE_DIRTY | FPB_IGNORE_SOFT_DIRTY, as madvise batches. */
  override madvisePteBatch(m: Machine, mm: MmId, v: Vpn, e: Vpn, first: PresentPte): number {
    return this.folioPteBatch(m, mm, v, first, e - v, { ignoreDirty: true }).nr;
  }

  /**
   * `tlb_gather_mmu()` as madvise calls it (mm/madvise.c, 6.12): the walk's cleared young and dirty
   * bits are recorded in the gather and flushed once, at `tlb_finish_mmu()`.
   */
  override madviseWalkBegin(m: Machine, mm: MmId): MadviseWalk {
    return { mm, tlb: this.tlbGatherMmu(m, mm, false), list: [] };
  }

  /** `tlb_finish_mmu()` at the end of the walk: the one flush (the whole mm if gathers nested). */
  override madviseWalkEnd(m: Machine, walk: MadviseWalk): void {
    if (walk.tlb !== null) this.tlbFinishMmu(m, walk.tlb);
  }

  /**
   * `clear_young_dirty_ptes()` for a batch of `nr` PTEs (MADV_COLD: young; MADV_FREE: young and
   * dirty), then `tlb_remove_tlb_entries()`: the range joins the walk's gather, whose flush comes
   * at `tlb_finish_mmu()` — until then a CPU may keep a dirty translation and store through it
   * without setting the PTE's dirty bit (docs/concurrency.md "The madvise window").
   */
  override madviseClearPtes(m: Machine, walk: MadviseWalk, v: Vpn, nr: number, clean: boolean): void {
    let cleared = false;
    for (let k = 0; k < nr; k++) {
      const pte = pteAt(m, walk.mm, asVpn(v + k));
      if (pte === null || pte.kind !== 'present' || !(pte.young || (clean && pte.dirty))) continue;
      setPte(m, walk.mm, asVpn(v + k), { ...pte, young: false, dirty: clean ? false : pte.dirty });
      cleared = true;
    }
    if (!cleared) return;
    if (walk.tlb === null) this.flushTlbRange(m, walk.mm, v, v + nr);
    else this.tlbRemoveTlbEntries(walk.tlb, v, nr);
  }
}
