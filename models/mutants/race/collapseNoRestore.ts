import type { MmId, Pfn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: when `__collapse_huge_page_isolate()` fails after the PMD was cleared, khugepaged gives
 * up without `pmd_populate()`: the PMD stays none and the old table, with its pages, is lost to
 * the mm.
 * Violates: rule R2 (docs/kernel-semantics.md §10; no data is lost): mm/khugepaged.c `collapse_huge_page()` puts the table back
 * ("We can only use set_pmd_at when establishing hugepmds and never for establishing regular pmds
 * that points to regular pagetables. Use pmd_populate for that").
 * Reached in the gap where khugepaged holds no lock (between `hpage_collapse_scan_pmd()` and
 * `mmap_write_lock()`, 'collapse: THP allocated, no lock held'): a slow GUP pin taken there gives
 * the page a reference the scan did not see, the isolation fails, and without `pmd_populate()`
 * the mapcounts of the table's pages no longer match any page table (the ledger), and the next
 * access faults in a new page where the process had data.
 */
export class CollapseNoRestore extends BatchedKernel {
  override readonly name: string = 'collapse-no-restore';

  override pmdPopulate(_m: Machine, _mm: MmId, _i: number, _table: Pfn): void {}
}

export const collapseNoRestore: MutantSpec = defineMutant(CollapseNoRestore, {
  breaks: 'a failed collapse leaves the PMD none instead of putting the PTE table back',
  violates: 'rule R2: mm/khugepaged.c collapse_huge_page() pmd_populate()s the old table when the isolation fails',
  caughtBy: ['divergence', 'stale_read', 'refcount_mismatch', 'mapcount_mismatch'],
  needsInterleave: true,
});
