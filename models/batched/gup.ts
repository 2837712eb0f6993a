import { switchMm } from '../machine/tlb';
import { assertNever } from '../assertNever';
import type { CpuId, HandleId, MmId, Pfn, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { GupPage, Machine } from '../machine/state';
import type { LeafPmd, PresentPte } from '../machine/pte';
import { pmdSame, pteSame } from '../machine/pte';
import { folioHead, frameAt } from '../machine/frames';
import { mmAt, pmdAt, pmdIndexOf, pmdStart, pteIndexOf, tableEntries } from '../machine/pgtable';
import { mark } from '../machine/marks';
import type { OpResult } from '../result';
import { noop } from '../result';
import type { GupFlags } from '../reference/gup';
import { recordSubpages } from './recordSubpages';
import { BatchedFork } from './fork';

/** Consecutive pages of one folio, found but not yet grabbed. */
interface PageRun {
  readonly head: Pfn;
  /** First virtual page of the run. */
  readonly start: Vpn;
  readonly pages: Pfn[];
}

/** Does `page` continue the run (same folio, next PFN)? */
function continuesRun(m: Machine, run: PageRun, page: Pfn): boolean {
  const last = run.pages[run.pages.length - 1];
  return last !== undefined && page === last + 1 && folioHead(m, page) === run.head;
}

/**
 * GUP on compound pages (seed 004, "mm/gup: Grab head page refcount once for group of
 * subpages"): a run of subpages of one folio is grabbed with one `try_grab_folio(folio, refs = n)`
 * instead of n single grabs, and released with one `gup_put_folio(folio, n)`.
 *
 * Simplified against 6.12: there, the slow path batches only a PMD leaf (`page_increm` from
 * `ctx.page_mask`) and GUP-fast only a PMD leaf (`gup_fast_pmd_leaf()`), taking PTE-mapped
 * subpages one at a time; the model batches any run of consecutive subpages of one folio. Keeps:
 * the same pages end up in the handle as with the reference and every fault sees the same
 * refcounts (a pending run is grabbed before any fault), and N subpages hold N references/pins.
 */
export abstract class BatchedGup extends BatchedFork {
  /**
   * Mirrors `gup_fast_fallback()` (mm/gup.c): GUP-fast over as much of the range as it can take
   * without faulting, then `__get_user_pages()` for the rest. A no-op at maxHandles.
   */
  override getUserPages(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, nr: number, flags: GupFlags): OpResult {
    if (m.handles.length >= m.geometry.maxHandles) return noop('too many GUP handles');
    switchMm(m, cpu, mm); // switch_mm_irqs_off(): the access runs in a task of this mm
    if (flags.pin) mmAt(m, mm).hasPinned = true; // mm_set_has_pinned_flag(), before any pin
    const { start: s, end } = this.clipRange(m, start, nr);
    const pages: GupPage[] = [];
    const v = flags.fast ? this.gupFast(m, mm, s, end, flags, pages) : s;
    if (v < end) this.getUserPagesRaw(m, cpu, mm, v, end, flags, pages);
    return this.newHandle(m, mm, s, flags, pages);
  }

  /**
   * Mirrors `gup_fast()` → `gup_fast_pgd_range()` (mm/gup.c), PMD by PMD; returns the first
   * virtual page not taken. Simplified: the IRQs-off section is the op itself (nothing runs
   * concurrently inside an op), and there is no `write_protect_seq` check (fork runs inside its op).
   */
  gupFast(m: Machine, mm: MmId, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): Vpn {
    let v = start;
    while (v < end) {
      const i = pmdIndexOf(m, v);
      const next = asVpn(Math.min(end, pmdStart(m, i) + m.geometry.ptrsPerPte));
      const pmd = pmdAt(m, mm, i);
      switch (pmd.kind) {
        case 'none':
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
   * Mirrors `gup_fast_pmd_leaf()` (mm/gup.c): record the subpages of [addr, end) inside the leaf,
   * grab the folio once for all of them, then recheck the PMD and `gup_must_unshare()`; on either
   * failure put the references back and stop.
   */
  gupFastPmdLeaf(m: Machine, mm: MmId, i: number, orig: LeafPmd, addr: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): boolean {
    if (flags.write && !orig.writable) return false; // pmd_access_permitted()
    const subpages = this.recordSubpages(orig.pfn, m.geometry.ptrsPerPte, addr, end);
    this.tryGrabFolio(m, orig.pfn, subpages.length, flags.pin);
    if (!pmdSame(pmdAt(m, mm, i), orig) || (!orig.writable && this.gupMustUnshare(m, flags, orig.pfn))) {
      this.gupPutFolio(m, orig.pfn, subpages.length, flags.pin);
      return false;
    }
    for (const p of subpages) pages.push({ pfn: p, gen: frameAt(m, p).gen });
    if (subpages.length > 1) mark(m, 'gup-fast grabbed a PMD leaf once');
    return true;
  }

  /**
   * Mirrors `gup_fast_pte_range()` (mm/gup.c) over [start, end) of one table: take PTEs while
   * `pte_access_permitted()`, in runs of one folio; returns the first virtual page not taken.
   */
  gupFastPteRange(m: Machine, mm: MmId, table: Pfn, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): Vpn {
    let run: PageRun | null = null;
    const ptes: PresentPte[] = [];
    let v = start;
    for (; v < end; v = asVpn(v + 1)) {
      const pte = tableEntries(m, table)[pteIndexOf(m, v)];
      if (pte === undefined || pte.kind !== 'present' || (flags.write && !pte.writable)) break;
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
   * Mirrors `gup_fast_pte_range()` (mm/gup.c), its grab-and-recheck steps for one run: `try_grab_folio_fast(n)`,
   * then per PTE the recheck (PMD still points at this table, PTE unchanged) and, for an R/O PTE,
   * `gup_must_unshare()`. The references of the pages that fail (and all after them) go back.
   * Returns how many pages of the run were kept.
   */
  gupFastGrabRun(m: Machine, mm: MmId, table: Pfn, run: PageRun, ptes: readonly PresentPte[], flags: GupFlags, pages: GupPage[]): number {
    const n = run.pages.length;
    this.tryGrabFolio(m, run.head, n, flags.pin);
    let kept = 0;
    for (; kept < n; kept++) {
      const v = asVpn(run.start + kept);
      const orig = ptes[kept];
      const pmdNow = pmdAt(m, mm, pmdIndexOf(m, v));
      const now = tableEntries(m, table)[pteIndexOf(m, v)];
      if (orig === undefined || now === undefined || pmdNow.kind !== 'table' || pmdNow.table !== table || !pteSame(now, orig)) break;
      if (!orig.writable && this.gupMustUnshare(m, flags, orig.pfn)) break;
    }
    if (kept < n) this.gupPutFolio(m, run.head, n - kept, flags.pin);
    for (const p of run.pages.slice(0, kept)) pages.push({ pfn: p, gen: frameAt(m, p).gen });
    if (kept > 1) mark(m, 'gup grabbed a folio run once');
    return kept;
  }

  /**
   * Mirrors `__get_user_pages()` (mm/gup.c) over [start, end): `follow_page_mask()`, and when it
   * finds nothing usable, `faultin_page()` and retry. Pages found without a fault extend the
   * current run of their folio; the run is grabbed (`try_grab_folio(folio, n)`) when it ends, and
   * always before a fault, so a fault's reuse decisions (refcount == 1) see what the per-page
   * kernel would. Stops at the first page it cannot get.
   */
  getUserPagesRaw(m: Machine, cpu: CpuId, mm: MmId, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): void {
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

  /** Mirrors `try_grab_folio()` (mm/gup.c) with `refs = n`, for a finished run of the slow path (found under the PTL). */
  gupGrabRun(m: Machine, run: PageRun | null, flags: GupFlags): void {
    if (run === null) return;
    this.tryGrabFolio(m, run.head, run.pages.length, flags.pin);
    if (run.pages.length > 1) mark(m, 'gup grabbed a folio run once');
  }

  /**
   * Mirrors `unpin_user_pages()` (mm/gup.c): one `gup_put_folio(folio, nr)` per run of handle
   * entries in the same folio. A FOLL_GET handle is released the same way (`release_pages()` →
   * `folios_put_refs()`), where the reference does one `put_page()` per page.
   */
  override unpinUserPages(m: Machine, id: HandleId): OpResult {
    const h = this.takeHandle(m, id);
    if (h === null) return noop('no such handle');
    for (let i = 0; i < h.pages.length; ) {
      const { head, nr } = this.gupFolioNext(m, h.pages, i);
      this.gupPutFolio(m, head, nr, h.pin);
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
    if (first === undefined) throw new Error(`no handle entry ${i}`);
    const head = folioHead(m, first.pfn);
    let nr = 1;
    for (let next = pages[i + nr]; next !== undefined && folioHead(m, next.pfn) === head; next = pages[i + nr]) nr++;
    return { head, nr };
  }
}
