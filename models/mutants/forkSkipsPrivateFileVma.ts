import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: fork copies nothing of a MAP_PRIVATE file mapping, as for a MAP_SHARED one
 * (`vma_needs_copy()` false although the VMA has an anon_vma): the child faults the page-cache
 * pages in again and loses the parent's private copies.
 * Violates: mm/memory.c `vma_needs_copy()`: a VMA with an anon_vma (one that had a COW fault) is
 * copied, its anonymous pages shared COW with the child.
 * Caught by: the user-memory oracle (stale_read: the child reads the file, not the parent's
 * copy), or the differential (divergence).
 */
export class ForkSkipsPrivateFileVma extends BatchedKernel {
  override readonly name: string = 'fork-skips-private-file-vma';

  override vmaNeedsCopy(m: Machine, parent: MmId, v: Vpn): boolean {
    return this.fileVmaOf(m, parent, v) === null;
  }
}

export const forkSkipsPrivateFileVma: MutantSpec = defineMutant(ForkSkipsPrivateFileVma, {
  breaks: "fork copies nothing of a private file mapping, so the child loses the parent's private copies",
  violates: 'mm/memory.c vma_needs_copy(): a VMA with an anon_vma is copied at fork',
  caughtBy: ['stale_read', 'divergence'],
});
