import type { Pfn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import { folioHead } from '../../machine/frames';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: `try_grab_folio_fast()` takes its reference with a plain `folio_ref_add()` on
 * `page_folio(page)`, as the slow path's `try_grab_folio()` may (it holds the PTL), instead of
 * `try_get_folio()`'s `folio_ref_try_add()` and its `page_folio(page) != folio` recheck.
 * Violates: mm/gup.c (6.12) `try_grab_folio_fast()`: "It uses add ref unless zero to elevate the
 * folio refcount and must be called in fast path only" — GUP-fast holds no lock and no reference
 * between `ptep_get_lockless()` and the grab, only IRQs off, which keeps page tables from being
 * freed but not pages when the TLB flush sends no IPI (a paravirt flush, a broadcast TLBI). A
 * page freed in between has refcount 0: a plain add resurrects a page the allocator owns, and
 * the PTE recheck that follows fails and "puts it back" — a second free.
 * Caught by: a kernel warning (`try_grab_folio` on a freed frame) with `--interleave`, a GUP-fast
 * walk stopped before its grab (walkBegin `stop: 'grab'`) while a zap frees the page it read;
 * without schedule ops every GUP-fast grab follows its read within one op, on a page that is
 * still mapped, so it is equivalent to batched.
 */
export class GupFastGrabsWithoutTry extends BatchedKernel {
  override readonly name: string = 'gup-fast-grabs-without-try';

  override tryGrabFolioFast(m: Machine, page: Pfn, refs: number, pin: boolean): Pfn | null {
    // The bug: folio_ref_add() where folio_ref_try_add() belongs, and no page_folio() recheck.
    const head = folioHead(m, page);
    this.tryGrabFolio(m, head, refs, pin);
    return head;
  }
}

export const gupFastGrabsWithoutTry: MutantSpec = defineMutant(GupFastGrabsWithoutTry, {
  breaks: 'try_grab_folio_fast() adds its reference without folio_ref_try_add() or the page_folio() recheck',
  violates: 'mm/gup.c try_grab_folio_fast() → try_get_folio(): add a reference unless the refcount is 0, then recheck page_folio(page)',
  caughtBy: ['kernel_warn', 'refcount_mismatch', 'freed_frame_in_use', 'handle_use_after_free', 'pin_unreliable', 'divergence'],
  needsInterleave: true,
});
