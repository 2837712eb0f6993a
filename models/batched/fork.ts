import type { MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { folioAt, folioHead, frameAt } from '../machine/frames';
import { mmAt, pmdStart, pteAt, setPte } from '../machine/pgtable';
import { mark } from '../machine/marks';
import { isZeroPfn } from '../machine/zeroPage';
import { folioTestAnon, vmaRunLength } from '../machine/files';
import { BatchedZap } from './zap';
import type { KernelSteps } from '../machine/tasks';
import { overriddenBelow, runToEnd } from '../machine/tasks';
import { lockForkPtls, underPmdLock, unlockForkPtls } from '../machine/lockedCall';

/**
 * What `copy_present_ptes()` returns: PTEs copied, or -EAGAIN (a folio must be preallocated and
 * the copy retried from the same address).
 */
export type CopyStep = { readonly kind: 'copied'; readonly nr: number; readonly usedPrealloc: boolean } | { readonly kind: 'again' };

/**
 * fork() with PTE batching (mm/memory.c, 6.12): consecutive PTEs of a large folio are copied as
 * one batch — one `folio_ref_add(nr)`, one `folio_try_dup_anon_rmap_ptes(nr)` — with the
 * pinned-page fallback: if the folio may be pinned and the batch holds an exclusive page, the
 * batch is undone and the copy retried per PTE with a preallocated page, so that only the pinned
 * exclusive pages are copied for the child. The parent's TLB is flushed once, at the end of
 * `dup_mmap()` (inherited).
 */
export abstract class BatchedFork extends BatchedZap {
  /**
   * Mirrors `copy_pte_range()` (mm/memory.c, 6.12) for PMD slot i: walk the parent's table,
   * copying present PTEs in batches. On -EAGAIN the kernel drops both PTLs, preallocates one page
   * (`folio_prealloc()`) and restarts at the same address, where the per-PTE path runs
   * (`copy_present_ptes()` takes the batched path only without a preallocated page) and
   * `copy_present_page()` consumes the page.
   *
   * Simplified (row 18): when the retried PTE is copied without the page (its page was not
   * exclusive: the batch failed on a later one), the kernel puts it at once — "pre-alloc page
   * cannot be reused by next time so as to strictly follow mempolicy" — and the next PTEs go back
   * to the batched path, allocating a new page when a batch fails again. The model holds the page
   * until a PTE uses it, skipping the batched path meanwhile: the same page tables with fewer
   * allocations. Kept so because the differential check names a folio by its allocation order
   * within the op, and the kernel's put-and-reallocate would give the child's copies other names
   * than the reference's. Only reachable with a large folio whose pages are partly exclusive, which
   * 6.15's reuse creates (6.12 never does). See properties/lowRows.test.ts.
   */
  // Stryker disable next-line BlockStatement: the registered kernels run the *Steps twin
  override copyPteRange(m: Machine, parent: MmId, child: MmId, i: number): void {
    runToEnd(this.copyPteRangeSteps(m, parent, child, i));
  }

  /** `copyPteRange()` with the points inside `copyPresentPtesSteps()` (issue 11). */
  override *copyPteRangeSteps(m: Machine, parent: MmId, child: MmId, i: number): KernelSteps {
    underPmdLock(m, child, i, () => this.pteAlloc(m, child, i)); // pte_alloc_map_lock(): pmd_install() under pmd_lock()
    let locks = lockForkPtls(m, parent, child, i);
    const base = pmdStart(m, i);
    const ppt = m.geometry.ptrsPerPte;
    let prealloc: Pfn | null = null;
    for (let k = 0; k < ppt; ) {
      const v = asVpn(base + k);
      const pte = pteAt(m, parent, v);
      if (pte !== null && pte.kind === 'swap') this.copyNonpresentPte(m, parent, child, v, pte);
      if (pte === null || pte.kind !== 'present' || !this.vmaNeedsCopy(m, parent, v)) {
        k++;
        continue;
      }
      // copy_pte_range() runs per VMA: a batch never reaches into the next one.
      const maxNr = vmaRunLength(m, parent, v, ppt - k);
      // Stryker disable next-line StringLiteral: the registered kernels run the *Steps twin
      const r = overriddenBelow(this, 'copyPresentPtesSteps', 'copyPresentPtes')
        ? this.copyPresentPtes(m, parent, child, v, pte, maxNr, prealloc)
        : yield* this.copyPresentPtesSteps(m, parent, child, v, pte, maxNr, prealloc);
      if (r.kind === 'again') {
        // Stryker disable next-line StringLiteral: message text
        this.warnOn(m, prealloc !== null, `copy_present_ptes asked for a page while one is preallocated (vpn ${v})`);
        // -EAGAIN: both PTLs dropped, the page allocated with no lock held, then `goto again`.
        unlockForkPtls(m, locks);
        prealloc = this.folioPrealloc(m);
        locks = lockForkPtls(m, parent, child, i);
        continue;
      }
      if (r.usedPrealloc) prealloc = null;
      k += r.nr;
    }
    unlockForkPtls(m, locks);
    if (prealloc !== null) this.folioPut(m, prealloc);
  }

  /** Mirrors `folio_prealloc()` (mm/memory.c): an order-0 page for the child, allocated with no lock held. */
  // Stryker disable next-line BlockStatement: no page preallocated: copyPresentPage() allocates it itself when it copies, the same allocation
  folioPrealloc(m: Machine): Pfn {
    return this.allocFolio(m, 0);
  }

  /**
   * Mirrors `copy_present_ptes()` (mm/memory.c) for an anonymous private mapping. Batched path
   * (no preallocation held, large folio, more than one PTE left): references before mapcounts,
   * then `folio_try_dup_anon_rmap_ptes()`; on failure the references are returned and -EAGAIN
   * asks for the per-PTE retry. Single-PTE path: as the reference, except that a pinned exclusive
   * page is copied into the preallocated page (-EAGAIN when there is none yet). The shared zero page
   * is copied as an entry (`__copy_present_ptes()` with nr 1), whether or not a page is preallocated.
   */
  // Stryker disable next-line BlockStatement: the registered kernels run the *Steps twin
  copyPresentPtes(m: Machine, parent: MmId, child: MmId, v: Vpn, pte: PresentPte, maxNr: number, prealloc: Pfn | null): CopyStep {
    return runToEnd(this.copyPresentPtesSteps(m, parent, child, v, pte, maxNr, prealloc));
  }

  /**
   * `copyPresentPtes()` with its point: after `folio_try_dup_anon_rmap_ptes()` shared the batch
   * and before `__copy_present_ptes()` write-protects the parent's PTEs, 'fork: page shared,
   * parent PTE not yet write-protected' — passed once per PTE of the batch, so that a schedule
   * counts the same points as on the reference, which shares one PTE at a time.
   */
  *copyPresentPtesSteps(m: Machine, parent: MmId, child: MmId, v: Vpn, pte: PresentPte, maxNr: number, prealloc: Pfn | null): KernelSteps<CopyStep> {
    // The shared zero page: vm_normal_page() is NULL → `goto copy_pte`, one entry, nothing counted.
    if (isZeroPfn(m, pte.pfn)) {
      this.copyPresentPtesRaw(m, parent, child, v, pte, 1);
      // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
      mark(m, 'fork copied a zero-page PTE');
      // Stryker disable next-line BooleanLiteral,StringLiteral: message text
      return { kind: 'copied', nr: 1, usedPrealloc: false };
    }
    const head = folioHead(m, pte.pfn);
    // Stryker disable next-line BlockStatement,EqualityOperator: a smaller batch or the per-PTE path: any batch size >= 1 is correct
    if (prealloc === null && folioAt(m, head).order > 0 && maxNr !== 1) {
      // A private mapping: no FPB_IGNORE_DIRTY, so the batch keeps one dirty bit (6.12 passes it for VM_SHARED only).
      // Stryker disable next-line BooleanLiteral,ObjectLiteral: a smaller batch or the per-PTE path: any batch size >= 1 is correct; a bit no oracle reads (young, cleared_pmds, private dirty)
      const batch = this.folioPteBatch(m, parent, v, pte, maxNr, { ignoreDirty: false });
      this.folioRefAdd(m, head, batch.nr);
      if (!folioTestAnon(folioAt(m, head))) {
        // A large page-cache folio of a MAP_PRIVATE mapping: `folio_dup_file_rmap_ptes()`, no
        // write-protect (a store copies it, so its PTEs are read-only).
        this.folioDupFileRmapPtes(m, pte.pfn, batch.nr, child);
        this.copyPresentPtesRaw(m, parent, child, v, pte, batch.nr);
        mark(m, 'fork shared a page-cache page of a private mapping');
        // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: tracepoint only (coverage, not behaviour)
        if (batch.nr > 1) mark(m, 'fork copied a PTE batch');
        // Stryker disable next-line BooleanLiteral,StringLiteral: message text
        return { kind: 'copied', nr: batch.nr, usedPrealloc: false };
      }
      if (!this.folioTryDupAnonRmapPtes(m, parent, pte.pfn, batch.nr, child)) {
        // folio_ref_sub(): the mappings still hold references, so this never frees.
        this.folioPutRefs(m, head, batch.nr);
        // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
        mark(m, 'fork batch fell back for a pinned page');
        return { kind: 'again' };
      }
      // Stryker disable next-line ConditionalExpression,EqualityOperator: a preemption point more or less: more or fewer schedules explored, same behaviour (fork holds mmap_lock for write)
      for (let k = 0; k < batch.nr; k++) yield 'fork: page shared, parent PTE not yet write-protected';
      // any_writable: write-protect the whole batch if any entry of it is writable.
      this.copyPresentPtesRaw(m, parent, child, v, { ...pte, writable: pte.writable || batch.anyWritable }, batch.nr);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: tracepoint only (coverage, not behaviour)
      if (batch.nr > 1) mark(m, 'fork copied a PTE batch');
      // Stryker disable next-line BooleanLiteral,StringLiteral: message text; usedPrealloc on the batched path, which runs only when no page is preallocated
      return { kind: 'copied', nr: batch.nr, usedPrealloc: false };
    }
    this.folioGet(m, head);
    if (!folioTestAnon(folioAt(m, head))) {
      this.folioDupFileRmapPtes(m, pte.pfn, 1, child); // folio_dup_file_rmap_pte()
      this.copyPresentPtesRaw(m, parent, child, v, pte, 1);
      mark(m, 'fork shared a page-cache page of a private mapping');
      // Stryker disable next-line StringLiteral: message text
      return { kind: 'copied', nr: 1, usedPrealloc: false };
    }
    if (!this.folioTryDupAnonRmapPtes(m, parent, pte.pfn, 1, child)) {
      this.folioPut(m, head);
      // Stryker disable next-line EqualityOperator: a smaller batch or the per-PTE path: any batch size >= 1 is correct
      if (prealloc === null) return { kind: 'again' };
      this.copyPresentPage(m, child, v, pte, prealloc);
      // Stryker disable next-line StringLiteral: message text
      return { kind: 'copied', nr: 1, usedPrealloc: true };
    }
    yield 'fork: page shared, parent PTE not yet write-protected';
    this.copyPresentPtesRaw(m, parent, child, v, pte, 1);
    // Stryker disable next-line StringLiteral: message text
    return { kind: 'copied', nr: 1, usedPrealloc: false };
  }

  /**
   * Mirrors `__copy_present_ptes()` (mm/memory.c): in a COW mapping a writable batch is
   * write-protected in the parent (`wrprotect_ptes()`) and the child gets the same pages R/O and
   * old (`set_ptes()`, PFN advancing per entry). `pte` carries the merged write bit. Keeps the
   * contract of a successful dup: every duplicated page is R/O in parent and child.
   */
  copyPresentPtesRaw(m: Machine, parent: MmId, child: MmId, v: Vpn, pte: PresentPte, nr: number): void {
    if (pte.writable) this.wrprotectPtes(m, parent, v, nr);
    for (let k = 0; k < nr; k++) {
      setPte(m, child, asVpn(v + k), { ...pte, pfn: folioPage(pte.pfn, k), writable: false, young: false });
    }
  }

  /** Mirrors `wrprotect_ptes()` (include/linux/pgtable.h): clear the write bit of nr PTEs, each keeping its own dirty/young. */
  wrprotectPtes(m: Machine, mm: MmId, v: Vpn, nr: number): void {
    for (let k = 0; k < nr; k++) {
      const e = pteAt(m, mm, asVpn(v + k));
      // Stryker disable next-line LogicalOperator: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
      if (e !== null && e.kind === 'present' && e.writable) setPte(m, mm, asVpn(v + k), { ...e, writable: false });
    }
  }

  /**
   * Mirrors `copy_present_page()` (mm/memory.c): the child gets `prealloc` (or, called the
   * reference's way without one, a new page) holding a copy, mapped exclusive, dirty and writable
   * if the VMA allows it. The parent's PTE, exclusivity and pin stay untouched.
   */
  override copyPresentPage(m: Machine, child: MmId, v: Vpn, pte: PresentPte, prealloc?: Pfn): void {
    const page = prealloc ?? this.allocFolio(m, 0);
    frameAt(m, page).content = frameAt(m, pte.pfn).content;
    // Stryker disable next-line UpdateOperator: cost counter, measured not checked
    m.stats.pagesCopied++;
    this.folioAddAnonRmapPtes(m, page, 1, true, child);
    // Stryker disable next-line BooleanLiteral: the other side is unreachable in the model
    const writable = mmAt(m, child).vmaWritable[v] ?? false;
    // Stryker disable next-line BooleanLiteral: a bit no oracle reads (young, cleared_pmds, private dirty)
    setPte(m, child, v, { kind: 'present', pfn: page, writable, dirty: true, young: true });
  }
}

/** nth_page(): the k-th page after `p` (PFNs of a folio are contiguous). */
function folioPage(p: Pfn, k: number): Pfn {
  return asPfn(p + k);
}
