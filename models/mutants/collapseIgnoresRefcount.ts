import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: khugepaged takes every page as collapsible whatever its references:
 * `is_refcount_suitable()` always true, as before it looked at GUP pins.
 * Violates: rule R7 (docs/kernel-semantics.md §10; a pinned page stays the page the process maps): the page a device pinned
 * is copied into the THP and dropped from the mm; the device's writes go to the old page and
 * the process never sees them (and a page gathered by a zap in flight is collapsed under it).
 * Caught by: the user-memory oracle (pin_unreliable, stale_read) or the differential.
 */
export class CollapseIgnoresRefcount extends BatchedKernel {
  override readonly name: string = 'collapse-ignores-refcount';

  override isRefcountSuitable(_m: Machine, _head: Pfn): boolean {
    return true;
  }
}

export const collapseIgnoresRefcount: MutantSpec = defineMutant(CollapseIgnoresRefcount, {
  breaks: 'collapse ignores references beyond the mappings (is_refcount_suitable() always true)',
  violates: 'rule R7: mm/khugepaged.c __collapse_huge_page_isolate() fails on a page with GUP pins or other external references (SCAN_PAGE_COUNT)',
  caughtBy: ['pin_unreliable', 'stale_read', 'divergence'],
});
