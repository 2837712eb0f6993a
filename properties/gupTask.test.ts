import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import type { MmId, Vpn } from '../models/machine/ids';
import { pteAt } from '../models/machine/pgtable';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { BatchedGupRuns } from '../models/batched/gupRuns';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { GupSkipsRetryLookup } from '../models/mutants/race/gupSkipsRetryLookup';
import type { Op } from '../src/ops/op';
import { CheckedRun } from '../src/run/checkedRun';
import { runDifferential } from '../src/run/differential';
import { canBeTask } from '../src/run/tasks';

/**
 * GUP's slow-path window (issue 11, docs/concurrency.md): `__get_user_pages()` after
 * `faultin_page()` and before the retried `follow_page_mask()`. Small geometry: page 21 is in
 * the second table.
 */
const G = geometry('small');
const HOT = 21;
const mm0 = 0 as MmId;
const store = (c: number, vpn = HOT): Op => ({ kind: 'access', cpu: c, mm: 0, vpn, write: true });
const load = (c: number, vpn = HOT): Op => ({ kind: 'access', cpu: c, mm: 0, vpn, write: false });
const preempt = (c: number, at: number): Op => ({ kind: 'preempt', cpu: c, at });
const resume = (c: number, points = 1): Op => ({ kind: 'resume', cpu: c, points });
const pin = (c: number, write: boolean, nr = 1): Op => ({ kind: 'gup', cpu: c, mm: 0, vpn: HOT, nr, pin: true, write, fast: false });
const zap: Op = { kind: 'zap', mm: 0, vpn: HOT, nr: 1 };
const migrate: Op = { kind: 'migrate', mm: 0, vpn: HOT, count: 1 };
const pinRead = (index = 0): Op => ({ kind: 'gupRead', handle: 0, index });

function runAll(kernel: ReferenceKernel, ops: readonly Op[]): { bad: string | null; run: CheckedRun; values: Array<number | null>; kinds: string[] } {
  const run = new CheckedRun(kernel, G);
  const values: Array<number | null> = [];
  const kinds: string[] = [];
  for (let i = 0; i < ops.length; i++) {
    const r = run.step(ops[i]!, i);
    if ('violation' in r) return { bad: `${i}:${r.violation.code}`, run, values, kinds };
    values.push(r.applied.result.kind === 'value' ? r.applied.result.value : null);
    kinds.push(r.applied.result.kind);
  }
  return { bad: null, run, values, kinds };
}

const KERNELS = (): ReferenceKernel[] => [new ReferenceKernel(), new BatchedKernel(), new BatchedNoMigrc()];

