import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: fork copies the PTEs of a MAP_SHARED file VMA (`vma_needs_copy()` always true), as if
 * it had an anon_vma.
 * Violates: mm/memory.c copy_page_range() (6.12): a shared file mapping is not copied — the child
 * faults its pages in — so its PTEs, mapcounts and references differ from the per-page kernel's.
 * Caught by: divergence from the reference.
 */
export class ForkCopiesSharedFilePtes extends BatchedKernel {
  override readonly name: string = 'fork-copies-shared-file-ptes';

  override vmaNeedsCopy(_m: Machine, _parent: MmId, _v: Vpn): boolean {
    return true;
  }
}

export const forkCopiesSharedFilePtes: MutantSpec = defineMutant(ForkCopiesSharedFilePtes, {
  breaks: "fork copies the PTEs of a MAP_SHARED file mapping",
  violates: 'mm/memory.c vma_needs_copy(): copy_page_range() skips a VMA without anon_vma (a shared file mapping)',
  caughtBy: ['divergence', 'writable_not_exclusive', 'mapcount_mismatch'],
});
