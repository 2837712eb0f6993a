import { describe, expect, it } from 'vitest';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { NoFlushTlbBatchedPending } from '../models/mutants/race/noFlushTlbBatchedPending';
import { ReclaimFreesBeforeFlush } from '../models/mutants/reclaimFreesBeforeFlush';
import type { Op } from '../src/ops/op';
import { runDifferential } from '../src/run/differential';
import { CheckedRun } from '../src/run/checkedRun';
import { reclaimCanBeTask } from '../src/run/tasks';
import { G, HOT, load, preempt, resume, store, zap } from './__helpers__/taskOps';

/**
 * Reclaim as a preemptible task (docs/concurrency.md, docs/fidelity/reclaim.md):
 * `shrink_folio_list()` stops at the `cond_resched()` between two folios, where the batched
 * kernel still owes the flush of the clean entries it unmapped (TTU_BATCH_FLUSH), and a
 * MADV_DONTNEED of the mm must flush them first (`flush_tlb_batched_pending()`, 3ea277194daa).
 */
const reclaim = (count: number): Op => ({ kind: 'reclaim', mm: 0, vpn: HOT, count });

// CPU 1 holds a clean translation of page 21 with data (stored, swapped out, read back in: a
// read swap-in maps the swap-cache page clean). The reclaim task swaps 21 out again, unflushed
// in the batched kernel, and stops before page 22; the zap drops 21's swap entry; CPU 1 loads 21.
const RACE: Op[] = [store(1, HOT), store(0, HOT + 1), reclaim(1), load(1, HOT), preempt(2, 1), reclaim(2), zap(HOT, 1), load(1, HOT)];

describe('a reclaim preempted between two folios', () => {
  it('stops at its point with the batched flush owed, and the zap in its window flushes it first', () => {
    const run = new CheckedRun(new BatchedKernel(), G);
    for (let i = 0; i < 6; i++) expect('violation' in run.step(RACE[i]!, i)).toBe(false);
    expect(run.machine.cpus[2]?.task).toMatchObject({ op: 'reclaim', point: 'reclaim: folio done, before the next (cond_resched())' });
    const b = run.machine.mms[0]!.tlbFlushBatched;
    expect(b.pending).toBeGreaterThan(b.flushed);
    expect('violation' in run.step(RACE[6]!, 6)).toBe(false);
    expect(run.machine.marks['flush_tlb_batched_pending flushed for a preempted reclaim']).toBe(1);
    const r = run.step(RACE[7]!, 7);
    expect('violation' in r ? r.violation : r.applied.result).toEqual({ kind: 'value', value: 0 });
  });

  it('the reference and both batched kernels hold on the race; without flush_tlb_batched_pending CPU 1 reads the swapped-out data after MADV_DONTNEED', () => {
    for (const k of [new BatchedKernel(), new BatchedNoMigrc()]) expect(runDifferential(new ReferenceKernel(), k, G, RACE).ok).toBe(true);
    const r = runDifferential(new ReferenceKernel(), new NoFlushTlbBatchedPending(), G, RACE);
    expect(r.ok ? null : r.violation).toMatchObject({ code: 'stale_read', step: 7, expected: 0, actual: 1 });
    // Without the preempt the reclaim flushes before it returns: the same ops hold.
    expect(runDifferential(new ReferenceKernel(), new NoFlushTlbBatchedPending(), G, RACE.filter((o) => o.kind !== 'preempt')).ok).toBe(true);
  });

  // The same clean translation on CPU 1; inside the window CPU 0 stores to 21 (its fault reads the
  // slot into a new page: the old one left the swap cache in __remove_mapping()), CPU 1 loads 21
  // through its old translation, then the reclaim finishes (try_to_unmap_flush()) and CPU 1 loads again.
  const WINDOW: Op[] = [store(1, HOT), store(0, HOT + 1), reclaim(1), load(1, HOT), preempt(2, 1), reclaim(2), store(0, HOT), load(1, HOT), resume(2), load(1, HOT)];

  it("mainline's window, accepted: until try_to_unmap_flush() a CPU reads the old page while another stores to the new one; after it, the new value", () => {
    for (const k of [new BatchedKernel(), new BatchedNoMigrc()]) {
      const run = new CheckedRun(k, G);
      const results = WINDOW.map((op, i) => {
        const r = run.step(op, i);
        if ('violation' in r) throw new Error(`step ${i}: ${r.violation.code}`);
        return r.applied.result;
      });
      // The store of step 6 is value 7; CPU 1 still reads step 0's value 1 through the old page.
      expect(results[6]).toEqual({ kind: 'value', value: 7 });
      expect(results[7]).toEqual({ kind: 'value', value: 1 });
      expect(run.machine.cpus[2]?.task).toBeNull();
      expect(results[9]).toEqual({ kind: 'value', value: 7 });
      expect(runDifferential(new ReferenceKernel(), k, G, WINDOW).ok).toBe(true);
    }
    // The reference flushed each PTE as it cleared it: CPU 1 faults and reads the new value at once.
    const ref = new CheckedRun(new ReferenceKernel(), G);
    const r7 = WINDOW.map((op, i) => ref.step(op, i))[7]!;
    expect('violation' in r7 ? r7.violation : r7.applied.result).toEqual({ kind: 'value', value: 7 });
  });

  it('without the preempt the reclaim flushed before it returned: CPU 1 reads the value CPU 0 stored at once', () => {
    const run = new CheckedRun(new BatchedKernel(), G);
    const ops = WINDOW.filter((o) => o.kind !== 'preempt' && o.kind !== 'resume');
    const results = ops.map((op, i) => {
      const r = run.step(op, i);
      if ('violation' in r) throw new Error(`step ${i}: ${r.violation.code}`);
      return r.applied.result;
    });
    expect(ops[5]).toEqual(store(0, HOT));
    expect(results[6]).toEqual(results[5]);
  });

  it('a kernel that rewrote the list walk (reclaim-frees-before-flush overrides shrinkFolioList()) does not run reclaim as a task', () => {
    expect(reclaimCanBeTask(new BatchedKernel())).toBe(true);
    expect(reclaimCanBeTask(new ReclaimFreesBeforeFlush())).toBe(false);
  });
});
