import { folioNrPages } from '../machine/geometry';
import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { folioAt, folioHead } from '../machine/frames';
import { pteAt } from '../machine/pgtable';

/** What `folio_pte_batch()` found: the batch length and the merged write bit of the other entries. */
export interface PteBatch {
  /** Consecutive PTEs from the first one mapping consecutive pages of its folio; always >= 1. */
  readonly nr: number;
  /** `*any_writable`: some entry other than the first is writable (the caller folds in the first). */
  readonly anyWritable: boolean;
}

/** The `fpb_t` flags the model's callers need: whether the dirty bit may differ inside a batch. */
export interface FpbFlags {
  /** FPB_IGNORE_DIRTY: zap passes it always; fork only for a VM_SHARED mapping (never, here). */
  readonly ignoreDirty: boolean;
}

/**
 * Mirrors `folio_pte_batch()` (mm/internal.h, 6.12): the write and young bits are always
 * ignored (`pte_wrprotect(pte_mkold())` in `__pte_batch_clear_ignored()`), the dirty bit only
 * with FPB_IGNORE_DIRTY — so fork's batch of a private mapping ends where the dirty bit changes,
 * and the child, which gets the first entry's bits for the whole batch, keeps every page's dirty
 * bit. Soft-dirty is not modelled. There is no pte_batch_hint() (no contpte), so the scan goes
 * one entry at a time.
 *
 * Keeps: the batch never leaves the folio (`max_nr` is clamped at the folio's last page, the only
 * "same folio" check the kernel makes, together with PFN contiguity), it stops at a none or
 * non-present entry and at a PFN gap, and it returns at least 1. It never starts on the shared
 * zero page (its callers handle a special PTE before asking: `vm_normal_page()` is NULL) and never
 * takes one in: the zero page's PFN lies beyond every folio, so the PFN-contiguity check stops
 * there, as the kernel's `pte_same()` with the expected PTE (pfn and special bit) does.
 *
 * Caller must pass a present `pte` of a large folio at `v` and clamp `maxNr` (>= 1) so the scan
 * stays inside one PTE table.
 */
export function folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, maxNr: number, flags: FpbFlags): PteBatch {
  const head = folioHead(m, pte.pfn);
  const folio = folioAt(m, head);
  // The "same folio" guarantee: never look past the folio's last page.
  const limit = Math.min(maxNr, head + folioNrPages(folio.order) - pte.pfn);
  let nr = 1;
  // Stryker disable next-line BooleanLiteral: a bit no oracle reads (young, cleared_pmds, private dirty)
  let anyWritable = false;
  // Stryker disable next-line BlockStatement,ConditionalExpression,EqualityOperator: a smaller batch or the per-PTE path: any batch size >= 1 is correct
  while (nr < limit) {
    const next = pteAt(m, mm, asVpn(v + nr));
    // Stryker disable next-line StringLiteral: a smaller batch or the per-PTE path: any batch size >= 1 is correct
    if (next === null || next.kind !== 'present' || next.pfn !== pte.pfn + nr) break;
    // Stryker disable next-line BooleanLiteral,ConditionalExpression,EqualityOperator,LogicalOperator: a smaller batch or the per-PTE path: any batch size >= 1 is correct; a bit no oracle reads (young, cleared_pmds, private dirty)
    if (!flags.ignoreDirty && next.dirty !== pte.dirty) break;
    anyWritable ||= next.writable;
    nr++;
  }
  return { nr: Math.max(1, Math.min(nr, limit)), anyWritable };
}
