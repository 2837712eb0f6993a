import { describe, expect, it } from 'vitest';
import type { MmId, Vpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import type { KernelSteps } from '../models/machine/tasks';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { kernelEntry } from '../models/registry';
import { runCheck } from '../src/check/runCheck';
import type { Op } from '../src/ops/op';
import { ALL_ORACLES } from '../src/run/checkedRun';
import { runDifferential } from '../src/run/differential';
import { runOps } from '../src/run/runOps';
import { resetSerialStats, serialStats, taskPieces } from '../src/oracles/serialisable';
import { createMachine } from '../models/machine/create';
import { explainSteps, formatExplanationStep } from '../src/report/explain';
import { MigrateUndoLosesExclusive } from '../models/mutants/migrateUndoLosesExclusive';
import { cpu, G, HOT, load, map, preempt, resume, store, zap } from './__helpers__/taskOps';

/**
 * The serialisability oracle (issue 11 item 3; docs/concurrency.md "What is compared, when"): a
 * window's user-visible outcome must be one the reference gives running its ops one at a time.
 */

/**
 * A hand-written race bug: MADV_DONTNEED that, resumed at its last point, walks its whole range
 * again before `tlb_finish_mmu()` — as a restart after `cond_resched()` that forgot how far it
 * had got would. Alone it is harmless (the second walk finds nothing); with a fault inside the
 * window it zaps the page the fault mapped there after a load already saw the zap done: the
 * store after that load is lost, which no order of whole ops gives. Every other oracle lets it
 * through: the ledger (the second walk gathers and frees properly), the memory oracle (inside a
 * zap's window a page may read 0 or anything stored meanwhile) and the differential (the store
 * raced with the task, and the states never agree again).
 */
class ZapRewalksBeforeFinish extends BatchedKernel {
  override readonly name: string = 'zap-rewalks-before-finish';

  override *zapPageRangeSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    const tlb = this.tlbGatherMmu(m, mm, false);
    yield* this.unmapPageRangeSteps(m, tlb, start, end);
    yield 'zap: before tlb_finish_mmu()';
    for (const _ of this.unmapPageRangeSteps(m, tlb, start, end)) {
      // the buggy second walk passes its points without stopping
    }
    this.tlbFinishMmu(m, tlb);
  }
}

/** Page 21 holds 1; cpu1's zap of it stops before tlb_finish_mmu(); cpu2 faults it in (reads 0), stores 6; the zap completes. */
const RACE: readonly Op[] = [map(HOT), store(0), preempt(1, 2), zap(), load(2), store(2), resume(1)];

const NO_SERIAL = { ...ALL_ORACLES, serial: false };

describe('a window no serial order gives', () => {
  it('is caught: not_serialisable, naming the window and the closest order', () => {
    const out = runDifferential(new ReferenceKernel(), new ZapRewalksBeforeFinish(), G, RACE);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.violation.code).toBe('not_serialisable');
    expect(out.violation.step).toBe(6);
    expect(out.kernel).toBe('zap-rewalks-before-finish');
    if (out.violation.code !== 'not_serialisable') return;
    expect(out.violation.message).toContain('window from step 3');
    expect(out.violation.message).toContain('3: zap mm#0 vpn 21+1 (a task, in flight over ops 0–2)');
    expect(out.violation.message).toContain('closest:');
  });

  it('explain shows it at the step that closed the window', () => {
    const steps = [...explainSteps(() => new ZapRewalksBeforeFinish(), () => new ReferenceKernel(), G, RACE)];
    expect(steps.at(-1)?.step).toBe(6);
    expect(steps.at(-1)?.kernels.map((k) => k.violation?.code ?? null)).toEqual([null, 'not_serialisable']);
  });

  it('passes every other oracle: with serialisability off the run holds', () => {
    expect(runDifferential(new ReferenceKernel(), new ZapRewalksBeforeFinish(), G, RACE, NO_SERIAL).ok).toBe(true);
    // a read after the window does not help the memory oracle either (0 is what a zapped page reads)
    expect(runDifferential(new ReferenceKernel(), new ZapRewalksBeforeFinish(), G, [...RACE, load(0)], NO_SERIAL).ok).toBe(true);
  });

  it('the correct kernels hold on the same ops', () => {
    expect(runOps(new ReferenceKernel(), G, RACE).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, RACE).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), kernelEntry('batched-no-migrc').make(), G, RACE).ok).toBe(true);
  });
});

describe('the correct kernels on interleaved seeds', () => {
  for (const kernel of ['reference', 'batched', 'batched-no-migrc']) {
    it(`${kernel}: no violation, and windows checked`, () => {
      resetSerialStats();
      for (const seed of [1, 2]) {
        const r = runCheck({ kernel: kernelEntry(kernel).make, geometry: G, runs: 40, seed, maxOps: 40, interleave: true });
        expect(r.failure).toBeNull();
        expect(r.flaky).toBeNull();
      }
      expect(serialStats().checked).toBeGreaterThan(20);
    });
  }
});

