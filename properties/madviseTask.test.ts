import { describe, expect, it } from 'vitest';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import type { Op } from '../src/ops/op';
import type { OpResult } from '../models/result';
import { runDifferential } from '../src/run/differential';
import { CheckedRun } from '../src/run/checkedRun';
import { canBeTask } from '../src/run/tasks';
import { G, HOT, load, preempt, resume, store } from './__helpers__/taskOps';

/**
 * madvise(MADV_FREE) as a preemptible task (docs/concurrency.md "The madvise window"): the walk
 * stops after a PMD slot with the flush of the dirty bits it cleared owed to `tlb_finish_mmu()`
 * in the batched kernel. A CPU that still holds the page's dirty translation stores through it
 * without setting the PTE's dirty bit, and reclaim, seeing a clean lazyfree folio, drops the
 * store: 6.12 does that (try_to_unmap_one() decides on the PTE it cleared and the folio's flag),
 * and the store raced with the madvise() call, so the program may read 0. A store after the call
 * returned must stay.
 */
const free = (nr = 1): Op => ({ kind: 'madvise', mm: 0, vpn: HOT, nr, advice: 'free' });
const reclaim: Op = { kind: 'reclaim', mm: 0, vpn: HOT, count: 1 };

function results(run: CheckedRun, ops: readonly Op[]): OpResult[] {
  return ops.map((op, i) => {
    const r = run.step(op, i);
    if ('violation' in r) throw new Error(`step ${i}: ${r.violation.code}`);
    return r.applied.result;
  });
}

// CPU 1 stores to 21 (a writable, dirty translation); MADV_FREE of 21 stops after its slot; CPU 1
// stores again; reclaim runs whole; CPU 1 loads 21; the madvise completes; CPU 1 stores and loads.
const WINDOW: Op[] = [store(1, HOT), preempt(2, 1), free(), store(1, HOT), reclaim, load(1, HOT), resume(2), store(1, HOT), reclaim, load(1, HOT)];

describe('a MADV_FREE preempted after a PMD slot', () => {
  it('stops at its point with the flush of the cleaned PTE owed in the batched kernel', () => {
    const run = new CheckedRun(new BatchedKernel(), G);
    results(run, WINDOW.slice(0, 3));
    expect(run.machine.cpus[2]?.task).toMatchObject({ op: 'madvise', point: 'madvise: table done, PTL dropped' });
    expect(run.machine.mms[0]!.tlbFlushPending).toBe(1);
  });

  it("a store inside the window through the unflushed dirty translation is lost to reclaim (6.12's behaviour); one after the call returned stays", () => {
    for (const k of [new BatchedKernel(), new BatchedNoMigrc()]) {
      const r = results(new CheckedRun(k, G), WINDOW);
      expect(r[3]).toEqual({ kind: 'value', value: 4 });
      expect(r[4]).toEqual({ kind: 'reclaimed', folios: 1 });
      expect(r[5]).toEqual({ kind: 'value', value: 0 });
      expect(r[9]).toEqual({ kind: 'value', value: 8 });
      expect(runDifferential(new ReferenceKernel(), k, G, WINDOW).ok).toBe(true);
    }
    // The reference flushed the PTE as it cleaned it: the store faulted and dirtied the PTE, so
    // reclaim kept the folio.
    const r = results(new CheckedRun(new ReferenceKernel(), G), WINDOW);
    expect(r[4]).toEqual({ kind: 'reclaimed', folios: 0 });
    expect(r[5]).toEqual({ kind: 'value', value: 4 });
  });

  it('run whole, the same ops keep the store: the flush came before madvise() returned', () => {
    const ops = WINDOW.filter((o) => o.kind !== 'preempt' && o.kind !== 'resume');
    const r = results(new CheckedRun(new BatchedKernel(), G), ops);
    expect(ops[2]).toEqual(store(1, HOT));
    expect(r[4]).toEqual({ kind: 'value', value: 3 });
  });

  it('madvise runs as a task only where its twin is not bypassed', () => {
    expect(canBeTask(new BatchedKernel(), 'madvise')).toBe(true);
  });
});
