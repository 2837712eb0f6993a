import type { CpuId, MmId, Pfn, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { GupPage, Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { pteSame } from '../machine/pte';
import { folioHead, frameAt } from '../machine/frames';
import { pmdAt, pmdIndexOf, pteIndexOf, tableEntries } from '../machine/pgtable';
import { mark } from '../machine/marks';
import { isZeroPfn } from '../machine/zeroPage';
import type { GupFlags } from '../reference/gup';
import { BatchedKernel } from './BatchedKernel';

/** Consecutive pages of one folio, found but not yet grabbed. */
interface PageRun {
  readonly head: Pfn;
  /** First virtual page of the run. */
  readonly start: Vpn;
  readonly pages: Pfn[];
}

/** Does `page` continue the run (same folio, next PFN)? */
// Stryker disable next-line BlockStatement: a smaller batch or the per-PTE path: any batch size >= 1 is correct
function continuesRun(m: Machine, run: PageRun, page: Pfn): boolean {
  // Stryker disable next-line ArithmeticOperator: a smaller batch or the per-PTE path: any batch size >= 1 is correct
  const last = run.pages[run.pages.length - 1];
  // Stryker disable next-line ArithmeticOperator: the same pages and references end up in the handle
  return last !== undefined && page === last + 1 && folioHead(m, page) === run.head;
}

/**
 * A proposal beyond Linux 6.12: GUP grabs every run of consecutive PTE-mapped subpages of one
 * folio with one `try_grab_folio(folio, refs = n)` (GUP-fast and the slow path alike), where 6.12
 * grabs PTE-mapped pages one at a time and batches only PMD leaves (`gup_fast_pmd_leaf()`,
 * `page_increm`). Seed 004's "grab head page refcount once for group of subpages" carried to
 * PTE-mapped large folios. `mmcheck cost --kernel batched-gup-runs` gives its savings.
 *
 * Keeps: the same pages end up in the handle as with the reference, every fault sees the same
 * refcounts (a pending run is grabbed before any fault), and N subpages hold N references/pins.
 */
export class BatchedGupRuns extends BatchedKernel {
  // Stryker disable next-line StringLiteral: kernel name, identifies the kernel in reports
  override readonly name: string = 'batched-gup-runs';

  /**
   * `gup_fast_pte_range()` (mm/gup.c, 6.12) as the proposal changes it: over [start, end) of one
   * table, take PTEs while `pte_access_permitted()` and not `pte_special()` (the zero page), in runs of one folio, each run grabbed once
   * (gupFastGrabRun); returns the first virtual page not taken.
   */
  override gupFastPteRange(m: Machine, mm: MmId, table: Pfn, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): Vpn {
    let run: PageRun | null = null;
    // Stryker disable next-line ArrayDeclaration: an initial value overwritten before it is read
    const ptes: PresentPte[] = [];
    let v = start;
    // Stryker disable next-line ConditionalExpression: GUP-fast may stop at any page; the slow path takes the rest
    for (; v < end; v = asVpn(v + 1)) {
      const pte = tableEntries(m, table)[pteIndexOf(m, v)];
      // Stryker disable next-line StringLiteral: GUP-fast may stop at any page; the slow path takes the rest
      if (pte === undefined || pte.kind !== 'present' || (flags.write && !pte.writable)) break;
      // Stryker disable next-line BlockStatement,ConditionalExpression: the same pages and references end up in the handle
      if (isZeroPfn(m, pte.pfn)) {
        // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
        mark(m, 'GUP-fast fell back at the zero page');
        break;
      }
      // Stryker disable next-line BlockStatement: a smaller batch or the per-PTE path: any batch size >= 1 is correct
      if (run !== null && continuesRun(m, run, pte.pfn)) {
        run.pages.push(pte.pfn);
        ptes.push(pte);
        continue;
      }
      if (run !== null) {
        const kept = this.gupFastGrabRun(m, mm, table, run, ptes, flags, pages);
        if (kept < run.pages.length) return asVpn(run.start + kept);
      }
      run = { head: folioHead(m, pte.pfn), start: v, pages: [pte.pfn] };
      ptes.length = 0;
      ptes.push(pte);
    }
    if (run !== null) {
      const kept = this.gupFastGrabRun(m, mm, table, run, ptes, flags, pages);
      if (kept < run.pages.length) return asVpn(run.start + kept);
    }
    return v;
  }

  /**
   * The proposal's grab-and-recheck for one run, after `gup_fast_pte_range()` (mm/gup.c, 6.12):
   * `try_grab_folio_fast(page, n)`, then per PTE the recheck (PMD still points at this table, PTE
   * unchanged) and, for an R/O PTE, `gup_must_unshare()`. The references of the pages that fail
   * (and all after them) go back. Returns how many pages of the run were kept.
   */
  gupFastGrabRun(m: Machine, mm: MmId, table: Pfn, run: PageRun, ptes: readonly PresentPte[], flags: GupFlags, pages: GupPage[]): number {
    const n = run.pages.length;
    const first = run.pages[0];
    if (first === undefined || this.tryGrabFolioFast(m, first, n, flags.pin) === null) return 0;
    let kept = 0;
    // Stryker disable next-line ConditionalExpression,EqualityOperator: GUP-fast may stop at any page; the slow path takes the rest; visits nothing more that matters
    for (; kept < n; kept++) {
      // Stryker disable next-line ArithmeticOperator: a smaller batch or the per-PTE path: any batch size >= 1 is correct
      const v = asVpn(run.start + kept);
      const orig = ptes[kept];
      const pmdNow = pmdAt(m, mm, pmdIndexOf(m, v));
      const now = tableEntries(m, table)[pteIndexOf(m, v)];
      // Stryker disable next-line BooleanLiteral,ConditionalExpression,EqualityOperator,LogicalOperator,StringLiteral: GUP-fast may stop at any page; the slow path takes the rest; the other side is unreachable in the model
      if (orig === undefined || now === undefined || pmdNow.kind !== 'table' || pmdNow.table !== table || !pteSame(now, orig)) break;
      // Stryker disable next-line LogicalOperator: GUP-fast may stop at any page; the slow path takes the rest
      if (!orig.writable && this.gupMustUnshare(m, flags, orig.pfn)) break;
    }
    if (kept < n) this.gupPutFolio(m, run.head, n - kept, flags.pin);
    for (const p of run.pages.slice(0, kept)) pages.push({ pfn: p, gen: frameAt(m, p).gen });
    // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: tracepoint only (coverage, not behaviour)
    if (kept > 1) mark(m, 'gup grabbed a folio run once');
    return kept;
  }

  /**
   * `__get_user_pages()` (mm/gup.c, 6.12) as the proposal changes it, over [start, end):
   * `follow_page_mask()`, and when it finds nothing usable, `faultin_page()` and retry. Pages found
   * without a fault extend the current run of their folio; the run is grabbed
   * (`try_grab_folio(folio, n)`) when it ends, and always before a fault, so a fault's reuse
   * decisions (refcount == 1) see what the per-page kernel would. Stops at the first page it
   * cannot get.
   */
  override getUserPagesRaw(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): void {
    let run: PageRun | null = null;
    for (let v = start; v < end; v = asVpn(v + 1)) {
      let page = this.lookupPermitted(m, mm, v, flags);
      if (page === null) {
        this.gupGrabRun(m, run, flags);
        run = null;
        page = this.followPageWithFault(m, cpu, mm, v, flags);
        if (page === null) break;
      }
      if (run !== null && continuesRun(m, run, page)) run.pages.push(page);
      else {
        this.gupGrabRun(m, run, flags);
        run = { head: folioHead(m, page), start: v, pages: [page] };
      }
      pages.push({ pfn: page, gen: frameAt(m, page).gen });
    }
    this.gupGrabRun(m, run, flags);
  }

  /** `try_grab_folio()` (mm/gup.c, 6.12) with `refs = n`, for a finished run of the slow path (found under the PTL). */
  gupGrabRun(m: Machine, run: PageRun | null, flags: GupFlags): void {
    if (run === null) return;
    this.tryGrabFolio(m, run.head, run.pages.length, flags.pin);
    // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: tracepoint only (coverage, not behaviour)
    if (run.pages.length > 1) mark(m, 'gup grabbed a folio run once');
  }
}
