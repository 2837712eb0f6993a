import type { MmId } from '../machine/ids';
import type { Machine } from '../machine/state';
import { PMD_NONE } from '../machine/pte';
import { pmdAt, setPmd } from '../machine/pgtable';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `move_normal_pmd()` moves the PTE table to the new PMD but skips its
 * `flush_tlb_range(vma, old_addr, old_addr + PMD_SIZE)`, reasoning that no PTE changed — but the
 * translations cached for the old addresses still lead to the same pages.
 * Violates: `move_normal_pmd()` (mm/mremap.c, 6.12): the old PMD's range is flushed under the
 * PMD locks; rule R1 (docs/kernel-semantics.md §10).
 * Caught by: the hazards of the stale old-address entries (the page freed or written through
 * the new address while one is cached), or a divergence in a load through the old address.
 */
export class MovePmdNoFlush extends BatchedKernel {
  override readonly name: string = 'move-pmd-no-flush';

  override moveNormalPmd(m: Machine, mm: MmId, i: number, j: number): boolean {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'table' || pmdAt(m, mm, j).kind !== 'none') return false;
    setPmd(m, mm, i, PMD_NONE);
    setPmd(m, mm, j, pmd);
    return true;
  }
}

export const movePmdNoFlush: MutantSpec = defineMutant(MovePmdNoFlush, {
  breaks: 'move_normal_pmd() moves the PTE table without flushing the old range',
  violates: 'move_normal_pmd(): flush the old PMD range under the PMD locks; rule R1',
  caughtBy: ['free_with_stale_tlb', 'tlb_use_after_free', 'stale_tlb_divergent_write', 'stale_read', 'divergence'],
});
