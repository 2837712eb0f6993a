import { folioNrPages } from '../machine/geometry';
import type { MmId, Pfn, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { folioAt, folioHead } from '../machine/frames';
import { mark } from '../machine/marks';
import { firstFileVmaPage, folioTestAnon } from '../machine/files';
import { mmAt, mmapLockOf, pmdAt, pmdIndexOf, pmdStart, pteAt, setPmd, setPte } from '../machine/pgtable';
import { isZeroPfn } from '../machine/zeroPage';
import { lockAcquire, lockRelease, ownPtls } from '../machine/locks';
import type { OpResult } from '../result';
import { noop } from '../result';
import type { PreemptPoint } from '../machine/tasks';
import { runToEndWith } from '../machine/tasks';
import type { MmuGather } from '../batched/mmuGather';
import { ReclaimPaths } from './reclaim';

/**
 * One madvise() walk's private state (`struct madvise_walk_private`, mm/madvise.c, 6.12): the
 * mm, the caller's `mmu_gather` — null in the reference, which flushes each PTE as it changes it
 * — and, for MADV_PAGEOUT, the folios it isolated for `reclaim_pages()`.
 */
export interface MadviseWalk {
  readonly mm: MmId;
  readonly tlb: MmuGather | null;
  readonly list: Pfn[];
}

/** The madvise() advices on the reclaim side (include/uapi/asm-generic/mman-common.h). */
export type ReclaimAdvice = 'cold' | 'pageout' | 'free';

/** What `madviseLargeFolio()` decided for a large folio met at an address. */
export type LargeFolioStep =
  /** The range maps the whole folio from here: act on all `nr` pages at once. */
  | { readonly kind: 'whole'; readonly nr: number }
  /** Leave these `nr` pages alone (likely shared, or the split failed). */
  | { readonly kind: 'skip'; readonly nr: number }
  /** It was split: look at the same address again, now an order-0 folio. */
  | { readonly kind: 'split' };

/**
 * MADV_COLD, MADV_PAGEOUT and MADV_FREE on anonymous memory (mm/madvise.c, 6.12), with the large-
 * folio rule of seed 001's thread ("madvise: make madvise_cold_or_pageout_pte_range() support
 * large folio", merged in 6.9, and its MADV_FREE twin): a large folio the range maps whole is
 * handled whole; one it does not is split first, unless it is likely mapped by another process
 * (`folio_likely_mapped_shared()`), and then its pages are left alone. A folio mapped anywhere
 * else (`folio_mapcount() != folio_nr_pages()`) is never made old, paged out or freed.
 *
 * The reference walks page by page and flushes each PTE whose young or dirty bit it clears; the
 * batched kernel batches a large folio's PTEs with `folio_pte_batch()` and swap entries with
 * `swap_pte_batch()`, and flushes once per batch (models/batched/reclaim.ts).
 */
export abstract class MadvisePaths extends ReclaimPaths {
  /**
   * madvise() of [start, end) with MADV_COLD, MADV_PAGEOUT (`madvise_cold()`, `madvise_pageout()`)
   * or MADV_FREE (`madvise_free_single_vma()`): under `mmap_lock` for read, the advice's page
   * walk per PMD slot; then MADV_PAGEOUT reclaims the folios it isolated (`reclaim_pages()`).
   */
  madvise(m: Machine, mm: MmId, start: Vpn, end: Vpn, advice: ReclaimAdvice): OpResult {
    return runToEndWith(this.madviseSteps(m, mm, start, end, advice));
  }

  /**
   * `madvise()` with its preemption point (docs/concurrency.md): after each PMD slot the walk
   * changed ('madvise: table done, PTL dropped': the PTE callback's `pte_unmap_unlock()` and the
   * walk's `cond_resched()`), with the batched kernel's flush of the cleared young and dirty bits
   * still owed to `tlb_finish_mmu()`.
   */
  *madviseSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn, advice: ReclaimAdvice): Generator<PreemptPoint, OpResult, void> {
    // madvise_walk_vmas(): MADV_FREE of a file VMA fails with -EINVAL (`madvise_dontneed_free_valid_vma()`
    // wants an anonymous VMA), after the VMAs before it were handled.
    if (advice === 'free') end = firstFileVmaPage(m, mm, start, end);
    if (end <= start) return noop('MADV_FREE of a file mapping: -EINVAL');
    lockAcquire(m, mmapLockOf(mm, 'read'));
    mmAt(m, mm).mmapReaders++;
    const walk = this.madviseWalkBegin(m, mm);
    const ppt = m.geometry.ptrsPerPte;
    for (let i = pmdIndexOf(m, start); i < m.geometry.pmdsPerMm && pmdStart(m, i) < end; i++) {
      if (pmdAt(m, mm, i).kind === 'none') continue;
      const s = asVpn(Math.max(start, pmdStart(m, i)));
      const e = asVpn(Math.min(end, pmdStart(m, i) + ppt));
      ownPtls(m, () => (advice === 'free' ? this.madviseFreePmd(m, walk, i, s, e) : this.madviseColdOrPageoutPmd(m, walk, i, s, e, advice)));
      yield 'madvise: table done, PTL dropped';
    }
    this.madviseWalkEnd(m, walk);
    mmAt(m, mm).mmapReaders--;
    lockRelease(m, mmapLockOf(mm, 'read'));
    if (advice !== 'pageout') return { kind: 'done' };
    return { kind: 'reclaimed', folios: this.shrinkFolioList(m, walk.list) };
  }

  /**
   * `tlb_gather_mmu()` as madvise calls it (mm/madvise.c, 6.12): the reference keeps no gather
   * (it flushes each PTE) but raises `mm->tlb_flush_pending` for the walk's life, as every kernel's
   * `tlb_gather_mmu()` does.
   */
  madviseWalkBegin(m: Machine, mm: MmId): MadviseWalk {
    mmAt(m, mm).tlbFlushPending++;
    return { mm, tlb: null, list: [] };
  }

  /** `tlb_finish_mmu()` at the end of the walk: the reference has nothing left to flush. */
  madviseWalkEnd(m: Machine, walk: MadviseWalk): void {
    mmAt(m, walk.mm).tlbFlushPending--;
  }

  /**
   * Mirrors the PMD half of `madvise_cold_or_pageout_pte_range()` (mm/madvise.c, 6.12) for slot
   * i, pages [s, e): a PMD leaf likely mapped shared is left alone; one the range does not cover
   * is split (then handled page by page); else it is made old (MADV_COLD) or isolated
   * (MADV_PAGEOUT). A PTE table is walked with `madviseColdOrPageoutPtes()`.
   */
  madviseColdOrPageoutPmd(m: Machine, walk: MadviseWalk, i: number, s: Vpn, e: Vpn, advice: 'cold' | 'pageout'): void {
    const mm = walk.mm;
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind === 'leaf') {
      if (this.folioLikelyMappedShared(m, pmd.pfn)) return;
      if (e - s === m.geometry.ptrsPerPte) {
        if (advice === 'cold' && pmd.young) {
          setPmd(m, mm, i, { ...pmd, young: false });
          this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte);
        }
        if (advice === 'pageout') this.isolateForPageout(m, pmd.pfn, walk.list);
        return;
      }
      if (!this.madviseSplitFolio(m, pmd.pfn)) return;
    }
    if (pmdAt(m, mm, i).kind === 'table') this.madviseColdOrPageoutPtes(m, walk, s, e, advice);
  }

  /**
   * The PTE half of `madvise_cold_or_pageout_pte_range()` (mm/madvise.c, 6.12), after
   * `flush_tlb_batched_pending()`: per present PTE of a normal folio, a large folio goes through
   * `madviseLargeFolio()`; a folio mapped anywhere else is left alone; otherwise MADV_COLD clears
   * the young bits (and flushes them) and MADV_PAGEOUT isolates the folio. Swap entries are skipped.
   */
  madviseColdOrPageoutPtes(m: Machine, walk: MadviseWalk, s: Vpn, e: Vpn, advice: 'cold' | 'pageout'): void {
    const mm = walk.mm;
    this.flushTlbBatchedPending(m, mm);
    for (let v: number = s; v < e; ) {
      const pte = pteAt(m, mm, asVpn(v));
      // Simplified (issue 14): file folios are left alone — MADV_FREE fails on a file VMA
      // (-EINVAL), and MADV_COLD/PAGEOUT of file pages is not modelled yet.
      if (pte === null || pte.kind !== 'present' || isZeroPfn(m, pte.pfn) || !folioTestAnon(folioAt(m, folioHead(m, pte.pfn)))) {
        v++;
        continue;
      }
      const head = folioHead(m, pte.pfn);
      const step = this.madviseLargeFolio(m, mm, asVpn(v), e, pte);
      if (step.kind === 'split') continue;
      if (step.kind === 'whole' && !this.madviseFolioMappedElsewhere(m, head)) {
        if (advice === 'cold') this.madviseClearPtes(m, walk, asVpn(v), step.nr, false);
        else this.isolateForPageout(m, head, walk.list);
      }
      v += step.nr;
    }
  }

  /**
   * Mirrors `madvise_free_pte_range()` (mm/madvise.c, 6.12) for slot i, pages [s, e), with
   * `madvise_free_huge_pmd()` for a PMD leaf: a leaf likely mapped shared is left alone; one the
   * range does not cover is split and its PTEs walked; else it is cleaned, made old (flushed) and
   * marked lazyfree. Then `madviseFreePtes()`.
   */
  madviseFreePmd(m: Machine, walk: MadviseWalk, i: number, s: Vpn, e: Vpn): void {
    const mm = walk.mm;
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind === 'leaf') {
      if (this.folioLikelyMappedShared(m, pmd.pfn)) return;
      if (e - s === m.geometry.ptrsPerPte) {
        folioAt(m, pmd.pfn).dirty = false; // folio_clear_dirty()
        if (pmd.young || pmd.dirty) {
          setPmd(m, mm, i, { ...pmd, young: false, dirty: false }); // pmdp_invalidate() + pmd_mkold(pmd_mkclean())
          this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte);
        }
        this.folioMarkLazyfree(m, pmd.pfn);
        return;
      }
      if (!this.madviseSplitFolio(m, pmd.pfn)) return;
    }
    if (pmdAt(m, mm, i).kind === 'table') this.madviseFreePtes(m, walk, s, e);
  }

  /**
   * The PTE walk of `madvise_free_pte_range()` (mm/madvise.c, 6.12), after
   * `flush_tlb_batched_pending()`: swap entries are dropped (`free_swap_and_cache_nr()`, a run
   * at a time as `swap_pte_batch()` finds it: the data is freed, a later read sees zeroes); a
   * large folio goes through `madviseLargeFolio()`; a folio in the swap cache or dirty must be
   * mapped by this range only, and leaves the swap cache (`folio_free_swap()`, else it is left
   * alone) and is cleaned (`folio_clear_dirty()`); then its PTEs lose their young and dirty bits
   * — flushed, so no CPU keeps a dirty translation a store could use without setting the PTE's
   * dirty bit again — and the folio is marked lazyfree.
   */
  madviseFreePtes(m: Machine, walk: MadviseWalk, s: Vpn, e: Vpn): void {
    const mm = walk.mm;
    this.flushTlbBatchedPending(m, mm);
    for (let v: number = s; v < e; ) {
      const pte = pteAt(m, mm, asVpn(v));
      if (pte !== null && pte.kind === 'swap') {
        const nr = this.swapPteBatch(m, mm, asVpn(v), pte, e - v);
        this.zapSwapPtes(m, mm, asVpn(v), nr);
        v += nr;
        continue;
      }
      // Simplified (issue 14): file folios are left alone — MADV_FREE fails on a file VMA
      // (-EINVAL), and MADV_COLD/PAGEOUT of file pages is not modelled yet.
      if (pte === null || pte.kind !== 'present' || isZeroPfn(m, pte.pfn) || !folioTestAnon(folioAt(m, folioHead(m, pte.pfn)))) {
        v++;
        continue;
      }
      const head = folioHead(m, pte.pfn);
      const step = this.madviseLargeFolio(m, mm, asVpn(v), e, pte);
      if (step.kind === 'split') continue;
      if (step.kind === 'whole') this.madviseFreeFolio(m, walk, asVpn(v), step.nr, head);
      v += step.nr;
    }
  }

  /** One folio (or the whole of a large one) of `madvise_free_pte_range()`: see `madviseFreePtes()`. */
  madviseFreeFolio(m: Machine, walk: MadviseWalk, v: Vpn, nr: number, head: Pfn): void {
    const f = folioAt(m, head);
    if (f.swap !== null || f.dirty) {
      if (this.madviseFolioMappedElsewhere(m, head)) return;
      if (f.swap !== null && !this.folioFreeSwap(m, head)) return;
      f.dirty = false; // folio_clear_dirty()
    }
    this.madviseClearPtes(m, walk, v, nr, true);
    this.folioMarkLazyfree(m, head);
  }

  /**
   * Mirrors `folio_mark_lazyfree()` (mm/swap.c, 6.12, through `lru_lazyfree_fn()`): a swap-backed
   * anonymous folio not in the swap cache stops being swap-backed (PG_swapbacked cleared), so
   * reclaim may discard it while it stays clean.
   */
  folioMarkLazyfree(m: Machine, head: Pfn): void {
    const f = folioAt(m, head);
    if (!f.swapbacked || f.swap !== null) return;
    f.swapbacked = false;
    mark(m, 'madvise marked a folio lazyfree');
  }

  /**
   * A large folio met at v by a madvise walk (mm/madvise.c, 6.12): how many PTEs from v map its
   * pages in order (`madvisePteBatch()`); all of them ('whole'), or fewer: then it is left alone
   * if likely mapped shared, else split (`split_folio()`) — after which the same address is
   * looked at again — and left alone if the split fails. An order-0 folio is 'whole' with nr 1.
   */
  madviseLargeFolio(m: Machine, mm: MmId, v: Vpn, e: Vpn, pte: PresentPte): LargeFolioStep {
    const head = folioHead(m, pte.pfn);
    const pages = folioNrPages(folioAt(m, head).order);
    if (pages === 1) return { kind: 'whole', nr: 1 };
    const nr = this.madvisePteBatch(m, mm, v, e, pte);
    if (nr === pages) return { kind: 'whole', nr };
    if (this.folioLikelyMappedShared(m, head)) {
      mark(m, 'madvise left a likely shared large folio alone');
      return { kind: 'skip', nr };
    }
    return this.madviseSplitFolio(m, head) ? { kind: 'split' } : { kind: 'skip', nr };
  }

  /**
   * `split_folio()` as madvise calls it (mm/madvise.c, 6.12): with a reference of its own
   * (`folio_get()` … `folio_put()`), under the folio lock; false when the split failed.
   */
  madviseSplitFolio(m: Machine, head: Pfn): boolean {
    this.folioGet(m, head);
    const pieces = this.trySplitFolio(m, head);
    if (pieces === null) {
      this.folioPut(m, head);
      return false;
    }
    for (const p of pieces) this.folioPut(m, p);
    mark(m, 'madvise split a large folio');
    return true;
  }

  /**
   * Mirrors the test `madvise_cold_or_pageout_pte_range()` and `madvise_free_pte_range()`
   * (mm/madvise.c, 6.12) make before they touch a folio: "Do not interfere with other mappings of
   * this folio" — `folio_mapcount(folio) != folio_nr_pages(folio)`. A large
   * folio got here only if this range maps all its pages, so any mapping beyond one per page is
   * someone else's. (From 6.2 to 6.8, `folio_mapcount(folio) != 1` skipped every PTE-mapped
   * large folio: commit 07e8c82b5eff, seed 001's thread.)
   */
  madviseFolioMappedElsewhere(m: Machine, head: Pfn): boolean {
    return this.folioMapcount(m, head) !== folioNrPages(folioAt(m, head).order);
  }

  /**
   * How many PTEs from v (below e) map the folio's pages in order, as `folio_pte_batch()` counts
   * them for madvise (mm/internal.h, 6.12, FPB_IGNORE_DIRTY | FPB_IGNORE_SOFT_DIRTY: the dirty,
   * young and write bits may differ). The reference counts page by page; the batched kernel
   * calls its `folioPteBatch()`.
   */
  madvisePteBatch(m: Machine, mm: MmId, v: Vpn, e: Vpn, first: PresentPte): number {
    const head = folioHead(m, first.pfn);
    const last = head + folioNrPages(folioAt(m, head).order);
    let nr = 1;
    while (v + nr < e && first.pfn + nr < last) {
      const next = pteAt(m, mm, asVpn(v + nr));
      if (next === null || next.kind !== 'present' || next.pfn !== first.pfn + nr) break;
      nr++;
    }
    return nr;
  }

  /**
   * `clear_young_dirty_ptes()` (mm/madvise.c, 6.12) + `tlb_remove_tlb_entries()` for `nr` PTEs
   * from v: CYDP_CLEAR_YOUNG (MADV_COLD), and with `clean` CYDP_CLEAR_DIRTY too (MADV_FREE). The
   * reference flushes each PTE it changes at once; the batched kernel flushes the batch's range.
   */
  madviseClearPtes(m: Machine, walk: MadviseWalk, v: Vpn, nr: number, clean: boolean): void {
    const mm = walk.mm;
    for (let k = 0; k < nr; k++) {
      const pte = pteAt(m, mm, asVpn(v + k));
      if (pte === null || pte.kind !== 'present' || !(pte.young || (clean && pte.dirty))) continue;
      setPte(m, mm, asVpn(v + k), { ...pte, young: false, dirty: clean ? false : pte.dirty });
      this.flushTlbPage(m, mm, asVpn(v + k));
    }
  }

  /**
   * MADV_PAGEOUT's `folio_isolate_lru()` (mm/vmscan.c): the folio leaves the LRU for the caller's
   * list with a reference; a folio already isolated (already on the list) is not taken twice.
   */
  isolateForPageout(m: Machine, head: Pfn, list: Pfn[]): void {
    if (list.includes(head)) return;
    this.folioGet(m, head);
    list.push(head);
  }
}
