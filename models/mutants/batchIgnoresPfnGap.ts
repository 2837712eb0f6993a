import { folioNrPages } from '../machine/geometry';
import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { folioAt, folioHead } from '../machine/frames';
import { pteAt } from '../machine/pgtable';
import type { PteBatch } from '../batched/folioPteBatch';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `folio_pte_batch()` compares the next PTE's bits but not its PFN with the expected
 * `pte_advance_pfn(pte, nr)`: any present PTE continues the batch (still clamped at the folio
 * end), so a PTE that a COW fault, an mremap or a second folio put in the middle of a large
 * folio's range is zapped or copied as if it mapped the next page of the folio.
 * Violates: docs/kernel-semantics.md §1: a batch ends at a PFN gap; with the folio-end clamp, PFN
 * contiguity is what makes the batch one folio (no per-entry `page_folio()` check). Seed 000.
 * Caught by: the rmap self-check (kernel_warn: removing the rmap of an unmapped page, or a batch
 * crossing a folio), the ledger (mapcount_mismatch / refcount_mismatch), or the differential check.
 */
export class BatchIgnoresPfnGap extends BatchedKernel {
  override readonly name: string = 'batch-ignores-pfn-gap';

  override folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, maxNr: number): PteBatch {
    const head = folioHead(m, pte.pfn);
    const limit = Math.min(maxNr, head + folioNrPages(folioAt(m, head).order) - pte.pfn);
    let nr = 1;
    let anyWritable = false;
    while (nr < limit) {
      const next = pteAt(m, mm, asVpn(v + nr));
      if (next === null || next.kind !== 'present') break;
      anyWritable ||= next.writable;
      nr++;
    }
    return { nr, anyWritable };
  }
}

export const batchIgnoresPfnGap: MutantSpec = defineMutant(BatchIgnoresPfnGap, {
  breaks: 'folio_pte_batch() does not check that the PTEs map consecutive PFNs',
  violates: 'docs/kernel-semantics.md §1: a batch ends at a PFN gap (no per-entry page_folio() check); seed 000',
  caughtBy: ['kernel_warn', 'mapcount_mismatch', 'refcount_mismatch', 'divergence'],
});
