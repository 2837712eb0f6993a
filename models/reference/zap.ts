import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt, folioHead } from '../machine/frames';
import { folioTestAnon } from '../machine/files';
import { mmAt, mmapLockOf, pmdAt, pmdStart, pteAt, setPmd, setPte, tableEntries } from '../machine/pgtable';
import { underPmdLock, underPtl } from '../machine/lockedCall';
import { lockAcquire, lockRelease } from '../machine/locks';
import { mark } from '../machine/marks';
import { isZeroPfn } from '../machine/zeroPage';
import { FaultPaths } from './faults';
import type { KernelSteps } from '../machine/tasks';
import { runToEnd } from '../machine/tasks';

/**
 * Unmapping: MADV_DONTNEED / munmap of a range, and exit. The reference unmaps one page at a
 * time in the order tlb.h demands — unhook, TLB invalidate, then free — with nothing batched.
 */
export abstract class ZapPaths extends FaultPaths {
  /**
   * Mirrors `zap_page_range_single()` → `unmap_page_range()` (mm/memory.c) over [start, end): a
   * PMD leaf wholly inside the range is zapped as one mapping, a partly covered one is split first.
   * Runs `zapPageRangeSteps()` to its end: a variant overrides this plain method as before (a
   * task then runs it whole, see docs/concurrency.md).
   */
  zapPageRange(m: Machine, mm: MmId, start: Vpn, end: Vpn): void {
    runToEnd(this.zapPageRangeSteps(m, mm, start, end));
  }

