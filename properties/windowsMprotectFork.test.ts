import { describe, expect, it } from 'vitest';
import type { MmId } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { tlbLookup } from '../models/machine/tlb';
import { pteAt } from '../models/machine/pgtable';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { ForkIgnoresWriteProtectSeq } from '../models/mutants/race/forkIgnoresWriteProtectSeq';
import { GupFastPinsDuringFork } from '../models/mutants/race/gupFastPinsDuringFork';
import { ForkSkipsWriteProtectSeq } from '../models/mutants/race/forkSkipsWriteProtectSeq';
import type { Op } from '../src/ops/op';
import { CheckedRun } from '../src/run/checkedRun';
import { runOps } from '../src/run/runOps';
import { formatTrace } from '../src/report/trace';
import { canBeTask } from '../src/run/tasks';
import { G, HOT, mm0, v, cpu, map, store, load, preempt, resume } from './__helpers__/taskOps';

/**
 * The mprotect and fork windows (issue 11, docs/concurrency.md): where each kernel stands at
 * their points, who waits for them (both hold mmap_lock for write), GUP-fast's write_protect_seq
 * protocol against fork, and what the user-memory oracle accepts from a store racing with fork.
 * Small geometry: 16 PTEs per table, so page 21 is in the second table.
 */

const mprotect = (writable: boolean, vpn = HOT, nr = 1): Op => ({ kind: 'mprotect', mm: 0, vpn, nr, writable });
const fork: Op = { kind: 'fork', mm: 0 };
const pinWalk = (c: number, write = true): Op => ({ kind: 'walkBegin', cpu: c, walker: 'gupFast', mm: 0, vpn: HOT, pin: true, write });
const walkEnd = (c: number): Op => ({ kind: 'walkEnd', cpu: c });

type Step = Exclude<ReturnType<CheckedRun['step']>, { violation: unknown }>;

/** Step through ops on one run from step `from`, every oracle on; throws on the first violation. */
function steps(run: CheckedRun, ops: readonly Op[], from = 0): Step[] {
  return ops.map((op, i) => {
    const r = run.step(op, from + i);
    if ('violation' in r) throw new Error(`${run.kernel.name} step ${from + i}: ${JSON.stringify(r.violation)}`);
    return r;
  });
}

const ptePresent = (m: Machine, mm: MmId, vpn: number) => {
  const p = pteAt(m, mm, v(vpn));
  return p !== null && p.kind === 'present' ? p : null;
};

