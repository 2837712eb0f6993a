import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import type { MmId, Vpn } from '../models/machine/ids';
import { pteAt } from '../models/machine/pgtable';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { MigrcAsPosted } from '../models/migrcAsPosted/MigrcAsPosted';
import type { Op } from '../src/ops/op';
import { runAll } from './__helpers__/taskOps';
import { CheckedRun } from '../src/run/checkedRun';
import { runDifferential } from '../src/run/differential';
import { faultCanBeTask } from '../src/run/tasks';
import { CowSkipsPteSame } from '../models/mutants/race/cowSkipsPteSame';

/**
 * The COW fault's window (issue 11, docs/concurrency.md): a store's `wp_page_copy()` between
 * copying the old page (PTL dropped) and retaking the PTL to recheck `pte_same()`. Small
 * geometry: page 21 is in the second table. The page is made shared by a fork, so the parent's
 * store must copy it.
 */
const G = geometry('small');
const HOT = 21;
const mm0 = 0 as MmId;
const store = (c: number, mm = 0, vpn = HOT): Op => ({ kind: 'access', cpu: c, mm, vpn, write: true });
const load = (c: number, mm = 0, vpn = HOT): Op => ({ kind: 'access', cpu: c, mm, vpn, write: false });
const preempt = (c: number, at: number): Op => ({ kind: 'preempt', cpu: c, at });
const resume = (c: number, points = 1): Op => ({ kind: 'resume', cpu: c, points });
const fork: Op = { kind: 'fork', mm: 0 };
const zap: Op = { kind: 'zap', mm: 0, vpn: HOT, nr: 1 };
/** A page of mm 0 shared with its child (mm 1): the parent's next store copies it. */
const SHARED: readonly Op[] = [store(0), fork];

const KERNELS = (): ReferenceKernel[] => [new ReferenceKernel(), new BatchedKernel(), new BatchedNoMigrc()];

describe('a store whose COW fault is preempted before retaking the PTL', () => {
  it('all kernels: stops after the copy with the old PTE in place; resume installs the copy and the store lands', () => {
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [...SHARED, preempt(1, 1), store(0)]);
      expect(bad, k.name).toBeNull();
      expect(run.machine.cpus[1]!.task, k.name).toEqual({ op: 'access', mm: 0, start: HOT, end: HOT + 1, point: 'fault: COW page copied, before the PTL', pointsPassed: 1 });
      const pte = pteAt(run.machine, mm0, HOT as Vpn);
      expect(pte?.kind === 'present' && !pte.writable, k.name).toBe(true);
      const after = runAll(k, [...SHARED, preempt(1, 1), store(0), load(2), resume(1), load(2), load(3, 1)]);
      expect(after.bad, k.name).toBeNull();
      // Inside the window the parent still reads the old value; afterwards the task's store; the child keeps the old one.
      expect(after.values.slice(4), k.name).toEqual([1, null, 4, 1]);
    }
  });

  it('another CPU copies the page meanwhile: pte_same fails, the task frees its copy and retries — the later store wins', () => {
    const ops = [...SHARED, preempt(1, 1), store(0), store(2), resume(1), load(3), load(3, 1)];
    for (const k of KERNELS()) {
      const { bad, values, run } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      // cpu2's store (value 5) lands first; the task's (value 4) lands by its retry, after it.
      expect(values.slice(6), k.name).toEqual([4, 1]);
      expect(run.machine.marks['COW fault backed off: another CPU changed the PTE (pte_same)'], k.name).toBe(1);
      // One copy is mapped by the parent, the old page by the child: the task's copy was freed.
      expect(run.machine.frames.filter((f) => f.state === 'data').length, k.name).toBe(2);
    }
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });

  it('a zap inside the window: the retry goes to do_anonymous_page() and passes its point too', () => {
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, [...SHARED, preempt(1, 1), store(0), zap, resume(1)]);
      expect(bad, k.name).toBeNull();
      expect(run.machine.cpus[1]!.task?.point, k.name).toBe('fault: page allocated, before the PTL');
      const done = runAll(k, [...SHARED, preempt(1, 1), store(0), zap, resume(1), resume(1), load(2), load(2, 1)]);
      expect(done.bad, k.name).toBeNull();
      expect(done.values.slice(7), k.name).toEqual([4, 1]);
      expect(values).toHaveLength(6);
    }
  });

  it('fork and mprotect wait for it (the fault holds mmap_lock for read)', () => {
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [...SHARED, preempt(1, 1), store(0), { kind: 'mprotect', mm: 0, vpn: HOT, nr: 1, writable: true }]);
      expect(bad, k.name).toBeNull();
      expect(run.machine.cpus[1]!.task, k.name).toBeNull();
    }
  });

  it('a store that reuses its page passes no point; a load is never a task', () => {
    const { run } = runAll(new BatchedKernel(), [store(0), { kind: 'mprotect', mm: 0, vpn: HOT, nr: 1, writable: false }, { kind: 'mprotect', mm: 0, vpn: HOT, nr: 1, writable: true }, preempt(1, 1), store(0)]);
    expect(run.machine.cpus[1]!.task).toBeNull();
    expect(runAll(new BatchedKernel(), [...SHARED, preempt(1, 1), load(0)]).run.machine.cpus[1]!.task).toBeNull();
  });

  it('a kernel hooking do_wp_page() through the twin keeps its COW window; one overriding the plain method loses only that', () => {
    expect(faultCanBeTask(new MigrcAsPosted(), 'cow')).toBe(true);
    class OwnWp extends BatchedKernel {
      override doWpPage(...args: Parameters<ReferenceKernel['doWpPage']>): void {
        super.doWpPage(...args);
      }
    }
    expect(faultCanBeTask(new OwnWp(), 'cow')).toBe(false);
    expect(faultCanBeTask(new OwnWp(), 'anonymous')).toBe(true);
    const { bad, run } = runAll(new OwnWp(), [...SHARED, preempt(1, 1), store(0)]);
    expect(bad).toBeNull();
    expect(run.machine.cpus[1]!.task).toBeNull();
  });
});

