import type { CpuId, MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { pmdIndexOf, pteAt, setPte } from '../machine/pgtable';
import { underPtl } from '../machine/lockedCall';
import { tlbInvalidateLocal } from '../machine/tlb';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `wp_page_shared()` makes the PTE writable without `do_page_mkwrite()` (and without
 * `fault_dirty_shared_page()`): the folio of a clean shared page is not dirtied by the store
 * that made it writable.
 * Violates: dirty tracking: a page-cache page is mapped writable only while its folio is dirty;
 * otherwise writeback skips the clean folio and the store is lost at eviction (rule R2 (docs/kernel-semantics.md §10)).
 * Caught by: the ledger (writable_file_page_clean).
 */
export class SharedWpSkipsMkwrite extends BatchedKernel {
  override readonly name: string = 'shared-wp-skips-mkwrite';

  override wpPageShared(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pte: PresentPte): void {
    underPtl(m, mm, pmdIndexOf(m, v), () => {
      const now = pteAt(m, mm, v);
      if (now === null || now.kind !== 'present' || now.pfn !== pte.pfn) return;
      setPte(m, mm, v, { ...now, writable: true, dirty: true, young: true });
      tlbInvalidateLocal(m, cpu, mm, v);
    });
  }
}

export const sharedWpSkipsMkwrite: MutantSpec = defineMutant(SharedWpSkipsMkwrite, {
  breaks: 'a write fault on a clean shared file page makes it writable without page_mkwrite dirtying the folio',
  violates: 'mm/memory.c wp_page_shared(): do_page_mkwrite() and fault_dirty_shared_page() around wp_page_reuse() (dirty tracking, rule R2)',
  caughtBy: ['writable_file_page_clean', 'lost_dirty_data', 'stale_file_read', 'divergence'],
});