describe('mprotect preempted in its window', () => {
  const setup = [map(HOT), store(0)];

  it('batched: at "table done" the PTE is read-only, cpu0 still holds its writable entry and may store through it; tlb_finish_mmu() flushes it', () => {
    const run = new CheckedRun(new BatchedKernel(), G);
    steps(run, [...setup, preempt(1, 1), mprotect(false)]);
    const m = run.machine;
    expect(m.cpus[1]!.task).toEqual({ op: 'mprotect', mm: 0, start: HOT, end: HOT + 1, point: 'mprotect: table done, PTL dropped', pointsPassed: 1 });
    expect(ptePresent(m, mm0, HOT)?.writable).toBe(false);
    expect(tlbLookup(m, cpu(0), mm0, v(HOT))?.writable).toBe(true);
    expect(m.mms[0]!.tlbFlushPending).toBe(1);
    // A store through the TLB takes no lock: it runs inside the window, the task stays.
    const [st] = steps(run, [store(0)], 4);
    expect(st!.applied.result.kind).toBe('value');
    expect(st!.applied.tasks).toBeUndefined();
    expect(m.cpus[1]!.task?.point).toBe('mprotect: table done, PTL dropped');
    steps(run, [resume(1)], 5);
    expect(m.cpus[1]!.task?.point).toBe('mprotect: before tlb_finish_mmu()');
    expect(tlbLookup(m, cpu(0), mm0, v(HOT))?.writable).toBe(true);
    steps(run, [resume(1)], 6);
    expect(m.cpus[1]!.task).toBeNull();
    expect(tlbLookup(m, cpu(0), mm0, v(HOT))).toBeUndefined();
    expect(m.mms[0]!.tlbFlushPending).toBe(0);
  });

  it('reference: at the same point nothing is owed — the entry is flushed already, so the store misses, faults and waits for mprotect', () => {
    const run = new CheckedRun(new ReferenceKernel(), G);
    steps(run, [...setup, preempt(1, 1), mprotect(false)]);
    const m = run.machine;
    expect(m.cpus[1]!.task?.point).toBe('mprotect: table done, PTL dropped');
    expect(tlbLookup(m, cpu(0), mm0, v(HOT))).toBeUndefined();
    expect(m.mms[0]!.tlbFlushPending).toBe(1);
    const [st] = steps(run, [store(0)], 4);
    expect(st!.applied.tasks?.map((n) => [n.op, n.how, n.point])).toEqual([['mprotect', 'wait', null]]);
    expect(m.cpus[1]!.task).toBeNull();
  });

  it('holding mmap_lock for write, it makes a zap, a GUP and a fault of its mm wait, but not an op on another mm', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const waiters: Op[] = [
        { kind: 'zap', mm: 0, vpn: 40, nr: 1 },
        { kind: 'gup', cpu: 2, mm: 0, vpn: 40, nr: 1, pin: true, write: false, fast: true },
        store(2, 40),
      ];
      for (const w of waiters) {
        const run = new CheckedRun(k, G);
        const [, , , , r] = steps(run, [map(HOT), map(40), preempt(1, 1), mprotect(false), w]);
        expect(r!.applied.tasks?.[0]?.how, `${k.name} ${w.kind}`).toBe('wait');
        expect(run.machine.cpus[1]!.task).toBeNull();
      }
      const run = new CheckedRun(k, G);
      steps(run, [map(HOT), fork, preempt(1, 1), mprotect(false), store(2, 40, 1)]);
      expect(run.machine.cpus[1]!.task, k.name).not.toBeNull();
    }
  });

  it('both kernels pass one point per PMD slot they change plus one before tlb_finish_mmu()', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const run = new CheckedRun(k, G);
      steps(run, [map(15), map(16), preempt(2, 3), mprotect(false, 15, 2)]);
      expect(run.machine.cpus[2]!.task?.point, k.name).toBe('mprotect: before tlb_finish_mmu()');
      expect(run.machine.cpus[2]!.task?.pointsPassed, k.name).toBe(3);
      const done = new CheckedRun(k, G);
      steps(done, [map(15), map(16), preempt(2, 4), mprotect(false, 15, 2)]);
      expect(done.machine.cpus[2]!.task, k.name).toBeNull();
    }
  });
});

