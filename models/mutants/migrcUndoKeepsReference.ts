import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: a MIGRC candidate whose move fails is undone without `migrc_undo_folios()`'s
 * `folio_put()`: the pending flag goes but the reference `migrc_mark_pending()` took stays, so
 * the source (mapped again) can never be freed.
 * Violates: seed 002 (MIGRC): `migrc_undo_folios()` in the cleanup of `migrate_pages_batch()`;
 * review row 5 ("MIGRC's extra reference" in the undo path).
 * Caught by: the ledger (refcount_mismatch: one reference no mapping, handle or pending list explains).
 */
export class MigrcUndoKeepsReference extends BatchedKernel {
  override readonly name: string = 'migrc-undo-keeps-reference';

  override migrcUndoFolios(m: Machine, src: Pfn): void {
    folioAt(m, src).migrcPending = false;
  }
}

export const migrcUndoKeepsReference: MutantSpec = defineMutant(MigrcUndoKeepsReference, {
  breaks: 'a failed MIGRC migration keeps the extra reference on the source',
  violates: 'seed 002: migrc_undo_folios() drops the reference migrc_mark_pending() took; review row 5',
  caughtBy: ['refcount_mismatch'],
});