describe('GUP preempted between its fault and the retried lookup', () => {
  it('all kernels: the fault has mapped the page, no handle yet; resume looks it up again and pins it', () => {
    for (const k of KERNELS()) {
      const { bad, run, kinds } = runAll(k, [preempt(1, 1), pin(0, true)]);
      expect(bad, k.name).toBeNull();
      expect(kinds, k.name).toEqual(['done', 'done']);
      expect(run.machine.cpus[1]!.task, k.name).toEqual({ op: 'gup', mm: 0, start: HOT, end: HOT + 1, point: 'gup: faulted, before the retried lookup', pointsPassed: 1 });
      expect(pteAt(run.machine, mm0, HOT as Vpn)?.kind, k.name).toBe('present');
      expect(run.machine.handles, k.name).toHaveLength(0);
      const after = runAll(k, [preempt(1, 1), pin(0, true), store(2), resume(1), pinRead()]);
      expect(after.bad, k.name).toBeNull();
      expect(after.run.machine.handles, k.name).toHaveLength(1);
      expect(after.values[4], k.name).toBe(3);
    }
  });

  it('a page the GUP-fast half or the first lookup finds passes no point (nothing to fault)', () => {
    const { run } = runAll(new BatchedKernel(), [store(0), preempt(1, 1), pin(0, true)]);
    expect(run.machine.cpus[1]!.task).toBeNull();
    expect(run.machine.handles).toHaveLength(1);
  });

  it('a zap inside the window: the retried lookup finds nothing, faults again and passes a second point', () => {
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [preempt(1, 1), pin(0, true), store(2), zap, resume(1)]);
      expect(bad, k.name).toBeNull();
      expect(run.machine.cpus[1]!.task?.pointsPassed, k.name).toBe(2);
      expect(run.machine.marks['GUP retried its lookup after the faulted entry changed'], k.name).toBe(1);
      const done = runAll(k, [preempt(1, 1), pin(0, true), store(2), zap, resume(1), resume(1), store(3), pinRead()]);
      expect(done.bad, k.name).toBeNull();
      expect(done.values[7], k.name).toBe(7);
    }
    const ops = [preempt(1, 1), pin(0, true), store(2), zap, resume(1), resume(1), store(3), pinRead()];
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });

  it('fork waits for it (GUP holds mmap_lock for read)', () => {
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [preempt(1, 1), pin(0, true), { kind: 'fork', mm: 0 }]);
      expect(bad, k.name).toBeNull();
      expect(run.machine.cpus[1]!.task, k.name).toBeNull();
      expect(run.machine.handles, k.name).toHaveLength(1);
    }
  });

  it('exit waits for it; the pin attaches when the task completes, before the exit detaches it (user-memory oracle)', () => {
    for (const k of KERNELS()) {
      // The fork first, so that mm 0 is not the last live mm (whose exit is a no-op).
      const { bad, values, kinds } = runAll(k, [{ kind: 'fork', mm: 0 }, preempt(1, 1), pin(0, true), store(2), { kind: 'exit', mm: 0 }, pinRead()]);
      expect(bad, k.name).toBeNull();
      expect(kinds[4], k.name).toBe('done');
      expect(values[5], k.name).toBe(4);
    }
  });

  it('a page grabbed before a zap inside the window stays pinned, detached, with what it held (interleaved soak, seed 31012)', () => {
    // Two pages: the task grabs page 21, faults page 22 and stops at its second point. The zap
    // unmaps page 21; the store faults a new page in there. The pin of index 0 is the old page.
    const ops = [preempt(1, 2), pin(0, false, 2), zap, store(1), { kind: 'exit', mm: 0 } as Op, pinRead(0)];
    for (const k of KERNELS()) {
      const { bad, values, run } = runAll(k, [{ kind: 'fork', mm: 0 }, ...ops]);
      expect(bad, k.name).toBeNull();
      expect(run.machine.handles[0]?.pages, k.name).toHaveLength(2);
      expect(values[6], k.name).toBe(0);
      expect(runAll(k, ops).bad, k.name).toBeNull();
    }
    // A page grabbed after the zap is the new one: it reads the store.
    const late = [preempt(1, 1), pin(0, false, 2), zap, store(1), resume(1), resume(1), { kind: 'exit', mm: 0 } as Op, pinRead(0)];
    for (const k of KERNELS()) {
      const { bad, values } = runAll(k, [{ kind: 'fork', mm: 0 }, ...late]);
      expect(bad, k.name).toBeNull();
      expect(values[8], k.name).toBe(5); // (a store stores its step number plus one)
    }
  });

  it('batched-gup-runs overrides getUserPagesRaw() below the twin: its GUP is never a task', () => {
    expect(canBeTask(new BatchedGupRuns(), 'gup')).toBe(false);
    expect(canBeTask(new BatchedKernel(), 'gup')).toBe(true);
    expect(runAll(new BatchedGupRuns(), [preempt(1, 1), pin(0, true)]).run.machine.cpus[1]!.task).toBeNull();
  });
});

describe('gup-skips-retry-lookup', () => {
  it('a zap inside the window frees the page; the GUP pins it anyway', () => {
    const ops = [preempt(1, 1), pin(0, true), zap, resume(1)];
    expect(runAll(new GupSkipsRetryLookup(), ops).bad).toBe('3:kernel_warn');
    expect(runAll(new GupSkipsRetryLookup(), ops.filter((o) => o.kind !== 'preempt' && o.kind !== 'resume')).bad).toBeNull();
  });

  it('a migration inside the window: the pin stays on the old page', () => {
    const ops = [preempt(1, 1), pin(0, false), migrate, resume(1), store(2), pinRead(), load(3)];
    expect(runAll(new GupSkipsRetryLookup(), ops).bad).toBe('5:pin_unreliable');
    for (const k of KERNELS()) expect(runAll(k, ops).bad, k.name).toBeNull();
  });
});
