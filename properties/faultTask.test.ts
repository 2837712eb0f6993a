import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import type { MmId, Vpn } from '../models/machine/ids';
import { pteAt } from '../models/machine/pgtable';
import { frameAt } from '../models/machine/frames';
import type { Machine } from '../models/machine/state';
import type { PreemptPoint } from '../models/machine/tasks';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { FaultSkipsPteSame } from '../models/mutants/race/faultSkipsPteSame';
import type { Op } from '../src/ops/op';
import { runAll } from './__helpers__/taskOps';
import { ALL_ORACLES, CheckedRun } from '../src/run/checkedRun';
import { runDifferential } from '../src/run/differential';

/**
 * The anonymous fault's window (issue 11, docs/concurrency.md): a store's `do_anonymous_page()`
 * between reading the empty PTE (and allocating) and taking the PTL to recheck it. Small
 * geometry: page 21 is in the second table.
 */
const G = geometry('small');
const HOT = 21;
const mm0 = 0 as MmId;
const store = (c: number, vpn = HOT): Op => ({ kind: 'access', cpu: c, mm: 0, vpn, write: true });
const load = (c: number, vpn = HOT): Op => ({ kind: 'access', cpu: c, mm: 0, vpn, write: false });
const preempt = (c: number, at: number): Op => ({ kind: 'preempt', cpu: c, at });
const resume = (c: number, points = 1): Op => ({ kind: 'resume', cpu: c, points });

describe('a store whose fault is preempted before the PTL', () => {
  it('both kernels: the page is allocated, the PTE still empty; resume installs it and the store lands', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const { bad, run } = runAll(k, [preempt(1, 1), store(0)]);
      expect(bad).toBeNull();
      expect(run.machine.cpus[1]!.task).toEqual({ op: 'access', mm: 0, start: HOT, end: HOT + 1, point: 'fault: page allocated, before the PTL', pointsPassed: 1 });
      expect(pteAt(run.machine, mm0, HOT as Vpn)?.kind ?? 'none').toBe('none');
      const after = runAll(k, [preempt(1, 1), store(0), resume(1), load(2)]);
      expect(after.bad).toBeNull();
      expect(after.values[3]).toBe(2);
    }
  });

  it('another CPU faults the page in meanwhile: the task backs off, frees its page and retries — the later store wins', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const { bad, values, run } = runAll(k, [preempt(1, 1), store(0), store(2), resume(1), load(3)]);
      expect(bad, k.name).toBeNull();
      // The task's store (value 2) lands by its retry after cpu2's (value 3).
      expect(values[4]).toBe(2);
      expect(run.machine.frames.filter((f) => f.state === 'data').length).toBe(1);
    }
    const d = runDifferential(new ReferenceKernel(), new BatchedKernel(), G, [preempt(1, 1), store(0), store(2), resume(1), load(3)]);
    expect(d.ok).toBe(true);
  });

  it('only a fault on an empty PTE is a task here (a store to a mapped page, or a load of one, runs whole)', () => {
    expect(runAll(new BatchedKernel(), [store(2), preempt(1, 1), store(0)]).run.machine.cpus[1]!.task).toBeNull();
    expect(runAll(new BatchedKernel(), [store(2), preempt(1, 1), load(0)]).run.machine.cpus[1]!.task).toBeNull();
  });

  it('fork waits for it (the fault holds mmap_lock for read)', () => {
    const { bad, run } = runAll(new BatchedKernel(), [preempt(1, 1), store(0), { kind: 'fork', mm: 0 }]);
    expect(bad).toBeNull();
    expect(run.machine.cpus[1]!.task).toBeNull();
    expect(pteAt(run.machine, mm0, HOT as Vpn)?.kind).toBe('present');
  });

  it('fault-skips-pte-same: the second install overwrites the first page, which leaks', () => {
    const ops = [preempt(1, 1), store(0), store(2), resume(1), load(3)];
    expect(runAll(new FaultSkipsPteSame(), ops).bad).toMatch(/^3:(mapcount|refcount)_mismatch$/);
    expect(runAll(new FaultSkipsPteSame(), ops.filter((o) => o.kind !== 'preempt' && o.kind !== 'resume')).bad).toBeNull();
  });
});

