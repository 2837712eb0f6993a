import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { pteAt } from '../machine/pgtable';
import type { PteBatch } from '../batched/folioPteBatch';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `folio_pte_batch()` does not clamp `max_nr` at the folio's last page
 * (`min(max_nr, folio_pfn + folio_nr_pages - pte_pfn(pte))`), so a batch runs on into the next
 * folio whenever that folio's pages follow in both PFN and virtual address.
 * Violates: docs/kernel-semantics.md §1: "same folio" is enforced only by the PFN clamp plus PFN
 * contiguity — there is no per-entry `page_folio()` check. Seed 000: one refcount, one rmap call
 * and one gather entry per batch assume the batch is inside one folio.
 * Caught by: the rmap self-check (kernel_warn: an rmap batch crossing a folio), or the ledger
 * (refcount_mismatch / mapcount_mismatch: zap or fork charges the next folio's pages to this one),
 * or the differential check: MADV_PAGEOUT/FREE batch with folio_pte_batch() too, and a batch that
 * runs into the next folio says a folio is not mapped whole, so it is split (the reference keeps
 * it whole and reclaims it).
 */
export class BatchPastFolioEnd extends BatchedKernel {
  override readonly name: string = 'batch-past-folio-end';

  override folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, maxNr: number): PteBatch {
    let nr = 1;
    let anyWritable = false;
    while (nr < maxNr) {
      const next = pteAt(m, mm, asVpn(v + nr));
      if (next === null || next.kind !== 'present' || next.pfn !== pte.pfn + nr) break;
      anyWritable ||= next.writable;
      nr++;
    }
    return { nr, anyWritable };
  }
}

export const batchPastFolioEnd: MutantSpec = defineMutant(BatchPastFolioEnd, {
  breaks: 'folio_pte_batch() does not clamp the batch at the end of the folio',
  violates: 'docs/kernel-semantics.md §1: the PFN clamp at the folio end is the only same-folio check; seed 000',
  caughtBy: ['kernel_warn', 'refcount_mismatch', 'mapcount_mismatch', 'divergence'],
});
