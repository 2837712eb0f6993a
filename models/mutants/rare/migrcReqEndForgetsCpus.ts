import type { Machine } from '../../machine/state';
import type { MigrcReq } from '../../batched/migrc';
import { mark } from '../../machine/marks';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: `migrc_req_end()` publishes a request's CPUs by replacing the pending CPU mask instead
 * of adding to it, so a second deferred migration before the release forgets the CPUs the first
 * one's flush was owed to; the release then flushes only the second request's CPUs and frees
 * both sources.
 * Needs: two migrations of read-only folios cached by different CPUs, with no release in between
 * (no tick, no write fault, no memory pressure) — in a fixed mix a tick or a store almost always
 * lands between them.
 * Violates: seed 002 (MIGRC): the deferred flush covers every CPU that may hold a stale entry to
 * any pending source; rule R1 (docs/kernel-semantics.md §10; a frame is freed only after every TLB entry to it is gone).
 * Caught by: the free_with_stale_tlb hazard (a source is freed while a forgotten CPU maps it).
 */
export class MigrcReqEndForgetsCpus extends BatchedKernel {
  override readonly name: string = 'migrc-req-end-forgets-cpus';

  override migrcReqEnd(m: Machine, req: MigrcReq): void {
    if (req.folios.length === 0) return;
    m.migrc.pending.push(...req.folios);
    req.cpus.forEach((on, c) => {
      m.migrc.cpus[c] = on;
    });
    mark(m, 'migrc deferred a flush');
  }
}

export const migrcReqEndForgetsCpus: MutantSpec = defineMutant(MigrcReqEndForgetsCpus, {
  breaks: 'a second deferred migration replaces the pending CPU mask instead of adding to it',
  violates: 'seed 002: the deferred flush reaches every CPU a pending source may be cached on; rule R1',
  caughtBy: ['free_with_stale_tlb', 'tlb_use_after_free', 'stale_tlb_divergent_write'],
});