/** Run `ops` with or without the shared zero page; the first violation, the run and each step's notes' read values. */
function runLoads(kernel: ReferenceKernel, ops: readonly Op[], zeroPage: boolean): { bad: string | null; run: CheckedRun; reads: number[] } {
  const run = new CheckedRun(kernel, G, ALL_ORACLES, null, { zeroPage });
  const reads: number[] = [];
  for (let i = 0; i < ops.length; i++) {
    const r = run.step(ops[i]!, i);
    if ('violation' in r) return { bad: `${i}:${r.violation.code}`, run, reads };
    for (const n of r.applied.tasks ?? []) if (n.read !== undefined) reads.push(n.read);
  }
  return { bad: null, run, reads };
}

describe('a load whose fault is preempted before the PTL', () => {
  const POINT = { true: 'fault: zero-page entry made, before the PTL', false: 'fault: page allocated, before the PTL' } as const;

  it.each([true, false])('zero page %s: the load stops with the PTE still empty; resumed, it completes and reads 0', (zeroPage) => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const { bad, run, reads } = runLoads(k, [preempt(1, 1), load(0)], zeroPage);
      expect(bad, k.name).toBeNull();
      expect(reads).toEqual([]); // nothing read while the load is in flight
      expect(run.machine.cpus[1]!.task?.point).toBe(POINT[`${zeroPage}`]);
      expect(pteAt(run.machine, mm0, HOT as Vpn)?.kind ?? 'none').toBe('none');
      const after = runLoads(k, [preempt(1, 1), load(0), resume(1)], zeroPage);
      expect(after.bad).toBeNull();
      expect(after.reads).toEqual([0]);
      expect(pteAt(after.run.machine, mm0, HOT as Vpn)?.kind).toBe('present');
    }
  });

  it('a load task that completes at once (at past its one point) returns its value as the step result, like a load run whole', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const run = new CheckedRun(k, G, ALL_ORACLES, null, { zeroPage: true });
      run.step(preempt(1, 2), 0);
      const r = run.step(load(0), 1);
      expect('violation' in r).toBe(false);
      if (!('violation' in r)) expect(r.applied.result).toEqual({ kind: 'value', value: 0 });
    }
  });

  it.each([true, false])('zero page %s: a store faults the page in meanwhile — the load backs off, retries and reads the stored value', (zeroPage) => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const { bad, run, reads } = runLoads(k, [preempt(1, 1), load(0), store(2), resume(1), load(3)], zeroPage);
      expect(bad, k.name).toBeNull();
      expect(reads).toEqual([3]);
      // Only the store's page is left: the load's (without the zero page) was freed by its back-off.
      expect(run.machine.frames.filter((f) => f.state === 'data').length).toBe(1);
    }
  });

  it('fault-skips-pte-same: the load installs the zero page over the stored page, which stays counted as mapped', () => {
    const ops = [preempt(1, 1), load(0), store(2), resume(1)];
    expect(runLoads(new FaultSkipsPteSame(), ops, true).bad).toMatch(/^3:(mapcount_mismatch|refcount_mismatch|stale_read)$/);
    expect(runLoads(new FaultSkipsPteSame(), ops.filter((o) => o.kind !== 'preempt' && o.kind !== 'resume'), true).bad).toBeNull();
  });

  it('the value a load task returns is checked when it completes: a fault that maps a page holding garbage is a stale read', () => {
    /** Its anonymous fault leaves 7 in the page it maps (a missing clear_page()). */
    class FaultMapsGarbage extends BatchedKernel {
      override *doAnonymousPageSteps(m: Machine, mm: MmId, v: Vpn, write = true): Generator<PreemptPoint, void, void> {
        yield* super.doAnonymousPageSteps(m, mm, v, write);
        const pte = pteAt(m, mm, v);
        if (pte?.kind === 'present') frameAt(m, pte.pfn).content = 7;
      }
    }
    expect(runLoads(new FaultMapsGarbage(), [preempt(1, 1), load(0), resume(1)], false).bad).toBe('2:stale_read');
    expect(runLoads(new BatchedKernel(), [preempt(1, 1), load(0), resume(1)], false).bad).toBeNull();
  });
});
