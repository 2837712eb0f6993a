import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { inSharedFileVma } from '../machine/files';
import { pteAt, setPte } from '../machine/pgtable';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: mprotect(PROT_READ | PROT_WRITE) of a MAP_SHARED file mapping makes every present PTE
 * writable, clean ones too (`can_change_pte_writable()` without its `pte_dirty()` test for
 * VM_SHARED).
 * Violates: dirty tracking (mm/mprotect.c `can_change_pte_writable()`: a clean shared PTE stays
 * read-only so that the next store faults and `page_mkwrite` dirties the folio; rule R2 (docs/kernel-semantics.md §10)).
 * Caught by: the ledger (writable_file_page_clean): a clean folio mapped writable; a store then
 * dirties a page writeback never writes (lost_dirty_data).
 */
export class MprotectUpgradesCleanShared extends BatchedKernel {
  override readonly name: string = 'mprotect-upgrades-clean-shared';

  override changePte(m: Machine, mm: MmId, v: Vpn, writable: boolean): void {
    super.changePte(m, mm, v, writable);
    const pte = pteAt(m, mm, v);
    if (writable && inSharedFileVma(m, mm, v) && pte !== null && pte.kind === 'present') setPte(m, mm, v, { ...pte, writable: true });
  }
}

export const mprotectUpgradesCleanShared: MutantSpec = defineMutant(MprotectUpgradesCleanShared, {
  breaks: 'mprotect(RW) makes clean PTEs of a shared file mapping writable',
  violates: 'mm/mprotect.c can_change_pte_writable(): in a VM_SHARED mapping only a dirty PTE may become writable (rule R2)',
  caughtBy: ['writable_file_page_clean', 'lost_dirty_data', 'stale_file_read', 'divergence'],
});
