import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `folio_clear_dirty_for_io()` clears PG_dirty without `folio_mkclean()`.
 * Violates: dirty tracking (page_mkwrite): the folio is written and marked clean while its
 * mappings stay writable, so the next store through them does not fault, the folio stays clean
 * and writeback never writes that store (rule R2 (docs/kernel-semantics.md §10)).
 * Caught by: the ledger (writable_file_page_clean) right after the writeback, or lost_dirty_data.
 */
export class WritebackSkipsMkclean extends BatchedKernel {
  override readonly name: string = 'writeback-skips-mkclean';

  override folioClearDirtyForIo(m: Machine, head: Pfn): boolean {
    const f = folioAt(m, head);
    const was = f.dirty;
    f.dirty = false;
    return was;
  }
}

export const writebackSkipsMkclean: MutantSpec = defineMutant(WritebackSkipsMkclean, {
  breaks: 'folio_clear_dirty_for_io() cleans the folio without write-protecting its mappings',
  violates: 'mm/page-writeback.c folio_clear_dirty_for_io(): folio_mkclean() before the dirty bit is cleared (dirty tracking, rule R2)',
  caughtBy: ['writable_file_page_clean', 'lost_dirty_data', 'stale_file_read', 'divergence'],
});
