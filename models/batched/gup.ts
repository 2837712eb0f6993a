import { switchMm } from '../machine/tlb';
import { assertNever } from '../assertNever';
import type { CpuId, HandleId, MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { GupPage, Machine } from '../machine/state';
import type { LeafPmd } from '../machine/pte';
import { pmdSame, pteSame } from '../machine/pte';
import { folioHead, frameAt } from '../machine/frames';
import { mmAt, pmdAt, pmdIndexOf, pmdStart, pteIndexOf, tableEntries } from '../machine/pgtable';
import { mark } from '../machine/marks';
import { isZeroPfn } from '../machine/zeroPage';
import type { OpResult } from '../result';
import { noop } from '../result';
import type { GupFlags } from '../reference/gup';
import { recordSubpages } from './recordSubpages';
import { BatchedFork } from './fork';
import { overriddenBelow, runToEnd } from '../machine/tasks';
import type { KernelSteps } from '../machine/tasks';

/**
 * GUP as Linux 6.12 batches it (mm/gup.c): GUP-fast grabs a PMD leaf once for all the subpages it
 * records (`gup_fast_pmd_leaf()`, seed 004's "grab head page refcount once for group of
 * subpages"), but takes PTE-mapped pages one at a time (`gup_fast_pte_range()`); the slow path
 * (`__get_user_pages()`) likewise grabs a PMD leaf once more for the rest of the leaf
 * (`page_increm`) and PTE-mapped pages one at a time. Release is batched per run of handle entries
 * in one folio (`unpin_user_pages()` → `gup_folio_next()`).
 *
 * Grabbing runs of PTE-mapped subpages of one folio at once is beyond 6.12: that proposal is the
 * `batched-gup-runs` kernel (gupRuns.ts). The grab itself, `tryGrabFolioFast()`, is the
 * reference's (models/reference/gup.ts), shared with the GUP-fast walks.
 */
export abstract class BatchedGup extends BatchedFork {
  /**
   * Mirrors `gup_fast_fallback()` (mm/gup.c): GUP-fast over as much of the range as it can take
   * without faulting, then `__get_user_pages()` for the rest. A no-op at maxHandles. Overrides the
   * twin the plain `getUserPages()` runs; the slow half passes the points of
   * `getUserPagesRawSteps()`, or none when a variant overrides `getUserPagesRaw()` below it.
   */
  override *getUserPagesSteps(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, nr: number, flags: GupFlags): KernelSteps<OpResult> {
    if (m.handles.length >= m.geometry.maxHandles) return noop('too many GUP handles');
    switchMm(m, cpu, mm); // switch_mm_irqs_off(): the access runs in a task of this mm
    if (flags.pin) mmAt(m, mm).hasPinned = true; // mm_set_has_pinned_flag(), before any pin
    const { start: s, end: top } = this.clipRange(m, start, nr);
    const end = this.gupEndBeforeFileVma(m, mm, s, top);
    const pages: GupPage[] = [];
    const v = flags.fast ? this.gupFast(m, mm, s, end, flags, pages) : s;
    if (v < end) {
      // Stryker disable next-line StringLiteral: the registered kernels run the *Steps twin
      if (overriddenBelow(this, 'getUserPagesRawSteps', 'getUserPagesRaw')) this.getUserPagesRaw(m, cpu, mm, v, end, flags, pages);
      else yield* this.getUserPagesRawSteps(m, cpu, mm, v, end, flags, pages);
    }
    return this.newHandle(m, mm, s, flags, pages);
  }

  /**
   * Mirrors `gup_fast()` → `gup_fast_pgd_range()` (mm/gup.c), PMD by PMD; returns the first
   * virtual page not taken. Simplified: the IRQs-off section is the op itself (nothing runs
   * concurrently inside an op), and there is no `write_protect_seq` check (fork runs inside its op).
   */
  gupFast(m: Machine, mm: MmId, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): Vpn {
    let v = start;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: GUP-fast may stop at any page; the slow path takes the rest; visits nothing more that matters
    while (v < end) {
      const i = pmdIndexOf(m, v);
      const next = asVpn(Math.min(end, pmdStart(m, i) + m.geometry.ptrsPerPte));
      const pmd = pmdAt(m, mm, i);
      switch (pmd.kind) {
        case 'none':
        // Stryker disable next-line StringLiteral: unreachable: a gup op waits for a migration of its folios (Tasks.waitFor()), so this GUP-fast never meets a migration PMD
        case 'migration':
          // gup_fast_pmd_range(): a none or non-present (migration) PMD ends GUP-fast; the slow
          // path takes the rest.
          return v;
        case 'leaf':
          if (!this.gupFastPmdLeaf(m, mm, i, pmd, v, next, flags, pages)) return v;
          break;
        case 'table': {
          const stop = this.gupFastPteRange(m, mm, pmd.table, v, next, flags, pages);
          if (stop < next) return stop;
          break;
        }
        // Stryker disable next-line ConditionalExpression: visits nothing more that matters
        default:
          return assertNever(pmd);
      }
      v = next;
    }
    return v;
  }

  /** Mirrors `record_subpages()` (mm/gup.c); see recordSubpages.ts. A method so a variant can override it. */
  recordSubpages(page: Pfn, sz: number, addr: Vpn, end: Vpn): Pfn[] {
    return recordSubpages(page, sz, addr, end);
  }

  /**
   * Mirrors `gup_fast_pmd_leaf()` (mm/gup.c, 6.12): record the subpages of [addr, end) inside the
   * leaf, grab the folio once for all of them (`try_grab_folio_fast(page, refs)`), then recheck
   * the PMD and, for a read-only leaf, `gup_must_unshare()` on the head; on either failure put the
   * references back and stop.
   */
  // Stryker disable next-line BlockStatement: GUP-fast may stop at any page; the slow path takes the rest
  gupFastPmdLeaf(m: Machine, mm: MmId, i: number, orig: LeafPmd, addr: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): boolean {
    // Stryker disable next-line BooleanLiteral,LogicalOperator: GUP-fast may stop at any page; the slow path takes the rest
    if (flags.write && !orig.writable) return false; // pmd_access_permitted()
    const subpages = this.recordSubpages(orig.pfn, m.geometry.ptrsPerPte, addr, end);
    const head = this.tryGrabFolioFast(m, orig.pfn, subpages.length, flags.pin);
    // Stryker disable next-line BooleanLiteral: unreachable: the grab never fails inside one op (a present PMD leaf holds a reference, nothing runs between the read and the grab)
    if (head === null) return false;
    if (!pmdSame(pmdAt(m, mm, i), orig) || (!orig.writable && this.gupMustUnshare(m, flags, orig.pfn))) {
      this.gupPutFolio(m, head, subpages.length, flags.pin);
      return false;
    }
    // Stryker disable next-line StringLiteral: message text
    for (const p of subpages) pages.push({ pfn: p, gen: frameAt(m, p, 'record_subpages()').gen });
    // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: tracepoint only (coverage, not behaviour)
    if (subpages.length > 1) mark(m, 'gup-fast grabbed a PMD leaf once');
    return true;
  }

  /**
   * Mirrors `gup_fast_pte_range()` (mm/gup.c, 6.12) over [start, end) of one table, one PTE at a
   * time: read the PTE, stop unless it is present and (FOLL_WRITE) writable
   * (`pte_access_permitted()`) and not special (the shared zero page: `pte_special()`), `try_grab_folio_fast(page, 1)`, recheck that the PMD still points
   * at this table and the PTE is unchanged, and for a read-only PTE `gup_must_unshare()`; a failed
   * recheck or unshare test puts the reference back and stops. Returns the first virtual page not
   * taken.
   */
  gupFastPteRange(m: Machine, mm: MmId, table: Pfn, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): Vpn {
    for (let v = start; v < end; v = asVpn(v + 1)) {
      const pte = tableEntries(m, table)[pteIndexOf(m, v)];
      // Stryker disable next-line StringLiteral: GUP-fast may stop at any page; the slow path takes the rest
      if (pte === undefined || pte.kind !== 'present' || (flags.write && !pte.writable)) return v;
      // Stryker disable next-line BlockStatement,ConditionalExpression: GUP-fast may stop at any page; the slow path takes the rest
      if (isZeroPfn(m, pte.pfn)) {
        // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
        mark(m, 'GUP-fast fell back at the zero page');
        return v;
      }
      const head = this.tryGrabFolioFast(m, pte.pfn, 1, flags.pin);
      if (head === null) return v;
      const pmdNow = pmdAt(m, mm, pmdIndexOf(m, v));
      const now = tableEntries(m, table)[pteIndexOf(m, v)];
      // Stryker disable next-line BooleanLiteral,ConditionalExpression,EqualityOperator,LogicalOperator,StringLiteral: the other side is unreachable in the model
      const changed = pmdNow.kind !== 'table' || pmdNow.table !== table || now === undefined || !pteSame(now, pte);
      if (changed || (!pte.writable && this.gupMustUnshare(m, flags, pte.pfn))) {
        this.gupPutFolio(m, head, 1, flags.pin);
        return v;
      }
      pages.push({ pfn: pte.pfn, gen: frameAt(m, pte.pfn).gen });
    }
    return end;
  }

  /**
   * Mirrors `__get_user_pages()` (mm/gup.c, 6.12) over [start, end): `follow_page_mask()` (which
   * grabs the page it finds with `try_grab_folio(folio, 1)`), and when it finds nothing usable,
   * `faultin_page()` and retry. When the page was found through a PMD leaf
   * (`ctx.page_mask = HPAGE_PMD_NR - 1`), the rest of the leaf in the range — `page_increm` pages
   * — is taken at once with one more `try_grab_folio(folio, page_increm - 1)`; PTE-mapped pages
   * go one at a time. Stops at the first page it cannot get.
   */
  // Stryker disable next-line BlockStatement: the registered kernels run the *Steps twin
  getUserPagesRaw(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): void {
    runToEnd(this.getUserPagesRawSteps(m, cpu, mm, start, end, flags, pages));
  }

  /** `getUserPagesRaw()` with the points of each page's slow path (`followPageWithFaultSteps()`); the plain method runs it to its end. */
  *getUserPagesRawSteps(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): KernelSteps {
    for (let v = start; v < end; ) {
      const page = this.lookupPermitted(m, mm, v, flags) ?? (yield* this.followPageWithFaultVia(m, cpu, mm, v, flags));
      if (page === null) return;
      const head = folioHead(m, page);
      this.tryGrabFolio(m, head, 1, flags.pin);
      const increm = this.gupPageIncrem(m, mm, v, end);
      if (increm > 1) {
        this.tryGrabFolio(m, head, increm - 1, flags.pin);
        // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
        mark(m, 'gup grabbed the rest of a PMD leaf once');
      }
      for (let j = 0; j < increm; j++) {
        const p = asPfn(page + j);
        // Stryker disable next-line StringLiteral: message text
        pages.push({ pfn: p, gen: frameAt(m, p, '__get_user_pages()').gen });
      }
      v = asVpn(v + increm);
    }
  }

  /**
   * Mirrors the `page_increm` computation of `__get_user_pages()` (mm/gup.c, 6.12):
   * `1 + (~(start >> PAGE_SHIFT) & ctx.page_mask)`, capped at the pages left. `page_mask` is
   * `HPAGE_PMD_NR - 1` when `follow_page_mask()` found the page through a PMD leaf, else 0.
   */
  gupPageIncrem(m: Machine, mm: MmId, v: Vpn, end: Vpn): number {
    const i = pmdIndexOf(m, v);
    // Stryker disable next-line StringLiteral: a smaller batch or the per-PTE path: any batch size >= 1 is correct
    if (pmdAt(m, mm, i).kind !== 'leaf') return 1;
    return Math.min(end - v, pmdStart(m, i) + m.geometry.ptrsPerPte - v);
  }

  /**
   * Mirrors `unpin_user_pages()` (mm/gup.c): one `gup_put_folio(folio, nr)` per run of handle
   * entries in the same folio. A FOLL_GET handle is released the same way (`release_pages()` →
   * `folios_put_refs()`), where the reference does one `put_page()` per page.
   */
  override unpinUserPages(m: Machine, id: HandleId): OpResult {
    const h = this.takeHandle(m, id);
    // Stryker disable next-line StringLiteral: the other side is unreachable in the model
    if (h === null) return noop('no such handle');
    this.unpinMarkDirty(m, h);
    for (let i = 0; i < h.pages.length; ) {
      const { head, nr } = this.gupFolioNext(m, h.pages, i);
      this.gupPutFolio(m, head, nr, h.pin);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: tracepoint only (coverage, not behaviour)
      if (nr > 1) mark(m, 'unpin released a folio run once');
      i += nr;
    }
    return { kind: 'done' };
  }

  /**
   * Mirrors `gup_folio_next()` (mm/gup.c): the folio of entry i and how many entries from i on
   * belong to it. The pages need not be contiguous, only adjacent in the array.
   */
  gupFolioNext(m: Machine, pages: readonly GupPage[], i: number): { head: Pfn; nr: number } {
    const first = pages[i];
    // Stryker disable next-line StringLiteral: the other side is unreachable in the model
    if (first === undefined) throw new Error(`no handle entry ${i}`);
    const head = folioHead(m, first.pfn);
    let nr = 1;
    for (let next = pages[i + nr]; next !== undefined && folioHead(m, next.pfn) === head; next = pages[i + nr]) nr++;
    return { head, nr };
  }
}
