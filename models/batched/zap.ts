import { folioNrPages } from '../machine/geometry';
import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte, SwapPte } from '../machine/pte';
import { folioAt, folioHead } from '../machine/frames';
import { mmAt, pmdAt, pmdStart, pteAt, setPmd, setPte, tableEntries } from '../machine/pgtable';
import { mark } from '../machine/marks';
import { folioTestAnon } from '../machine/files';
import { isZeroPfn } from '../machine/zeroPage';
import type { OpResult } from '../result';
import { noop } from '../result';
import type { MmuGather } from './mmuGather';
import { rangeTop } from './mmuGather';
import { folioPteBatch } from './folioPteBatch';
import type { FpbFlags, PteBatch } from './folioPteBatch';
import { BatchedTableFree } from './tableFree';
import type { KernelSteps } from '../machine/tasks';
import { overriddenBelow, runToEnd } from '../machine/tasks';
import { underPmdLock, underPtl } from '../machine/lockedCall';

/** What `zap_present_ptes()` reports through its out-parameters, plus its return value. */
export interface ZapStep {
  /** PTEs handled (>= 1). */
  readonly nr: number;
  /** The gather must be flushed before the PTL is dropped. */
  readonly forceFlush: boolean;
  /** The gather is full: stop this table and come back after the flush. */
  readonly forceBreak: boolean;
}

/**
 * Unmapping through the mmu_gather (mm/memory.c, mm/huge_memory.c, 6.12): PTE-mapped large
 * folios are zapped in batches of consecutive PTEs (one rmap call and one gather entry per
 * batch), the mapcount drops when the PTEs are cleared, and the references drop only when the
 * gathered pages are freed after the TLB flush.
 */
