import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { MigrcReq } from '../batched/migrc';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: MIGRC skips the flush for a read-only folio but does not keep the source: no extra
 * reference, no pending flag (`migrc_mark_pending()`), not on the request's list
 * (`migrc_expand_req()`), so `migrate_folio_done()` frees it while CPUs may still cache it.
 * Violates: seed 002 (MIGRC): "skip the TLB flush … keeping the source folio alive until a later
 * flush"; rule R1 (docs/kernel-semantics.md §8 "src is freed only after all TLB entries to it are gone").
 * Caught by: the free_with_stale_tlb hazard (the source is freed while a TLB maps it).
 */
export class MigrcFreesSource extends BatchedKernel {
  override readonly name: string = 'migrc-frees-source';

  override migrcMarkPending(_m: Machine, _src: Pfn): void {}

  override migrcExpandReq(_req: MigrcReq, _src: Pfn): void {}
}

export const migrcFreesSource: MutantSpec = defineMutant(MigrcFreesSource, {
  breaks: 'MIGRC skips the flush but frees the source folio at once',
  violates: 'seed 002: the source stays alive until the deferred flush; rule R1',
  caughtBy: ['free_with_stale_tlb', 'tlb_use_after_free'],
});
