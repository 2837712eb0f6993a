import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: MADV_FREE skips its "mapped by this range only" test (`folio_mapcount(folio) !=
 * folio_nr_pages(folio)`) for a folio in the swap cache or dirty, so it takes a folio a fork
 * child also maps out of the swap cache, cleans it and marks it lazyfree.
 * Violates: MADV_FREE is advice about the caller's memory only: a page the child maps (clean
 * PTE, swapped in by a load) would be dropped by reclaim and read back as zero by the child,
 * which never gave it up. (The same test decides MADV_COLD/PAGEOUT: seed 001's thread.)
 * Caught by: stale_read in the child, or divergence.
 */
export class MadviseFreeIgnoresOtherMappings extends BatchedKernel {
  override readonly name: string = 'madvise-free-ignores-other-mappings';

  override madviseFolioMappedElsewhere(_m: Machine, _head: Pfn): boolean {
    return false;
  }
}

export const madviseFreeIgnoresOtherMappings: MutantSpec = defineMutant(MadviseFreeIgnoresOtherMappings, {
  breaks: "madvise() (FREE, COLD, PAGEOUT) acts on folios other processes map too (folio_mapcount() != folio_nr_pages() test gone)",
  violates: "madvise(2): advice changes only the caller's memory; seed 001: do not interfere with other mappings of a folio",
  caughtBy: ['stale_read', 'divergence'],
});