  /**
   * `zapPageRange()` with its preemption points (issue 11): after each PMD slot that held a
   * table or a leaf ('zap: table done, PTL dropped': `pte_unmap_unlock()`, then
   * `zap_pmd_range()`'s `cond_resched()`), and once more before it returns ('zap: before
   * tlb_finish_mmu()'), so the reference and the batched kernel follow one schedule. The
   * reference flushes each page as it clears it, so at its points nothing is owed; it raises
   * `mm->tlb_flush_pending` for the range's life as `tlb_gather_mmu()` does in every kernel.
   */
  *zapPageRangeSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    const state = mmAt(m, mm);
    state.tlbFlushPending++;
    const ppt = m.geometry.ptrsPerPte;
    for (let i = Math.floor(start / ppt); i * ppt < end; i++) {
      const lo = Math.max(start, pmdStart(m, i));
      const hi = Math.min(end, pmdStart(m, i) + ppt);
      const pmd = pmdAt(m, mm, i);
      if (pmd.kind === 'none') continue;
      if (pmd.kind === 'leaf' && hi - lo === ppt) {
        underPmdLock(m, mm, i, () => this.zapHugePmd(m, mm, i));
      } else {
        if (pmd.kind === 'leaf') underPmdLock(m, mm, i, () => this.splitHugePmd(m, mm, i));
        underPtl(m, mm, i, () => this.zapPteRange(m, mm, asVpn(lo), asVpn(hi)));
      }
      yield 'zap: table done, PTL dropped';
    }
    yield 'zap: before tlb_finish_mmu()';
    state.tlbFlushPending--;
  }

  /**
   * Mirrors `madvise_dontneed_single_vma()` under `do_madvise()` (mm/madvise.c, 6.12) as a
   * task: MADV_DONTNEED takes `mmap_lock` for read (`madvise_need_mmap_write()` is false for it),
   * so faults and other zaps of the mm may run inside its window while fork, mremap, mprotect
   * and exit wait. It takes `mmap_lock` for read (locks.ts; `mmapReaders` counts it on the mm for
   * the trace), and `zapPageRangeSteps()` each slot's PTL or PMD lock.
   */
  *madviseDontneedSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    const state = mmAt(m, mm);
    lockAcquire(m, mmapLockOf(mm, 'read'));
    state.mmapReaders++;
    yield* this.zapPageRangeSteps(m, mm, start, end);
    state.mmapReaders--;
    lockRelease(m, mmapLockOf(mm, 'read'));
  }

  /**
   * Per-page counterpart of `zap_pte_range()` (mm/memory.c): every present PTE in [start, end) of
   * one table, after `flush_tlb_batched_pending()` under the PTL.
   */
  zapPteRange(m: Machine, mm: MmId, start: Vpn, end: Vpn): void {
    this.flushTlbBatchedPending(m, mm);
    for (let v = start; v < end; v++) this.zapOnePte(m, mm, asVpn(v));
  }

  /**
   * Mirrors `flush_tlb_batched_pending()` (mm/rmap.c, 6.12), which `zap_pte_range()`,
   * `change_pte_range()` and `move_ptes()` call under the PTL before changing PTEs: if a batched
   * unmap of this mm (`set_tlb_ubc_flush_pending()`) happened since the last call, the task that
   * did it may not have flushed yet, so flush the whole mm (`arch_flush_tlb_batched_pending()` =
   * `flush_tlb_mm()` on x86) and record everything pending so far as flushed. It closes the race
   * "munmap/mprotect/mremap against a deferred reclaim or migration flush". The reference never
   * defers a flush, so for it this never flushes.
   */
  flushTlbBatchedPending(m: Machine, mm: MmId): void {
    const b = mmAt(m, mm).tlbFlushBatched;
    if (b.pending === b.flushed) return;
    this.flushTlbMm(m, mm);
    b.flushed = b.pending;
    mark(m, 'flush_tlb_batched_pending flushed an mm');
    // The race it exists for (3ea277194daa): a reclaim stopped with its tlb_ubc flush owed.
    if (m.cpus.some((c) => c.task?.op === 'reclaim')) mark(m, 'flush_tlb_batched_pending flushed for a preempted reclaim');
  }

  /**
   * Unmap one page, the per-page `zap_present_ptes()` (mm/memory.c, 6.12): clear the PTE, flush
   * it from every TLB, drop the rmap, drop the reference. A file page whose PTE was dirty dirties
   * its folio (`folio_mark_dirty()`); its rmap goes only after the flush, as the batched kernel's
   * delayed rmap ensures (rule R2 (docs/kernel-semantics.md §10): `folio_mkclean()` must not find it unmapped while a TLB entry
   * may still write to it). The shared zero page
   * (`vm_normal_page()` NULL) is only cleared and flushed: it has no rmap or reference to drop.
   */
  zapOnePte(m: Machine, mm: MmId, v: Vpn): void {
    const pte = pteAt(m, mm, v);
    if (pte !== null && pte.kind === 'swap') {
      this.zapSwapPtes(m, mm, v, 1);
      return;
    }
    if (pte === null || pte.kind !== 'present') return;
    setPte(m, mm, v, { kind: 'none' });
    this.flushTlbPage(m, mm, v);
    if (isZeroPfn(m, pte.pfn)) {
      mark(m, 'zap cleared a zero-page PTE');
      return;
    }
    if (pte.dirty && !folioTestAnon(folioAt(m, folioHead(m, pte.pfn)))) this.folioMarkDirty(m, folioHead(m, pte.pfn));
    this.folioRemoveRmapPtes(m, pte.pfn, 1, mm);
    this.freeSwapCache(m, folioHead(m, pte.pfn)); // free_pages_and_swap_cache()
    this.folioPut(m, folioHead(m, pte.pfn));
  }

  /**
   * The swap branch of `zap_nonpresent_ptes()` (mm/memory.c, 6.12) for `nr` swap entries from v
   * whose slots are consecutive: clear them (`clear_not_present_full_ptes()`; no flush, they were
   * not present) and `free_swap_and_cache_nr()`. The reference zaps one entry at a time; the
   * batched kernel finds runs with `swap_pte_batch()`.
   */
  zapSwapPtes(m: Machine, mm: MmId, v: Vpn, nr: number): void {
    const first = pteAt(m, mm, v);
    if (first === null || first.kind !== 'swap') return;
    for (let k = 0; k < nr; k++) setPte(m, mm, asVpn(v + k), { kind: 'none' });
    this.freeSwapAndCacheNr(m, first.slot, nr);
  }

  /**
   * Mirrors `zap_huge_pmd()` (mm/huge_memory.c): clear the PMD, flush its range, remove the PMD
   * rmap, drop the one reference the PMD mapping holds.
   */
  zapHugePmd(m: Machine, mm: MmId, i: number): void {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'leaf') return;
    setPmd(m, mm, i, { kind: 'none' });
    this.flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte);
    this.folioRemoveRmapPmd(m, pmd.pfn, mm);
    this.freeSwapCache(m, pmd.pfn); // free_pages_and_swap_cache()
    this.folioPut(m, pmd.pfn);
  }

  /**
   * Mirrors `exit_mmap()` (mm/mmap.c): unmap everything, then `free_pgtables()`: each PTE table
   * is unlinked, flushed (freed_tables) and freed once no walker can reach it.
   */
  exitMmap(m: Machine, mm: MmId): void {
    const nrPages = m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
    this.zapPageRange(m, mm, asVpn(0), asVpn(nrPages));
    this.freePgtables(m, mm);
    mmAt(m, mm).alive = false;
  }

  /** Mirrors `free_pgtables()` → `free_pte_range()` (mm/memory.c): unlink every PTE table, flush, free. */
  freePgtables(m: Machine, mm: MmId): void {
    const ppt = m.geometry.ptrsPerPte;
    for (let i = 0; i < m.geometry.pmdsPerMm; i++) {
      const pmd = pmdAt(m, mm, i);
      if (pmd.kind !== 'table') continue;
      this.warnOn(m, tableEntries(m, pmd.table).some((e) => e.kind !== 'none'), `freeing a non-empty PTE table of mm ${mm}`);
      setPmd(m, mm, i, { kind: 'none' });
      this.flushTlbRange(m, mm, i * ppt, (i + 1) * ppt, true);
      this.freePteTable(m, pmd.table);
    }
  }
}