export abstract class BatchedZap extends BatchedTableFree {
  /** Mirrors `folio_pte_batch()` (mm/internal.h); see folioPteBatch.ts. A method so a variant can override it. */
  folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, maxNr: number, flags: FpbFlags): PteBatch {
    return folioPteBatch(m, mm, v, pte, maxNr, flags);
  }

  /**
   * Mirrors `zap_page_range_single()` (mm/memory.c) with its preemption points (issue 11):
   * gather, `unmap_page_range()` — which stops after every PMD slot it changed, its PTL dropped
   * and the flush still owed — then 'zap: before tlb_finish_mmu()', then finish. Keeps: when it
   * returns, every gathered page has been flushed from the TLBs and its references dropped. The
   * plain `zapPageRange()` (inherited) runs this to its end.
   */
  override *zapPageRangeSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    const tlb = this.tlbGatherMmu(m, mm, false);
    // Stryker disable next-line StringLiteral: the registered kernels run the *Steps twin
    if (overriddenBelow(this, 'unmapPageRangeSteps', 'unmapPageRange')) this.unmapPageRange(m, tlb, start, end);
    else yield* this.unmapPageRangeSteps(m, tlb, start, end);
    // Stryker disable next-line StringLiteral: message text
    yield 'zap: before tlb_finish_mmu()';
    this.tlbFinishMmu(m, tlb);
  }

  /**
   * Mirrors `unmap_page_range()` → `zap_pmd_range()` (mm/memory.c): a PMD leaf wholly inside the
   * range is zapped as one mapping, a partly covered one is split first; a PTE table is zapped
   * until `zap_pte_range()` has reached the end (it returns early when the gather filled).
   * Runs `unmapPageRangeSteps()` to its end (exit_mmap() has no preemption point of its own here).
   */
  unmapPageRange(m: Machine, tlb: MmuGather, start: Vpn, end: Vpn): void {
    runToEnd(this.unmapPageRangeSteps(m, tlb, start, end));
  }

  /**
   * `unmapPageRange()` with its preemption points: after each PMD slot that held a table or a
   * leaf ('zap: table done, PTL dropped'), where `zap_pte_range()` has dropped the PTL and
   * `zap_pmd_range()` may `cond_resched()`; the gather keeps the cleared pages until its flush.
   */
  *unmapPageRangeSteps(m: Machine, tlb: MmuGather, start: Vpn, end: Vpn): KernelSteps {
    const ppt = m.geometry.ptrsPerPte;
    for (let i = Math.floor(start / ppt); i * ppt < end; i++) {
      const lo = Math.max(start, pmdStart(m, i));
      const hi = Math.min(end, pmdStart(m, i) + ppt);
      const pmd = pmdAt(m, tlb.mm, i);
      // Stryker disable next-line StringLiteral: visits nothing more that matters
      if (pmd.kind === 'none') continue;
      if (pmd.kind === 'leaf' && hi - lo === ppt) {
        underPmdLock(m, tlb.mm, i, () => this.zapHugePmd(m, tlb.mm, i, tlb));
      } else {
        if (pmd.kind === 'leaf') underPmdLock(m, tlb.mm, i, () => this.splitHugePmd(m, tlb.mm, i));
        // One PTL hold per zap_pte_range() call (it returns early when the gather filled).
        // Simplified: a forced flush frees the pages with the PTL still held here.
        for (let v = asVpn(lo); v < hi; ) {
          const from = v;
          v = underPtl(m, tlb.mm, i, () => this.zapPteRange(m, tlb.mm, from, asVpn(hi), tlb));
        }
      }
      // Stryker disable next-line StringLiteral: message text
      yield 'zap: table done, PTL dropped';
    }
  }

  /**
   * Mirrors `zap_pte_range()` (mm/memory.c) over [start, end) inside one PTE table; returns where
   * it stopped (< end when the gather filled). Called without a gather (as the reference's
   * zapPageRange would), it runs in a gather of its own.
   *
   * Under the PTL it first calls `flush_tlb_batched_pending()`. After the loop, a forced flush
   * happens in two halves: TLB flush and delayed rmaps *with the PTL held* (folio_mkclean() takes
   * it), then freeing the pages after the PTL is dropped.
   * Swap entries go a run at a time through `zapSwapPtes()` (`zap_nonpresent_ptes()`).
   * Simplified: no need_resched() break; no migration entries (they never outlive an op outside
   * a migration task, and a zap waits for those).
   */
  override zapPteRange(m: Machine, mm: MmId, start: Vpn, end: Vpn, tlb?: MmuGather): Vpn {
    // Stryker disable next-line BlockStatement: the other side is unreachable in the model
    if (tlb === undefined) {
      // Stryker disable next-line BooleanLiteral: the other side is unreachable in the model
      const own = this.tlbGatherMmu(m, mm, false);
      // Stryker disable next-line ConditionalExpression,EqualityOperator: the other side is unreachable in the model
      for (let v = start; v < end; ) v = this.zapPteRange(m, mm, v, end, own);
      this.tlbFinishMmu(m, own);
      return end;
    }
    this.flushTlbBatchedPending(m, mm);
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    let forceFlush = false;
    let v = start;
    while (v < end) {
      const pte = pteAt(m, mm, v);
      if (pte !== null && pte.kind === 'swap') {
        const nr = this.swapPteBatch(m, mm, v, pte, end - v);
        this.zapSwapPtes(m, mm, v, nr);
        v = asVpn(v + nr);
        continue;
      }
      if (pte === null || pte.kind !== 'present') {
        v = asVpn(v + 1);
        continue;
      }
      const r = this.zapPresentPtes(m, tlb, v, pte, end - v);
      // Stryker disable next-line ArithmeticOperator,LogicalOperator,StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it); message text
      this.warnOn(m, r.nr < 1 || v + r.nr > end, `zap_present_ptes returned ${r.nr} at ${v} (end ${end})`);
      // Stryker disable next-line MethodExpression: visits nothing more that matters
      v = asVpn(v + Math.max(1, r.nr));
      forceFlush ||= r.forceFlush;
      if (r.forceBreak) break;
    }
    // Stryker disable next-line BlockStatement,ConditionalExpression: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    if (forceFlush) {
      // Do the actual TLB flush before dropping the PTL, then the delayed rmaps.
      this.tlbFlushMmuTlbonly(m, tlb);
      this.tlbFlushRmaps(m, tlb);
    }
    // pte_unmap_unlock()
    if (forceFlush) this.tlbFlushMmu(m, tlb);
    return v;
  }

  /**
   * Mirrors `swap_pte_batch()` (mm/internal.h, 6.12): how many PTEs from v (at most `maxNr`) hold
   * swap entries of consecutive slots with the same exclusive bit as the first, so that
   * `free_swap_and_cache_nr()` can drop them in one call.
   */
  override swapPteBatch(m: Machine, mm: MmId, v: Vpn, first: SwapPte, maxNr: number): number {
    let nr = 1;
    while (nr < maxNr) {
      const next = pteAt(m, mm, asVpn(v + nr));
      if (next === null || next.kind !== 'swap' || next.slot !== first.slot + nr || next.exclusive !== first.exclusive) break;
      nr++;
    }
    if (nr > 1) mark(m, 'zap freed a run of swap entries once');
    return nr;
  }

  /**
   * Mirrors `zap_present_ptes()` (mm/memory.c, 6.12): a large folio is zapped a batch at a time
   * (`folio_pte_batch()` with dirty and soft-dirty ignored), a small one a PTE at a time. The
   * shared zero page (`vm_normal_page()` NULL) is one PTE: `ptep_get_and_clear_full()`,
   * `tlb_remove_tlb_entry()`, nothing gathered, freed or uncounted — and a batch never starts on
   * it. There is no `zap_details` filter in an anonymous-only model.
   */
  zapPresentPtes(m: Machine, tlb: MmuGather, v: Vpn, pte: PresentPte, maxNr: number): ZapStep {
    if (isZeroPfn(m, pte.pfn)) {
      this.clearFullPtes(m, tlb.mm, v, 1);
      this.tlbRemoveTlbEntries(tlb, v, 1);
      // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
      mark(m, 'zap cleared a zero-page PTE');
      // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
      return { nr: 1, forceFlush: false, forceBreak: false };
    }
    const head = folioHead(m, pte.pfn);
    const folio = folioAt(m, head);
    let nr = 1;
    // Stryker disable next-line BlockStatement,ConditionalExpression,EqualityOperator,LogicalOperator: visits nothing more that matters; a smaller batch or the per-PTE path: any batch size >= 1 is correct
    if (folio.order > 0 && maxNr !== 1) {
      // Stryker disable next-line BooleanLiteral,ObjectLiteral: a smaller batch or the per-PTE path: any batch size >= 1 is correct
      nr = this.folioPteBatch(m, tlb.mm, v, pte, maxNr, { ignoreDirty: true }).nr;
      // Stryker disable next-line ArithmeticOperator: tracepoint only (coverage, not behaviour)
      this.markBatchCut(m, v, nr, maxNr, head + folioNrPages(folio.order) - pte.pfn);
    }
    return { nr, ...this.zapPresentFolioPtes(m, tlb, v, pte, nr) };
  }

  /**
   * Mirrors `zap_present_folio_ptes()` (mm/memory.c, 6.12): clear nr PTEs — for a file folio
   * `get_and_clear_full_ptes()`, which ORs their dirty bits, and a dirty one dirties the folio
   * (`folio_mark_dirty()`) — record them for the flush, remove the rmap now unless
   * `zapDelayRmap()` says to delay it, and queue the nr references.
   */
  zapPresentFolioPtes(m: Machine, tlb: MmuGather, v: Vpn, pte: PresentPte, nr: number): Omit<ZapStep, 'nr'> {
    const head = folioHead(m, pte.pfn);
    const file = !folioTestAnon(folioAt(m, head));
    let dirty = pte.dirty;
    for (let k = 1; file && k < nr; k++) {
      const p = pteAt(m, tlb.mm, asVpn(v + k));
      dirty ||= p !== null && p.kind === 'present' && p.dirty;
    }
    const delayRmap = this.zapDelayRmap(m, tlb, { ...pte, dirty });
    this.clearFullPtes(m, tlb.mm, v, nr);
    if (file && dirty) this.folioMarkDirty(m, head);
    this.tlbRemoveTlbEntries(tlb, v, nr);
    if (!delayRmap) this.folioRemoveRmapPtes(m, pte.pfn, nr, tlb.mm);
    const full = this.tlbRemoveFolioPagesRaw(m, tlb, pte.pfn, nr, delayRmap);
    return { forceFlush: full || delayRmap, forceBreak: full };
  }

  /**
   * Mirrors the `delay_rmap` decision of `zap_present_folio_ptes()` (mm/memory.c, 6.12): only a
   * file folio (`!folio_test_anon()`) whose cleared PTEs were dirty (`pte` carries the OR of their
   * dirty bits) delays its rmap removal, and only where `tlb_delay_rmap()` holds (SMP, not s390),
   * so that `folio_mkclean()` cannot find the folio unmapped — and skip it — while a CPU may still
   * store through a dirty TLB entry; that also forces the flush, under the PTL, at the end of the
   * table (5df397dec7c4, "mm: delay page_remove_rmap() until after the TLB has been flushed").
   */
  zapDelayRmap(m: Machine, _tlb: MmuGather, pte: PresentPte): boolean {
    if (!pte.dirty || folioTestAnon(folioAt(m, folioHead(m, pte.pfn)))) return false;
    mark(m, 'zap delayed the rmap of a dirty file page');
    return true;
  }

  /** Mirrors `clear_full_ptes()` (include/linux/pgtable.h): clear nr consecutive PTEs. */
  clearFullPtes(m: Machine, mm: MmId, v: Vpn, nr: number): void {
    for (let k = 0; k < nr; k++) setPte(m, mm, asVpn(v + k), { kind: 'none' });
  }

  /**
   * Mirrors `zap_huge_pmd()` (mm/huge_memory.c) for an anonymous THP: clear the PMD, record its
   * range, remove the PMD rmap immediately (there is no delayed rmap at PMD level), and queue one
   * reference — the PMD mapping's — with `tlb_remove_page_size()`. The deposited table is not
   * modelled (splitHugePmd allocates one).
   */
  override zapHugePmd(m: Machine, mm: MmId, i: number, tlb?: MmuGather): void {
    // Stryker disable next-line BlockStatement: the other side is unreachable in the model
    if (tlb === undefined) {
      // Stryker disable next-line BooleanLiteral: the other side is unreachable in the model
      const own = this.tlbGatherMmu(m, mm, false);
      this.zapHugePmd(m, mm, i, own);
      this.tlbFinishMmu(m, own);
      return;
    }
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'leaf') return;
    setPmd(m, mm, i, { kind: 'none' });
    this.tlbRemovePmdTlbEntry(m, tlb, i);
    this.folioRemoveRmapPmd(m, pmd.pfn, mm);
    this.tlbRemovePageSize(m, tlb, pmd.pfn);
  }

  /**
   * Mirrors `exit_mmap()` (mm/mmap.c): one fullmm gather for `unmap_vmas()` and `free_pgtables()`,
   * so forced flushes are `flush_tlb_mm()` and the tables are freed by RCU after the final flush.
   */
  override exitMmap(m: Machine, mm: MmId): void {
    // Stryker disable next-line BooleanLiteral: visits nothing more that matters
    const tlb = this.tlbGatherMmu(m, mm, true);
    this.unmapPageRange(m, tlb, asVpn(0), asVpn(rangeTop(m.geometry)));
    this.freePgtables(m, mm, tlb);
    this.tlbFinishMmu(m, tlb);
    mmAt(m, mm).alive = false;
  }

  /**
   * Mirrors `free_pgtables()` → `free_pte_range()` (mm/memory.c): unlink each PTE table from its
   * PMD and hand it to `pte_free_tlb()`. Without a gather it runs in one of its own.
   */
  override freePgtables(m: Machine, mm: MmId, tlb?: MmuGather): void {
    // Stryker disable next-line BlockStatement: the other side is unreachable in the model
    if (tlb === undefined) {
      // Stryker disable next-line BooleanLiteral: the other side is unreachable in the model
      const own = this.tlbGatherMmu(m, mm, false);
      this.freePgtables(m, mm, own);
      this.tlbFinishMmu(m, own);
      return;
    }
    for (let i = 0; i < m.geometry.pmdsPerMm; i++) {
      const pmd = pmdAt(m, mm, i);
      if (pmd.kind !== 'table') continue;
      // Stryker disable next-line ArrowFunction,MethodExpression: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
      this.warnOn(m, tableEntries(m, pmd.table).some((e) => e.kind !== 'none'), `freeing a non-empty PTE table of mm ${mm}`);
      setPmd(m, mm, i, { kind: 'none' });
      this.pteFreeTlb(m, tlb, pmd.table, pmdStart(m, i));
    }
  }

  /**
   * Mirrors `try_to_free_pte()` (mm/pt_reclaim.c) → `free_pte()`: under the PMD lock and PTL,
   * recheck that every entry is none, clear the PMD, and free the table with `pte_free_tlb()`
   * through a gather (the zap's own gather in the kernel; here one for this op).
   */
  override reclaimPteTable(m: Machine, mm: MmId, i: number): OpResult {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'table') return noop('no PTE table');
    if (!this.tableIsEmpty(m, pmd.table)) return noop('PTE table not empty');
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    const tlb = this.tlbGatherMmu(m, mm, false);
    setPmd(m, mm, i, { kind: 'none' });
    this.pteFreeTlb(m, tlb, pmd.table, pmdStart(m, i));
    this.tlbFinishMmu(m, tlb);
    return { kind: 'done' };
  }

  /** Tracepoints for coverage: where a PTE batch of a large folio ended. */
  // Stryker disable next-line BlockStatement: tracepoint only (coverage, not behaviour)
  markBatchCut(m: Machine, v: Vpn, nr: number, maxNr: number, folioLeft: number): void {
    // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator,StringLiteral: tracepoint only (coverage, not behaviour)
    if (nr === folioLeft && nr > 1) mark(m, 'pte batch cut at folio end');
    // Stryker disable next-line ArithmeticOperator,ConditionalExpression,EqualityOperator,LogicalOperator,StringLiteral: tracepoint only (coverage, not behaviour)
    else if (nr === maxNr && nr < folioLeft && (v + nr) % m.geometry.ptrsPerPte === 0) mark(m, 'pte batch cut at table end');
  }
}
