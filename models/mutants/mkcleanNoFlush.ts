import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { setPte } from '../machine/pgtable';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `page_mkclean_one()` write-protects and cleans the PTE in place (`set_pte_at()` of
 * `pte_wrprotect(pte_mkclean())`) instead of `ptep_clear_flush()` first.
 * Violates: rule R2 (docs/kernel-semantics.md §10; no lost dirty data): a CPU that still caches the writable, dirty
 * translation stores without a page walk after writeback has cleaned the folio; nothing makes
 * writeback write that store again, and it is lost when the page is evicted.
 * Caught by: the lost_dirty_data hazard at that store.
 */
export class MkcleanNoFlush extends BatchedKernel {
  override readonly name: string = 'mkclean-no-flush';

  override pageMkcleanOne(m: Machine, mm: MmId, v: Vpn, pte: PresentPte): void {
    setPte(m, mm, v, { ...pte, writable: false, dirty: false });
  }
}

export const mkcleanNoFlush: MutantSpec = defineMutant(MkcleanNoFlush, {
  breaks: 'folio_mkclean() write-protects the PTEs without flushing the TLBs',
  violates: 'mm/rmap.c page_vma_mkclean_one(): ptep_clear_flush() before the clean, write-protected PTE is set (rule R2, no lost dirty data)',
  caughtBy: ['lost_dirty_data', 'stale_file_read', 'divergence'],
});