describe('what a serial order does not fix is not compared', () => {
  it("a THP map that finds the empty table a fault task allocated (mmcheck check --interleave --seed 7, shrunk)", () => {
    // The store's fault allocated the PTE table and stopped before its PTL: the map of a PMD folio
    // there is a noop (slot in use), no serial order's map is; then cpu0's store faults a page in,
    // and the task's retry stores last. Values cannot tell whether map did anything.
    const ops: Op[] = [preempt(0, 1), store(0), { kind: 'map', mm: 0, vpn: HOT, order: 4, pmd: true, first: 0, count: 16 }, store(0), { kind: 'fork', mm: 0 }];
    expect(runOps(new ReferenceKernel(), G, ops).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });
});

describe('what a serial order does not fix is not compared (GUP-fast)', () => {
  it('a GUP-fast walk that reads the empty table a store task allocated, stopped before its grab, with a zap inside (check --interleave --seed 4, shrunk)', () => {
    // With the table there the walk does not fall back at once; no order of whole ops has the
    // table without the store's page, so where its handle comes from is not fixed by any order.
    const walk: Op = { kind: 'walkBegin', cpu: 0, mm: 0, vpn: HOT, walker: 'gupFast', pin: true, write: false, stop: 'grab' };
    const ops: Op[] = [preempt(0, 1), store(0), walk, zap(), { kind: 'walkEnd', cpu: 0 }];
    expect(runOps(new ReferenceKernel(), G, ops).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });
});

describe('a store by a lazy CPU that missed a flush', () => {
  it('is not an access through a stale entry: switching back drops its entries, the store walks (npm run soak -- --interleave, seed 503, shrunk)', () => {
    const walk: Op = { kind: 'walkBegin', cpu: 0, mm: 0, vpn: HOT, walker: 'gupFast', pin: true, write: false };
    const ops: Op[] = [store(2), { kind: 'migrate', mm: 0, vpn: HOT, count: 1 }, { kind: 'tick' }, preempt(0, 1), zap(HOT, 16), walk, { kind: 'walkEnd', cpu: 0 }, store(2)];
    expect(runOps(new ReferenceKernel(), G, ops).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });
});

describe('what a serial order does not fix is not compared (2)', () => {
  it('a store task completing through a stale TLB entry its CPU got inside a zap window (check --interleave --seed 9, shrunk)', () => {
    // cpu0's second store faults a page in while the first store's fault is preempted; a zap task
    // clears it (flush owed); the mremap waits for both tasks: the first store's retry goes
    // through cpu0's stale entry into the zapped page and is lost. No whole-op order loses it.
    const ops: Op[] = [preempt(0, 1), store(0), store(0), preempt(1, 1), zap(HOT, 16), { kind: 'mremap', mm: 0, from: 0, to: 15, nr: 8 }];
    expect(runOps(new ReferenceKernel(), G, ops).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });
});

describe('what a serial order does not fix is not compared (3)', () => {
  it("a store through a parent's unflushed writable entry inside a fork window, then a migration of the shared page (check --interleave --seed 16, shrunk)", () => {
    // mm#1's store lands in the page fork already shared with mm#2; the migration (it waits for
    // the fork) moves both mappings to a new frame: the child's value is unfixed with the store's.
    const ops = JSON.parse(
      '[{"kind":"fork","mm":0},{"kind":"access","cpu":0,"mm":1,"vpn":21,"write":true},{"kind":"preempt","cpu":0,"at":2},{"kind":"fork","mm":1},{"kind":"walkBegin","cpu":0,"mm":0,"vpn":21,"walker":"gupFast","pin":true,"write":false},{"kind":"walkEnd","cpu":0},{"kind":"access","cpu":0,"mm":1,"vpn":21,"write":true},{"kind":"preempt","cpu":0,"at":1},{"kind":"migrate","mm":1,"vpn":21,"count":1}]',
    ) as Op[];
    expect(runOps(new ReferenceKernel(), G, ops).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });
});

describe('the differential after a race', () => {
  it('does not resume while a page only a FOLL_GET reference holds differs (check --interleave --seed 8, shrunk)', () => {
    // cpu0's store inside the zap's window lands through its stale entry in the page the GET
    // handle holds (batched) or in a new page (reference): the mms agree, the handle's page does not.
    const get: Op = { kind: 'gup', cpu: 0, mm: 0, vpn: HOT, nr: 1, pin: false, write: false, fast: false };
    const mig: Op = { kind: 'migrate', mm: 0, vpn: HOT, count: 1 };
    const ops: Op[] = [store(0), preempt(0, 2), mig, preempt(0, 1), get, preempt(0, 1), zap(HOT, 16), store(0), preempt(0, 2), mig, preempt(0, 1), zap(HOT, 16), { kind: 'fork', mm: 0 }, { kind: 'gupRead', handle: 0, index: 0 }];
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });

  // A race inside a zap's window (cpu2's fault on the zapped page), then, once both sides agree
  // again, a failed migration (a FOLL_GET reference holds the page) whose undo loses the write bit
  // in a mutant only the differential catches.
  const get: Op = { kind: 'gup', cpu: 0, mm: 0, vpn: 25, nr: 1, pin: false, write: false, fast: false };
  const later: readonly Op[] = [map(25), store(0, 25), get, { kind: 'migrate', mm: 0, vpn: 25, count: 1 }];
  const ops: readonly Op[] = [map(HOT), store(0), preempt(1, 2), zap(), store(2), resume(1), ...later];

  it('resumes once no task is in flight and both sides agree again: a divergence after the race is found', () => {
    const out = runDifferential(new ReferenceKernel(), new MigrateUndoLosesExclusive(), G, ops);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.violation).toMatchObject({ code: 'divergence', step: 9 });
  });

  it('explain follows the same rules: the step of the race stops the comparison, the window\'s end resumes it', () => {
    const steps = [...explainSteps(() => new MigrateUndoLosesExclusive(), () => new ReferenceKernel(), G, ops)];
    expect(steps.map((x) => x.comparisonStops === true)).toEqual([false, false, false, false, true, false, false, false, false, false]);
    expect(steps.map((x) => x.comparisonResumes === true)).toEqual([false, false, false, false, false, true, false, false, false, false]);
    expect(formatExplanationStep(steps[5]!).at(-1)).toBe('    (no task in flight and the kernels agree again: compared from here on)');
    expect(steps.at(-1)?.divergence).toMatch(/^mm0.pmd1.pte9: reference s6.1\/0 w vs /);
  });

  it('without the serialisability oracle the comparison stops at the race for good, and the bug hides', () => {
    expect(runDifferential(new ReferenceKernel(), new MigrateUndoLosesExclusive(), G, ops, NO_SERIAL).ok).toBe(true);
    // the same bug without the race is found either way
    expect(runDifferential(new ReferenceKernel(), new MigrateUndoLosesExclusive(), G, later, NO_SERIAL).ok).toBe(false);
  });
});

describe('task pieces', () => {
  it('a zap or mprotect is cut at PMD slot boundaries; other ops stay whole', () => {
    const m = createMachine(G);
    expect(taskPieces(m, { kind: 'zap', mm: 0, vpn: 21, nr: 16 })).toEqual([
      { kind: 'zap', mm: 0, vpn: 21, nr: 11 },
      { kind: 'zap', mm: 0, vpn: 32, nr: 5 },
    ]);
    expect(taskPieces(m, { kind: 'mprotect', mm: 0, vpn: 60, nr: 16, writable: false })).toEqual([{ kind: 'mprotect', mm: 0, vpn: 60, nr: 4, writable: false }]);
    expect(taskPieces(m, { kind: 'fork', mm: 0 })).toEqual([{ kind: 'fork', mm: 0 }]);
  });

  it('a reclaim is cut into one reclaim per folio it selects, named by the first page mapping it', () => {
    const m = createMachine(G);
    const k = new ReferenceKernel();
    k.userAccess(m, cpu(0), 0 as MmId, HOT as Vpn, true, 1);
    k.userAccess(m, cpu(0), 0 as MmId, (HOT + 1) as Vpn, true, 2);
    expect(taskPieces(m, { kind: 'reclaim', mm: 0, vpn: HOT, count: 2 }, k)).toEqual([
      { kind: 'reclaim', mm: 0, vpn: HOT, count: 1 },
      { kind: 'reclaim', mm: 0, vpn: HOT + 1, count: 1 },
    ]);
    expect(taskPieces(m, { kind: 'reclaim', mm: 0, vpn: HOT, count: 1 }, k)).toEqual([{ kind: 'reclaim', mm: 0, vpn: HOT, count: 1 }]);
  });

  it('soak seed 83009: a load swaps the reclaimed first folio back in and MADV_FREE drops the second, reclaimed between them: serialisable folio by folio', () => {
    const ops: Op[] = [
      store(0, HOT),
      store(0, HOT + 1),
      preempt(0, 1),
      { kind: 'reclaim', mm: 0, vpn: HOT, count: 2 },
      load(0, HOT),
      load(0, HOT + 1),
      { kind: 'madvise', mm: 0, vpn: 16, nr: 16, advice: 'free' },
    ];
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) expect(runOps(k, G, ops, ALL_ORACLES).ok, k.name).toBe(true);
  });
});
