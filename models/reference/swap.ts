import { folioNrPages } from '../machine/geometry';
import type { MmId, Pfn, Vpn } from '../machine/ids';
import type { SwapPte } from '../machine/pte';
import { pfn as asPfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt, folioHead, frameAt } from '../machine/frames';
import { mark } from '../machine/marks';
import { findFreeSwapRun, swapSlot } from '../machine/swap';
import { PageTablePaths } from './pagetables';

/**
 * The swap device and the swap cache (mm/swapfile.c, mm/swap_state.c, 6.12): slots and their
 * counts, a folio entering and leaving the swap cache, and the lookups `do_swap_page()` makes.
 * The same in every kernel except `freeSwapAndCacheNr()`, which the batched zap calls for a run
 * of entries where the reference calls it per entry.
 */
export abstract class SwapPaths extends PageTablePaths {
  /**
   * Mirrors `add_to_swap()` (mm/swap_state.c, 6.12): `folio_alloc_swap()` finds a naturally
   * aligned run of free slots (`get_swap_pages()`; false when there is none), each slot gets
   * SWAP_HAS_CACHE and this page (`add_to_swap_cache()`: one reference per page, `folio->swap`),
   * and the folio is marked dirty (`folio_mark_dirty()`): its only copy is in memory.
   */
  addToSwap(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    const nr = folioNrPages(f.order);
    const base = findFreeSwapRun(m, nr);
    if (base === null) {
      mark(m, 'add_to_swap found no free slot run');
      return false;
    }
    for (let k = 0; k < nr; k++) {
      const s = swapSlot(m, base + k);
      s.cached = asPfn(head + k);
      s.id = `${f.id}/${k}`;
    }
    f.swap = base;
    this.folioRefAdd(m, head, nr);
    f.dirty = true;
    return true;
  }

  /** Mirrors `swap_duplicate()` (mm/swapfile.c): one more swap PTE refers to the slot. */
  swapDuplicate(m: Machine, slot: number): void {
    const s = swapSlot(m, slot);
    this.warnOn(m, s.count === 0 && s.cached === null, `swap_duplicate of free slot ${slot}`);
    s.count++;
  }

  /**
   * Mirrors `swap_free_nr()` (mm/swapfile.c, 6.12): `nr` consecutive slots from `slot` each lose
   * a swap PTE's reference. A slot left with neither a count nor a cache page is free.
   */
  swapFreeNr(m: Machine, slot: number, nr: number): void {
    for (let k = 0; k < nr; k++) {
      const s = swapSlot(m, slot + k);
      this.warnOn(m, s.count <= 0, `swap_free of slot ${slot + k} with count ${s.count}`);
      s.count--;
    }
  }

  /**
   * Mirrors `folio_swapped()` (mm/swapfile.c, 6.12): does any swap PTE still refer to one of the
   * folio's slots?
   */
  folioSwapped(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    if (f.swap === null) return false;
    for (let k = 0; k < folioNrPages(f.order); k++) if (swapSlot(m, f.swap + k).count > 0) return true;
    return false;
  }

  /**
   * Mirrors `delete_from_swap_cache()` (mm/swap_state.c, 6.12): the folio leaves the swap cache
   * (`__delete_from_swap_cache()`), its slots lose SWAP_HAS_CACHE (`put_swap_folio()`: a slot
   * without a count is free again), and the swap cache's references are dropped
   * (`folio_ref_sub()`: the caller still holds one, so this never frees the folio).
   */
  deleteFromSwapCache(m: Machine, head: Pfn): void {
    const f = folioAt(m, head);
    const nr = folioNrPages(f.order);
    if (f.swap === null) return;
    for (let k = 0; k < nr; k++) swapSlot(m, f.swap + k).cached = null;
    f.swap = null;
    this.warnOn(m, f.refcount <= nr, `delete_from_swap_cache of folio ${f.id} with refcount ${f.refcount}`);
    f.refcount -= nr;
    m.stats.atomicRefUpdates++;
  }

  /**
   * Mirrors `folio_free_swap()` (mm/swapfile.c, 6.12): a folio in the swap cache that no swap PTE
   * refers to any more leaves it and is marked dirty (its swap copy is gone). False when it is not
   * in the swap cache or still swapped. Simplified: no writeback is ever in flight (pageout
   * writes synchronously), so `folio_test_writeback()` is never true.
   */
  folioFreeSwap(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    if (f.swap === null || this.folioSwapped(m, head)) return false;
    this.deleteFromSwapCache(m, head);
    f.dirty = true;
    return true;
  }

