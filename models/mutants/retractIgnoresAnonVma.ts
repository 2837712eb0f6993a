import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `retract_page_tables()` does not skip a VMA with an `anon_vma` (a MAP_PRIVATE mapping
 * written to): it clears the PMD and frees a table that still maps anonymous copies.
 * Violates: rule R2 (docs/kernel-semantics.md §10; no data is lost): the copies' mappings vanish
 * with the table — their mapcounts and references are left behind, and the process reads the
 * file's page where it had written its own data.
 * Caught by: the ledger (mapcount, refcount) at once; the differential and stale reads after.
 */
export class RetractIgnoresAnonVma extends BatchedKernel {
  override readonly name: string = 'retract-ignores-anon-vma';

  override retractSkipsVma(_m: Machine, _table: Pfn): boolean {
    return false;
  }
}

export const retractIgnoresAnonVma: MutantSpec = defineMutant(RetractIgnoresAnonVma, {
  breaks: "retract_page_tables() retracts the table of a MAP_PRIVATE VMA that holds anonymous copies (it ignores vma->anon_vma)",
  violates: 'rule R2: mm/khugepaged.c retract_page_tables() skips VMAs with an anon_vma ("exclude MAP_PRIVATE mappings that got written to")',
  caughtBy: ['mapcount_mismatch', 'refcount_mismatch', 'divergence', 'stale_read'],
});