describe('fork preempted in its window', () => {
  const setup = [map(HOT), store(0)];

  it('both kernels: at the first point the page is shared, the parent PTE still writable, write_protect_seq odd; then per table and before flush_tlb_mm()', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const run = new CheckedRun(k, G);
      const [, , , f] = steps(run, [...setup, preempt(1, 1), fork]);
      const m = run.machine;
      expect(f!.applied.result, k.name).toEqual({ kind: 'forked', child: 1 });
      expect(m.cpus[1]!.task, k.name).toEqual({ op: 'fork', mm: 0, child: 1, start: 0, end: 64, point: 'fork: page shared, parent PTE not yet write-protected', pointsPassed: 1 });
      const pfn = ptePresent(m, mm0, HOT)!.pfn;
      expect(ptePresent(m, mm0, HOT)?.writable, k.name).toBe(true);
      expect(m.frames[pfn]!.anonExclusive, k.name).toBe(false);
      expect(m.mms[0]!.writeProtectSeq % 2, k.name).toBe(1);
      steps(run, [resume(1)], 4);
      expect(m.cpus[1]!.task?.point, k.name).toBe('fork: table copied, PTLs dropped');
      expect(ptePresent(m, mm0, HOT)?.writable, k.name).toBe(false);
      expect(ptePresent(m, 1 as MmId, HOT)?.pfn, k.name).toBe(pfn);
      // Nothing flushed yet: cpu0 still holds its writable entry.
      expect(tlbLookup(m, cpu(0), mm0, v(HOT))?.writable, k.name).toBe(true);
      steps(run, [resume(1)], 5);
      expect(m.cpus[1]!.task?.point, k.name).toBe('fork: before flush_tlb_mm()');
      expect(m.mms[0]!.writeProtectSeq, k.name).toBe(2);
      steps(run, [resume(1)], 6);
      expect(m.cpus[1]!.task, k.name).toBeNull();
      expect(tlbLookup(m, cpu(0), mm0, v(HOT)), k.name).toBeUndefined();
    }
  });

  it('GUP-fast with FOLL_PIN inside the window takes nothing (write_protect_seq is odd); its slow fallback waits for fork and pins an exclusive copy', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const run = new CheckedRun(k, G);
      steps(run, [...setup, preempt(1, 1), fork]);
      const m = run.machine;
      const [wb, we] = steps(run, [pinWalk(2), walkEnd(2)], 4);
      expect(wb!.applied.tasks, k.name).toBeUndefined();
      expect(we!.applied.tasks?.map((n) => [n.op, n.how]), k.name).toEqual([['fork', 'wait']]);
      expect(we!.applied.result.kind, k.name).toBe('handle');
      const h = m.handles[0]!;
      expect(m.frames[h.pages[0]!.pfn]!.anonExclusive, k.name).toBe(true);
      expect(ptePresent(m, mm0, HOT)?.pfn, k.name).toBe(h.pages[0]!.pfn);
      // The pin is reliable: the parent's store reaches the device and back.
      steps(run, [store(0), { kind: 'gupRead', handle: 0, index: 0 }, { kind: 'drain' }], 6);
    }
  });

  it('a GUP-fast pin begun before fork and ended inside it is dropped (read_seqcount_retry) and taken again the slow way', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const run = new CheckedRun(k, G);
      steps(run, [...setup, pinWalk(2), preempt(1, 2), fork]);
      const m = run.machine;
      expect(k.gupFastRecheckAll(m, m.cpus[2]!.walker as Extract<Machine['cpus'][number]['walker'], { kind: 'gupFast' }>), k.name).toBe(false);
      const [we] = steps(run, [walkEnd(2)], 5);
      expect(we!.applied.tasks?.[0]?.how, k.name).toBe('wait');
      steps(run, [{ kind: 'drain' }], 6);
    }
  });

  it.each([
    ['fork-ignores-write-protect-seq', () => new ForkIgnoresWriteProtectSeq()],
    ['gup-fast-pins-during-fork', () => new GupFastPinsDuringFork()],
    ['fork-skips-write-protect-seq', () => new ForkSkipsWriteProtectSeq()],
  ] as const)('%s: the same walk pins the page fork has just shared — caught when fork completes', (_name, make) => {
    const ops = [...setup, preempt(1, 1), fork, pinWalk(2), walkEnd(2), resume(1, 5)];
    const out = runOps(make(), G, ops);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(['pinned_not_exclusive', 'pin_unreliable']).toContain(out.violation.code);
    expect(runOps(new BatchedKernel(), G, ops).ok).toBe(true);
  });

  it('an op on the child waits for fork (no one can reach the child before fork returns); a load through the parent TLB does not', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const run = new CheckedRun(k, G);
      const [, , , , l] = steps(run, [...setup, preempt(1, 1), fork, load(0)]);
      expect(l!.applied.tasks, k.name).toBeUndefined();
      const [c] = steps(run, [load(2, HOT, 1)], 5);
      expect(c!.applied.tasks?.[0]?.how, k.name).toBe('wait');
    }
  });

  it('a parent store through its stale writable entry after fork shared the page reaches the child; the oracle accepts either value there', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const run = new CheckedRun(k, G);
      // Stop at 'table copied': the page is shared and R/O in both PTEs, cpu0's entry still writable.
      steps(run, [...setup, preempt(1, 2), fork]);
      const [st] = steps(run, [store(0)], 4);
      expect(st!.applied.tasks, k.name).toBeUndefined();
      const [, childRead] = steps(run, [{ kind: 'drain' }, load(2, HOT, 1)], 5);
      const r = childRead!.applied.result;
      expect(r.kind === 'value' ? r.value : -1, k.name).toBe(5);
    }
  });

  it('the trace names the fork task and its point', () => {
    const ops = [...setup, preempt(1, 1), fork, resume(1, 5)];
    const lines = formatTrace(ops, runOps(new BatchedKernel(), G, ops));
    expect(lines).toContain('        cpu1 ▶ fork mm#0 ⏸ fork: page shared, parent PTE not yet write-protected (1 point passed)');
    expect(lines).toContain('        cpu1 ▶ resume fork mm#0 ✓ done');
  });

  it('a variant that overrides a plain fork method below the twin runs fork whole', () => {
    class OwnCopy extends BatchedKernel {
      override copyPteRange(m: Machine, parent: MmId, child: MmId, i: number): void {
        super.copyPteRange(m, parent, child, i);
      }
    }
    expect(canBeTask(new OwnCopy(), 'fork')).toBe(false);
    expect(canBeTask(new OwnCopy(), 'mprotect')).toBe(true);
    const run = new CheckedRun(new OwnCopy(), G);
    steps(run, [...setup, preempt(1, 1), fork]);
    expect(run.machine.cpus[1]!.task).toBeNull();
  });
});
