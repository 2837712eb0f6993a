import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import type { TlbUbc } from '../machine/tlbUbc';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `try_to_unmap_one()` does not move the cleared PTE's dirty bit to the folio
 * (`if (pte_dirty(pteval)) folio_mark_dirty(folio);` is gone).
 * Violates: anonymous memory's dirtiness lives in its PTEs; a folio already in the swap cache
 * and clean (it was written out, then swapped in by a load) but stored to since would be freed
 * without `pageout()`, and the next swap-in reads the old copy: a lost write.
 * Caught by: stale_read (user-visible memory).
 */
export class UnmapLosesPteDirty extends BatchedKernel {
  override readonly name: string = 'unmap-loses-pte-dirty';

  override tryToUnmapClearPte(m: Machine, mm: MmId, v: Vpn, ubc: TlbUbc | null): PresentPte {
    return { ...super.tryToUnmapClearPte(m, mm, v, ubc), dirty: false };
  }
}

export const unmapLosesPteDirty: MutantSpec = defineMutant(UnmapLosesPteDirty, {
  breaks: "try_to_unmap_one() drops the PTE's dirty bit instead of folio_mark_dirty()",
  violates: 'mm/rmap.c: the dirty bit of an unmapped PTE goes to the folio, so reclaim writes the data out before freeing it',
  caughtBy: ['stale_read', 'divergence'],
});