describe('cow-skips-pte-same', () => {
  it('a second CPU copied the page inside the window: the install overwrites its copy, which leaks', () => {
    const ops = [...SHARED, preempt(1, 1), store(0), store(2), resume(1), load(3)];
    expect(runAll(new CowSkipsPteSame(), ops).bad).toMatch(/^5:(mapcount_mismatch|refcount_mismatch|freed_frame_in_use)$/);
    expect(runAll(new CowSkipsPteSame(), ops.filter((o) => o.kind !== 'preempt' && o.kind !== 'resume')).bad).toBeNull();
  });

  it('a zap inside the window: the install maps a page the zap already unmapped the old one from', () => {
    const ops = [...SHARED, preempt(1, 1), store(0), zap, resume(1)];
    expect(runAll(new CowSkipsPteSame(), ops).bad).toMatch(/^5:(mapcount_mismatch|refcount_mismatch|freed_frame_in_use)$/);
  });
});

describe('a store task raced again and again', () => {
  it('completes however many times a rival sends it back (the kernel retries as long as it takes)', () => {
    // With the zero page, a load fills the empty PTE read-only: the store's anonymous fault backs
    // off and its retry goes to the COW copy; a zap empties the PTE again, and so on.
    const ops = [preempt(1, 1), store(0), load(2), resume(1), zap, resume(1), load(2), resume(1), zap, resume(1), load(2), resume(1), store(3), resume(1), load(2)];
    for (const k of KERNELS()) {
      const run = new CheckedRun(k, G, undefined, null, { zeroPage: true });
      const values: Array<number | null> = [];
      for (let i = 0; i < ops.length; i++) {
        const r = run.step(ops[i]!, i);
        expect('violation' in r ? `${i}:${r.violation.code}` : null, k.name).toBeNull();
        if (!('violation' in r)) values.push(r.applied.result.kind === 'value' ? r.applied.result.value : null);
      }
      // Six back-offs (anonymous, COW, anonymous, COW, anonymous, COW); the task's store (value 2) lands last.
      expect(run.machine.marks['fault backed off: another CPU changed the PTE (pte_same)'], k.name).toBe(3);
      expect(run.machine.marks['COW fault backed off: another CPU changed the PTE (pte_same)'], k.name).toBe(3);
      expect(run.machine.cpus[1]!.task, k.name).toBeNull();
      expect(values[14], k.name).toBe(2);
    }
  });
});
