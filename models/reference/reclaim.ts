import { folioNrPages } from '../machine/geometry';
import type { MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { PTE_NONE } from '../machine/pte';
import { folioAt, frameAt } from '../machine/frames';
import { mark } from '../machine/marks';
import { pteAt, setPte } from '../machine/pgtable';
import type { FolioMapping } from '../machine/rmapWalk';
import { rmapWalk } from '../machine/rmapWalk';
import { flushTlbCpus } from '../machine/tlb';
import { swapSlot, writePageToSwap } from '../machine/swap';
import type { TlbUbc } from '../machine/tlbUbc';
import { tlbUbcClear } from '../machine/tlbUbc';
import { ownPtls } from '../machine/locks';
import type { OpResult } from '../result';
import type { PreemptPoint } from '../machine/tasks';
import { runToEndWith } from '../machine/tasks';
import { MigratePaths } from './migrate';

/** What `shrink_folio_list()` did with one folio of its list. */
export type ShrinkOutcome = 'freed' | 'kept';

/** What `pageout()` returned (mm/vmscan.c): PAGE_KEEP, PAGE_SUCCESS or PAGE_CLEAN. */
export type PageoutResult = 'keep' | 'success' | 'clean';

/**
 * Reclaim of anonymous memory (mm/vmscan.c, mm/rmap.c, mm/madvise.c, 6.12): `shrink_folio_list()`
 * swaps folios out — `add_to_swap()`, `try_to_unmap()` into swap entries, `pageout()`,
 * `__remove_mapping()`, the free — and MADV_COLD / MADV_PAGEOUT choose the folios of a range
 * (`madvise_cold_or_pageout_pte_range()`). The reference flushes each PTE as it unmaps it
 * (`ptep_clear_flush()`: `should_defer_flush()` is false); the batched kernel unmaps with
 * TTU_BATCH_FLUSH and owes one flush through the task's `tlb_ubc` (models/batched/reclaim.ts).
 * madvise() chooses folios for it in madvise.ts.
 *
 * Simplified (docs/fidelity/reclaim.md): the LRU lists and their ageing are not modelled — the
 * generator picks the folios reclaim takes (`reclaim` op) or madvise names them; writeback is
 * synchronous (a ramdisk-like swap device), so `pageout()` is done when it returns and reclaim
 * goes on to free the folio in the same pass.
 */
export abstract class ReclaimPaths extends MigratePaths {
  /**
   * Reclaim (kswapd or direct reclaim, `shrink_inactive_list()`) of up to `count` folios mapped
   * in mm from `start` on: isolated from the LRU (`isolate_lru_folios()`, one reference each),
   * then `shrink_folio_list()`. Which folios the LRU would offer is the generator's choice; the
   * same selection as migration's. Returns how many were freed.
   */
  reclaimFolios(m: Machine, mm: MmId, start: Vpn, count: number): OpResult {
    const folios = this.selectFoliosForMigration(m, mm, start, count);
    for (const head of folios) this.folioGet(m, head); // folio_isolate_lru()
    return { kind: 'reclaimed', folios: this.shrinkFolioList(m, folios) };
  }

  /**
   * Mirrors `shrink_folio_list()` (mm/vmscan.c, 6.12) for isolated anonymous folios (each holding
   * the isolation reference): every folio is swapped out and freed or kept (`keep:` puts it back
   * on the LRU, dropping the isolation reference); the pieces of a folio split on the way join
   * the list. The freed folios wait on `free_folios` until `try_to_unmap_flush()` — no page is
   * freed while a TLB may still translate to it (rule R1 (docs/kernel-semantics.md §10)) — and are freed together
   * (`free_unref_folios()`). Returns how many folios were freed. Runs `shrinkFolioListSteps()` to
   * its end. Simplified: 6.12 collects the freed folios in a `folio_batch` and, when it fills
   * (PAGEVEC_SIZE, 31), flushes and frees them inside the loop; the model's lists are shorter
   * than that, so it flushes and frees once, after the loop.
   */
  shrinkFolioList(m: Machine, folios: readonly Pfn[]): number {
    return runToEndWith(this.shrinkFolioListSteps(m, folios));
  }

  /**
   * `reclaimFolios()` as a task (docs/concurrency.md): the same isolation and
   * `shrinkFolioListSteps()`, which stops between folios.
   */
  *reclaimFoliosSteps(m: Machine, mm: MmId, start: Vpn, count: number): Generator<PreemptPoint, OpResult, void> {
    const folios = this.selectFoliosForMigration(m, mm, start, count);
    for (const head of folios) this.folioGet(m, head); // folio_isolate_lru()
    return { kind: 'reclaimed', folios: yield* this.shrinkFolioListSteps(m, folios) };
  }

  /**
   * `shrinkFolioList()` with its preemption point: the `cond_resched()` at the top of
   * `shrink_folio_list()`'s loop, before every folio but the first ('reclaim: folio done, before
   * the next (cond_resched())'). The folios freed so far wait on `free_folios`; the batched
   * kernel's `tlb_ubc` still owes the flush of the clean entries it unmapped.
   */
  *shrinkFolioListSteps(m: Machine, folios: readonly Pfn[]): Generator<PreemptPoint, number, void> {
    const ubc = this.reclaimUnmapBatch(m);
    const list = [...folios];
    const free: Pfn[] = [];
    for (let i = 0; i < list.length; i++) {
      if (i > 0) yield 'reclaim: folio done, before the next (cond_resched())';
      const head = list[i]!;
      // The rmap walks (unmap, split) take each mapping's PTL in turn (page_vma_mapped_walk()).
      if (ownPtls(m, () => this.shrinkFolio(m, head, list, ubc)) === 'freed') free.push(head);
      else this.folioPut(m, head); // folio_putback_lru(): the isolation reference
    }
    this.tryToUnmapFlush(m, ubc);
    for (const head of free) this.freeFolio(m, head); // free_unref_folios()
    return free.length;
  }

  /**
   * The deferred-flush record `shrink_folio_list()` unmaps with (`current->tlb_ubc`), or null when
   * every PTE is flushed as it is cleared. The reference never defers (`should_defer_flush()`
   * false); the batched kernel returns the task's record (TTU_BATCH_FLUSH).
   */
  reclaimUnmapBatch(_m: Machine): TlbUbc | null {
    return null;
  }

  /**
   * One folio of `shrink_folio_list()` (mm/vmscan.c, 6.12), anonymous memory only:
   * - not yet in the swap cache (and swap-backed): a maybe-pinned folio is kept; a large folio
   *   that cannot be split is kept, and one partially mapped (on the deferred split queue) is
   *   split first, its pieces joining the list; `add_to_swap()`, and if that finds no slot run, a
   *   large folio is split and tried again as order 0 (THP_SWPOUT_FALLBACK);
   * - `try_to_unmap()` (TTU_SPLIT_HUGE_PMD for a PMD-mapped one); still mapped: kept;
   * - pinned now (unmapped, so no new pin can come): kept;
   * - dirty: `try_to_unmap_flush_dirty()`, then `pageout()`; kept unless it wrote the folio out;
   * - a lazyfree folio (MADV_FREE, clean) is freed if only the isolation reference is left
   *   (`folio_ref_freeze(folio, 1)`), any other through `__remove_mapping()`.
   */
  shrinkFolio(m: Machine, head: Pfn, list: Pfn[], ubc: TlbUbc | null): ShrinkOutcome {
    const f = folioAt(m, head);
    if (f.swapbacked && f.swap === null) {
      if (this.folioMaybeDmaPinned(m, head)) return 'kept';
      if (f.order > 0) {
        if (!this.canSplitFolio(m, head)) return 'kept';
        if (f.deferredSplit && !this.splitFolioToList(m, head, list)) return 'kept';
      }
      if (!this.addToSwap(m, head)) {
        if (folioAt(m, head).order === 0 || !this.splitFolioToList(m, head, list) || !this.addToSwap(m, head)) return 'kept';
      }
    }
    if (this.folioMapped(m, head)) {
      this.tryToUnmap(m, head, ubc);
      if (this.folioMapped(m, head)) {
        mark(m, 'reclaim kept a folio it could not unmap');
        return 'kept';
      }
    }
    if (this.folioMaybeDmaPinned(m, head)) return 'kept';
    const folio = folioAt(m, head);
    if (folio.dirty) {
      if (!folio.swapbacked) return 'kept'; // a dirty lazyfree folio counts as file LRU: activate_locked
      this.tryToUnmapFlushDirty(m, ubc);
      if (this.pageout(m, head) === 'keep' || folio.dirty) return 'kept';
    }
    if (!folio.swapbacked) {
      if (folio.refcount !== 1) return 'kept';
      folio.refcount = 0; // folio_ref_freeze(folio, 1)
      mark(m, 'reclaim discarded a clean lazyfree folio');
      return 'freed';
    }
    if (!this.removeMapping(m, head)) return 'kept';
    mark(m, 'reclaim swapped a folio out');
    return 'freed';
  }

  /**
   * Mirrors `can_split_folio()` (mm/huge_memory.c, 6.12) with one caller pin: every reference but
   * the caller's and the swap cache's is a mapping.
   */
  canSplitFolio(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    const extra = f.swap !== null ? folioNrPages(f.order) : 0;
    return this.folioMapcount(m, head) === f.refcount - extra - 1;
  }

  /**
   * Mirrors `split_folio_to_list()` (mm/huge_memory.c, 6.12) from reclaim: split the isolated
   * folio to order 0; the head goes on as the folio being reclaimed (keeping the isolation
   * reference), the other pieces join `list` with a reference each. False when the split failed.
   */
  splitFolioToList(m: Machine, head: Pfn, list: Pfn[]): boolean {
    const pieces = this.trySplitFolio(m, head);
    if (pieces === null) return false;
    for (const p of pieces) if (p !== head) list.push(p);
    mark(m, 'reclaim split a large folio');
    return true;
  }

  /**
   * Mirrors `try_to_unmap()` (mm/rmap.c, 6.12) for an anonymous folio: with TTU_SPLIT_HUGE_PMD,
   * every PMD mapping is split first (`split_huge_pmd_address()`); then `try_to_unmap_one()` on
   * each PTE mapping, stopping at the first that fails.
   */
  tryToUnmap(m: Machine, head: Pfn, ubc: TlbUbc | null): void {
    ownPtls(m, () => {
      for (const mp of rmapWalk(m, head)) if (mp.kind === 'pmd') this.splitHugePmd(m, mp.mm, mp.pmdIndex);
      for (const mp of rmapWalk(m, head)) if (mp.kind === 'pte' && !this.tryToUnmapOne(m, head, mp, ubc)) return;
    });
  }

  /**
   * Mirrors `try_to_unmap_one()` (mm/rmap.c, 6.12) for one PTE of an anonymous folio: note
   * PageAnonExclusive, clear the PTE (`tryToUnmapClearPte()`), move its dirty bit to the folio
   * (`folio_mark_dirty()`). A lazyfree folio is discarded if it holds no reference beyond the
   * isolation one and its mappings and is clean — otherwise the PTE is restored, the folio is
   * swap-backed again and the walk stops. A swap-backed one gets a swap entry: `swap_duplicate()`,
   * then for an exclusive page `folio_try_share_anon_rmap_pte()` (a maybe-pinned folio: undo,
   * stop), then the entry, exclusive if the page was. Then the rmap and the mapping's reference go.
   * Returns false where the kernel's walk aborts.
   */
  tryToUnmapOne(m: Machine, head: Pfn, mp: Extract<FolioMapping, { kind: 'pte' }>, ubc: TlbUbc | null): boolean {
    const f = folioAt(m, head);
    const anonExclusive = frameAt(m, mp.pfn).anonExclusive;
    const pte = this.tryToUnmapClearPte(m, mp.mm, mp.vpn, ubc);
    if (pte.dirty) f.dirty = true;
    if (!f.swapbacked) {
      if (this.lazyfreeCanDiscard(m, head)) {
        this.folioRemoveRmapPtes(m, mp.pfn, 1, mp.mm);
        this.folioPut(m, head);
        return true;
      }
      setPte(m, mp.mm, mp.vpn, pte);
      f.swapbacked = true;
      mark(m, 'reclaim found a lazyfree folio redirtied');
      return false;
    }
    if (f.swap === null) {
      this.warnOn(m, true, `try_to_unmap_one: swap-backed folio ${f.id} not in the swap cache`);
      return false;
    }
    const slot = f.swap + (mp.pfn - head);
    this.swapDuplicate(m, slot);
    if (anonExclusive && !this.folioTryShareAnonRmapPte(m, head, mp.pfn)) {
      this.swapFreeNr(m, slot, 1);
      setPte(m, mp.mm, mp.vpn, pte);
      return false;
    }
    setPte(m, mp.mm, mp.vpn, { kind: 'swap', slot, exclusive: anonExclusive });
    this.folioRemoveRmapPtes(m, mp.pfn, 1, mp.mm);
    this.folioPut(m, head);
    return true;
  }

  /**
   * The MADV_FREE check of `try_to_unmap_one()` (mm/rmap.c, 6.12), once the PTE is cleared and
   * its dirty bit moved to the folio: a lazyfree folio may be discarded only if no one holds a
   * reference beyond the isolation one and its mappings (a GUP-fast walk may have grabbed it)
   * and it is still clean — not written to since MADV_FREE.
   */
  lazyfreeCanDiscard(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    return f.refcount === 1 + this.folioMapcount(m, head) && !f.dirty;
  }

  /**
   * The "Nuke the page table entry" step of `try_to_unmap_one()` (mm/rmap.c, 6.12): without a
   * deferred-flush record, `ptep_clear_flush()` clears the PTE and flushes it from every TLB at
   * once. Returns the entry as it was. The batched kernel defers the flush.
   */
  tryToUnmapClearPte(m: Machine, mm: MmId, v: Vpn, _ubc: TlbUbc | null): PresentPte {
    const pte = pteAt(m, mm, v);
    if (pte === null || pte.kind !== 'present') throw new Error('rmap walk returned a stale PTE mapping');
    setPte(m, mm, v, PTE_NONE);
    this.flushTlbPage(m, mm, v);
    return pte;
  }

  /** Mirrors `arch_tlbbatch_flush()` (arch/x86/mm/tlb.c): a full flush of every CPU in the mask, whatever mm. */
  archTlbbatchFlush(m: Machine, cpus: readonly boolean[]): void {
    flushTlbCpus(m, cpus);
  }

  /** Mirrors `try_to_unmap_flush()` (mm/rmap.c): the one flush for everything the batch unmapped; nothing without a record. */
  tryToUnmapFlush(m: Machine, ubc: TlbUbc | null): void {
    if (ubc === null || !ubc.flushRequired) return;
    this.archTlbbatchFlush(m, ubc.cpus);
    tlbUbcClear(ubc);
  }

  /**
   * Mirrors `try_to_unmap_flush_dirty()` (mm/rmap.c): before a page is written out, flush if a
   * dirty (so possibly writable) entry was unmapped, so no CPU can store to it after the copy.
   */
  tryToUnmapFlushDirty(m: Machine, ubc: TlbUbc | null): void {
    if (ubc !== null && ubc.writable) this.tryToUnmapFlush(m, ubc);
  }

  /**
   * Mirrors `pageout()` (mm/vmscan.c, 6.12) for a folio in the swap cache: PAGE_KEEP unless only
   * the isolation and swap-cache references are left (`is_page_cache_freeable()`), PAGE_CLEAN if
   * `folio_clear_dirty_for_io()` finds it clean, else `swap_writepage()` and PAGE_SUCCESS.
   */
  pageout(m: Machine, head: Pfn): PageoutResult {
    const f = folioAt(m, head);
    if (f.refcount !== 1 + folioNrPages(f.order)) {
      mark(m, 'reclaim kept a folio with an extra reference');
      return 'keep';
    }
    if (!f.dirty) return 'clean';
    f.dirty = false;
    this.swapWritepage(m, head);
    return 'success';
  }

  /**
   * Mirrors `swap_writepage()` (mm/page_io.c, 6.12): a folio no swap PTE refers to any more just
   * leaves the swap cache (`folio_free_swap()`, which marks it dirty again); otherwise each page is
   * written to its slot. Simplified: the write is synchronous.
   */
  swapWritepage(m: Machine, head: Pfn): void {
    if (this.folioFreeSwap(m, head)) return;
    const f = folioAt(m, head);
    if (f.swap === null) return;
    for (let k = 0; k < folioNrPages(f.order); k++) writePageToSwap(m, asPfn(head + k), f.swap + k);
  }

  /**
   * Mirrors `__remove_mapping()` (mm/vmscan.c, 6.12) for a folio in the swap cache: freeze the
   * references at the isolation one plus the swap cache's (fails with any other holder, or if
   * the folio was redirtied), take it out of the swap cache (`__delete_from_swap_cache()`,
   * `put_swap_folio()`); the folio is left with no reference, for the caller to free.
   */
  removeMapping(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    const nr = folioNrPages(f.order);
    if (f.swap === null || f.refcount !== 1 + nr || f.dirty) return false;
    for (let k = 0; k < nr; k++) swapSlot(m, f.swap + k).cached = null;
    f.swap = null;
    f.refcount = 0;
    return true;
  }
}
