import type { MmId, Vpn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { folioHead, frameAt } from '../machine/frames';
import { pteAt } from '../machine/pgtable';
import type { FpbFlags, PteBatch } from '../batched/folioPteBatch';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `folio_pte_batch()` replaces the `max_nr` clamp at the folio's last page by a
 * per-entry `page_folio(pfn_to_page(pte_pfn(pte) + nr)) == folio` test made before it reads the
 * next PTE. Where the page after the folio is RAM (a free page, a page table, another folio) the
 * test fails and the batch ends exactly where the clamp ends it: the same batches, the same
 * counts. Where it is not RAM — a hole after the folio, or the folio at the top of memory — the
 * batch reads the struct page of a PFN `pfn_valid()` says no to (an unmapped or poisoned memmap
 * with SPARSEMEM_VMEMMAP).
 * Violates: docs/kernel-semantics.md §1: the batch's same-folio guarantee is arithmetic on the folio's
 * own range (`folio_pfn() + folio_nr_pages()`), never a read of a page outside it; mm/internal.h
 * clamps before it looks. Not batch-past-folio-end (which runs into the next folio) nor
 * batch-ignores-pfn-gap (which skips the PFN check): both batches are correct here.
 * Caught by: the machine's hazard (touched_non_ram), and only when the physical-memory ops put a
 * hole after a large folio that a zap or fork batches to its end (or `allocPolicy highest-first`
 * puts one at the top of memory).
 */
export class BatchReadsPageAfterFolio extends BatchedKernel {
  override readonly name: string = 'batch-reads-page-after-folio';

  override folioPteBatch(m: Machine, mm: MmId, v: Vpn, pte: PresentPte, maxNr: number, flags: FpbFlags): PteBatch {
    const head = folioHead(m, pte.pfn);
    let nr = 1;
    let anyWritable = false;
    while (nr < maxNr) {
      if (frameAt(m, asPfn(pte.pfn + nr), 'folio_pte_batch()').head !== head) break;
      const next = pteAt(m, mm, asVpn(v + nr));
      if (next === null || next.kind !== 'present' || next.pfn !== pte.pfn + nr) break;
      if (!flags.ignoreDirty && next.dirty !== pte.dirty) break;
      anyWritable ||= next.writable;
      nr++;
    }
    return { nr, anyWritable };
  }
}

export const batchReadsPageAfterFolio: MutantSpec = defineMutant(BatchReadsPageAfterFolio, {
  breaks: 'folio_pte_batch() tests page_folio() of the page after the batch instead of clamping at the folio end',
  violates: 'docs/kernel-semantics.md §1: the same-folio guarantee is arithmetic on the folio range, never a read past it (pfn_valid)',
  caughtBy: ['touched_non_ram'],
});
