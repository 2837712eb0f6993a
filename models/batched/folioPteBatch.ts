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

/**
 * Mirrors `folio_pte_batch()` (mm/internal.h, 6.12). For simplicity the model has only the bits
 * it compares: writable and young are always ignored, and dirty is ignored too because both
 * callers in an anonymous-only model pass FPB_IGNORE_DIRTY semantics (zap always; fork's
 * `copy_present_ptes()` respects dirty only for !VM_SHARED, but then only the write bit is merged
 * and the child PTEs get the first entry's bits, which the model does not compare). There is no
 * pte_batch_hint() (no contpte), so the scan goes one entry at a time.
 *
 * Keeps: the batch never leaves the folio (`max_nr` is clamped at the folio's last page, the only
 * "same folio" check the kernel makes, together with PFN contiguity), it stops at a none or
 * non-present entry and at a PFN gap, and it returns at least 1.
 *
 * Caller must pass a present `pte` of a large folio at `v` and clamp `maxNr` (>= 1) so the scan
 * stays inside one PTE table.
 */
export function folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, maxNr: number): PteBatch {
  const head = folioHead(m, pte.pfn);
  const folio = folioAt(m, head);
  // The "same folio" guarantee: never look past the folio's last page.
  const limit = Math.min(maxNr, head + folioNrPages(folio.order) - pte.pfn);
  let nr = 1;
  let anyWritable = false;
  while (nr < limit) {
    const next = pteAt(m, mm, asVpn(v + nr));
    if (next === null || next.kind !== 'present' || next.pfn !== pte.pfn + nr) break;
    anyWritable ||= next.writable;
    nr++;
  }
  return { nr: Math.max(1, Math.min(nr, limit)), anyWritable };
}