  /**
   * Mirrors `free_swap_and_cache_nr()` (mm/swapfile.c, 6.12), called by zap for `nr` swap PTEs
   * whose slots run from `slot`: every slot loses a count; then each slot left holding only its
   * cache page (`swap_map == SWAP_HAS_CACHE`) gets `__try_to_reclaim_swap()` with TTRS_UNMAPPED,
   * once per folio (the walk skips to the next folio boundary). The reference calls it with nr 1.
   */
  freeSwapAndCacheNr(m: Machine, slot: number, nr: number): void {
    this.swapFreeNr(m, slot, nr);
    for (let off = slot; off < slot + nr; ) {
      const s = swapSlot(m, off);
      let step = 1;
      if (s.count === 0 && s.cached !== null) {
        const folioNr = this.tryToReclaimSwap(m, off);
        // ALIGN(offset + 1, nr) - offset: folios are naturally aligned in swap.
        step = Math.ceil((off + 1) / folioNr) * folioNr - off;
      }
      off += step;
    }
  }

  /**
   * Mirrors `__try_to_reclaim_swap()` (mm/swapfile.c, 6.12) with TTRS_UNMAPPED: the folio in the
   * swap cache for `slot`, if it is not mapped and none of its slots has a swap PTE left
   * (`swap_only_has_cache()`), leaves the swap cache and is marked dirty; dropping the swap
   * cache's references may free it. Returns the folio's page count (the caller skips to the next
   * folio boundary). Simplified: `folio_trylock()` always succeeds (no lock holder outlives an op
   * that could meet a zap).
   */
  tryToReclaimSwap(m: Machine, slot: number): number {
    const cached = swapSlot(m, slot).cached;
    if (cached === null) return 1;
    const head = folioHead(m, cached);
    const f = folioAt(m, head);
    const nr = folioNrPages(f.order);
    if (this.folioMapped(m, head) || this.folioSwapped(m, head)) return nr;
    this.folioGet(m, head); // filemap_get_folio()
    this.deleteFromSwapCache(m, head);
    f.dirty = true;
    mark(m, 'zap freed a swap-cache folio with its last swap entry');
    this.folioPut(m, head);
    return nr;
  }

  /**
   * Mirrors `free_swap_cache()` (mm/swap_state.c, 6.12), which zap's page freeing
   * (`free_pages_and_swap_cache()`) calls before it drops a page's reference: a folio in the swap
   * cache that nothing maps any more leaves it if no swap entry refers to it (`folio_free_swap()`).
   * Simplified: `folio_trylock()` always succeeds.
   */
  freeSwapCache(m: Machine, head: Pfn): void {
    if (folioAt(m, head).swap !== null && !this.folioMapped(m, head)) this.folioFreeSwap(m, head);
  }

  /**
   * How many swap entries from v (at most `maxNr`) zap or MADV_FREE drop in one
   * `free_swap_and_cache_nr()` call: the reference takes them one at a time; the batched kernel
   * finds runs with `swap_pte_batch()`.
   */
  swapPteBatch(_m: Machine, _mm: MmId, _v: Vpn, _first: SwapPte, _maxNr: number): number {
    return 1;
  }

  /** Mirrors `folio_mapped()` (include/linux/mm.h): is any page of the folio mapped by a PTE or a PMD? */
  folioMapped(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    if (f.order > 0) return f.largeMapcount > 0;
    return frameAt(m, head).mapcount > 0;
  }

  /**
   * Mirrors `swap_cache_get_folio()` (mm/swap_state.c, 6.12) for the page of `slot`: the page in
   * the swap cache, with a reference taken on its folio, or null.
   */
  swapCacheGetPage(m: Machine, slot: number): Pfn | null {
    const page = swapSlot(m, slot).cached;
    if (page === null) return null;
    this.folioGet(m, folioHead(m, page));
    return page;
  }

  /**
   * Mirrors `swapin_readahead()` → `__read_swap_cache_async()` + `swap_read_folio()`
   * (mm/swap_state.c, mm/page_io.c, 6.12) for one slot: a new order-0 folio, added to the swap
   * cache (SWAP_HAS_CACHE, one reference) and filled with what the slot holds; the caller keeps
   * the allocation's reference. Simplified: no readahead of neighbouring slots, and the read is
   * synchronous.
   */
  readSwapCacheAsync(m: Machine, slot: number): Pfn {
    const s = swapSlot(m, slot);
    const page = this.allocFolio(m, 0);
    const f = folioAt(m, page);
    s.cached = page;
    f.swap = slot;
    this.folioRefAdd(m, page, 1);
    frameAt(m, page, 'swap_read_folio()').content = s.content;
    return page;
  }
}
