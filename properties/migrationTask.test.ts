import { describe, expect, it } from 'vitest';
import type { Machine } from '../models/machine/state';
import type { MmId, Pfn, Vpn } from '../models/machine/ids';
import { splitLocked } from '../models/machine/lockedCall';
import type { PreemptPoint } from '../models/machine/tasks';
import { tlbLookup } from '../models/machine/tlb';
import { pteAt } from '../models/machine/pgtable';
import { BatchedGupRuns } from '../models/batched/gupRuns';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { MigrcAsPosted } from '../models/migrcAsPosted/MigrcAsPosted';
import { FaultIgnoresMigrationEntry } from '../models/mutants/race/faultIgnoresMigrationEntry';
import { MigrateCopiesBeforeFlush } from '../models/mutants/race/migrateCopiesBeforeFlush';
import type { Op } from '../src/ops/op';
import { CheckedRun } from '../src/run/checkedRun';
import { migrateCanBeTask } from '../src/run/tasks';
import { runDifferential } from '../src/run/differential';
import { runOps } from '../src/run/runOps';
import { formatTrace } from '../src/report/trace';
import { G, HOT, mm0, v, cpu, map, store, load, migrate, preempt, resume } from './__helpers__/taskOps';

/**
 * The migration window (issue 11, docs/concurrency.md): `migrate_pages_batch()` between
 * `try_to_migrate()` and `remove_migration_ptes()`, on both kernels. Small geometry: page 21 is
 * in the second table.
 */


/** Step through ops on one kernel, every oracle on; throws on the first violation. Returns the run and each step's record. */
function stepAll(kernel: ReferenceKernel, ops: readonly Op[]): { run: CheckedRun; values: Array<number | null>; waits: string[] } {
  const run = new CheckedRun(kernel, G);
  const values: Array<number | null> = [];
  const waits: string[] = [];
  ops.forEach((op, i) => {
    const r = run.step(op, i);
    if ('violation' in r) throw new Error(`${kernel.name} step ${i}: ${JSON.stringify(r.violation)}`);
    values.push(r.applied.result.kind === 'value' ? r.applied.result.value : null);
    for (const n of r.applied.tasks ?? []) if (n.how === 'wait') waits.push(`${i}:${n.op}`);
  });
  return { run, values, waits };
}

const pteKind = (m: Machine, vpn = HOT): string => pteAt(m, mm0, v(vpn))?.kind ?? 'none';
const ptePfn = (m: Machine, vpn = HOT): number => {
  const p = pteAt(m, mm0, v(vpn));
  return p !== null && (p.kind === 'present' || p.kind === 'migration') ? p.pfn : -1;
};

describe('a migration preempted in its window', () => {
  // cpu0 stores to the page: it holds a writable, dirty translation of the source.
  const setup = [map(HOT), store(0)];

  it('batched: at "folio unmapped" the migration entry is in place and cpu0 still holds the source (flush owed); at "copied" it is flushed', () => {
    const { run } = stepAll(new BatchedKernel(), [...setup, preempt(1, 1), migrate()]);
    const m = run.machine;
    expect(m.cpus[1]!.task).toEqual({ op: 'migrate', mm: 0, start: HOT, end: G.pmdsPerMm * G.ptrsPerPte, point: 'migrate: folio unmapped', pointsPassed: 1 });
    expect(pteKind(m)).toBe('migration');
    const src = ptePfn(m);
    expect(tlbLookup(m, cpu(0), mm0, v(HOT))?.pfn).toBe(src);
    expect(m.frames[src]!.state).toBe('data');
    run.step(resume(1), 4);
    expect(m.cpus[1]!.task?.point).toBe('migrate: folio copied, before remove_migration_ptes()');
    expect(pteKind(m)).toBe('migration');
    expect(tlbLookup(m, cpu(0), mm0, v(HOT))).toBeUndefined();
    run.step(resume(1), 5);
    expect(m.cpus[1]!.task).toBeNull();
    expect(pteKind(m)).toBe('present');
    expect(ptePfn(m)).not.toBe(src);
    expect(m.frames[src]!.state).toBe('free');
  });

  it('reference: at the same point nothing is owed — each PTE was flushed as it was cleared', () => {
    const { run } = stepAll(new ReferenceKernel(), [...setup, preempt(1, 1), migrate()]);
    const m = run.machine;
    expect(m.cpus[1]!.task?.point).toBe('migrate: folio unmapped');
    expect(pteKind(m)).toBe('migration');
    expect(tlbLookup(m, cpu(0), mm0, v(HOT))).toBeUndefined();
  });

  it('both kernels pass two points per folio moved (one when its move fails), and complete past them', () => {
    for (const make of [() => new ReferenceKernel(), () => new BatchedKernel()]) {
      const two = stepAll(make(), [map(HOT), map(HOT + 1), preempt(1, 4), migrate(HOT, 2)]).run;
      expect(two.machine.cpus[1]!.task?.pointsPassed, two.machine.cpus[1]!.task?.point).toBe(4);
      expect(two.machine.cpus[1]!.task?.point).toBe('migrate: folio copied, before remove_migration_ptes()');
      const past = stepAll(make(), [map(HOT), map(HOT + 1), preempt(1, 5), migrate(HOT, 2)]).run;
      expect(past.machine.cpus[1]!.task).toBeNull();
      expect(past.tasksInFlight()).toBe(false);
    }
  });

  it('a store through the stale translation lands on the source before the flush, and the copy keeps it (batched)', () => {
    const { values, waits } = stepAll(new BatchedKernel(), [...setup, preempt(1, 1), migrate(), store(0), resume(1), load(1)]);
    // store(0) at step 4 hit cpu0's stale entry: no wait; load(1) at step 6 faulted on the entry and waited.
    expect(waits).toEqual(['6:migrate']);
    expect(values[6]).toBe(5);
  });

  it('a fault on the migration entry waits for the migration, then retries (both kernels)', () => {
    for (const make of [() => new ReferenceKernel(), () => new BatchedKernel()]) {
      const { run, values, waits } = stepAll(make(), [...setup, preempt(1, 1), migrate(), load(1)]);
      expect(waits, make().name).toEqual(['4:migrate']);
      expect(values[4]).toBe(2);
      expect(run.machine.cpus[1]!.task).toBeNull();
      expect(run.machine.stats.pagesCopied).toBe(1);
    }
  });

  it('GUP, a zap and fork of its pages wait for it; an op on other pages does not', () => {
    const waiters: Op[] = [
      { kind: 'gup', cpu: 2, mm: 0, vpn: HOT, nr: 1, pin: true, write: false, fast: true },
      { kind: 'zap', mm: 0, vpn: HOT, nr: 1 },
      { kind: 'fork', mm: 0 },
      { kind: 'walkBegin', cpu: 2, mm: 0, vpn: HOT, walker: 'gupFast', pin: false, write: false },
    ];
    for (const w of waiters) {
      const { waits } = stepAll(new BatchedKernel(), [...setup, preempt(1, 1), migrate(), w]);
      expect(waits, w.kind).toEqual(['4:migrate']);
    }
    const other = stepAll(new BatchedKernel(), [...setup, preempt(1, 1), migrate(), store(2, 3)]);
    expect(other.waits).toEqual([]);
    expect(other.run.machine.cpus[1]!.task?.point).toBe('migrate: folio unmapped');
  });

  it('the twin run to its end is the plain migratePages() (same machine, both kernels)', () => {
    for (const make of [() => new ReferenceKernel(), () => new BatchedKernel()]) {
      const pre = [map(HOT), map(HOT + 1), store(0), store(1, HOT + 1)];
      // resume of a CPU without a task: a no-op that keeps the step numbers (logical ids) aligned.
      const plain = stepAll(make(), [...pre, resume(3), migrate(HOT, 3)]).run.machine;
      const twin = stepAll(make(), [...pre, preempt(2, 99), migrate(HOT, 3)]).run.machine;
      // Only the step's allocation counter differs: the task allocates on its own clock (same ids).
      expect({ ...twin, clock: null }).toEqual({ ...plain, clock: null });
      expect(twin.clock.folios).toBe(0);
      expect(plain.clock.folios).toBe(2);
    }
  });

  it('a kernel that overrides migrateFolioMove() below the twin (migrc-as-posted) never runs migration as a task', () => {
    expect(migrateCanBeTask(new BatchedKernel())).toBe(true);
    expect(migrateCanBeTask(new ReferenceKernel())).toBe(true);
    expect(migrateCanBeTask(new MigrcAsPosted())).toBe(false);
    const { run } = stepAll(new MigrcAsPosted(), [...setup, preempt(1, 1), migrate()]);
    expect(run.machine.cpus[1]!.task).toBeNull();
  });

  it('the differential holds across the window, and the trace names the task and the wait', () => {
    const ops = [...setup, preempt(1, 1), migrate(), store(0), resume(1), load(1)];
    const d = runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops);
    expect(d.ok, JSON.stringify(d.ok ? null : d.violation)).toBe(true);
    const text = formatTrace(ops, runOps(new BatchedKernel(), G, ops)).join('\n');
    expect(text).toContain('cpu1 ▶ migrate mm#0');
    expect(text).toContain('(access waits for its migration entries)');
  });
});

/** A migration task that splits a partly mapped folio but then migrates only the folios it did not split. */
class MigrationTaskDropsSplitPieces extends BatchedKernel {
  override readonly name: string = 'migration-task-drops-split-pieces';
  override *migratePagesSteps(m: Machine, mm: MmId, start: Vpn, count: number): Generator<PreemptPoint, number, void> {
    const whole: Pfn[] = [];
    for (const head of this.selectFoliosForMigration(m, mm, start, count)) {
      if (splitLocked(m, head, () => this.splitForMigration(m, head)) === null) whole.push(head);
    }
    return yield* this.migratePagesBatchSteps(m, whole);
  }
}

describe("a migration task's result: the folios it moved", () => {
  // A large folio with two of its four pages mapped (migration splits it) and a small one.
  const ops: Op[] = [
    { kind: 'map', mm: 0, vpn: 20, order: 2, pmd: false, first: 0, count: 2 },
    { kind: 'map', mm: 0, vpn: 24, order: 0, pmd: false, first: 0, count: 1 },
    store(0, 20),
    preempt(1, 1),
    { kind: 'migrate', mm: 0, vpn: 20, count: 3 },
    resume(1, 9),
    load(0, 20),
  ];

  it('is compared with the reference when both tasks have completed, as a plain migration\'s result is (the step that started it reported only "done")', () => {
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
    const d = runDifferential(new ReferenceKernel(), new MigrationTaskDropsSplitPieces(), G, ops);
    expect(d.ok ? null : d.violation).toMatchObject({ code: 'divergence', step: 5, path: 'result of the migration task started at step 4: folios migrated', reference: '3', other: '1' });
  });

  it('is paired with the reference task started by the same step: a side that ran an earlier migration whole has no task for it (soak seed 2001, batched-gup-runs)', () => {
    // The reference runs the GUP as a task, so the first preempt is used up and the first
    // migration runs whole there; batched-gup-runs cannot run its GUP as a task, so that
    // migration is its task. Paired by completion order, its first task (0 folios) met the
    // reference's first (the second migration, 1 folio): a false divergence.
    const seq: Op[] = [
      { kind: 'fork', mm: 0 },
      preempt(0, 1),
      { kind: 'gup', cpu: 0, mm: 1, vpn: 21, nr: 1, pin: false, write: true, fast: false },
      preempt(0, 2),
      { kind: 'migrate', mm: 0, vpn: 21, count: 1 },
      store(0, 21),
      { kind: 'mprotect', mm: 1, vpn: 21, nr: 1, writable: false },
      preempt(0, 1),
      { kind: 'migrate', mm: 0, vpn: 21, count: 1 },
    ];
    expect(runDifferential(new ReferenceKernel(), new BatchedGupRuns(), G, seq).ok).toBe(true);
  });

  it('without the preempt the plain migratePages() runs (the variant overrides only its twin) and the same ops hold', () => {
    expect(runDifferential(new ReferenceKernel(), new MigrationTaskDropsSplitPieces(), G, ops.filter((o) => o.kind !== 'preempt' && o.kind !== 'resume')).ok).toBe(true);
  });
});

describe('race mutants of the migration window, on hand-written schedules', () => {
  /** The first violation of a run of `ops` on `kernel`, or null. */
  const firstViolation = (kernel: ReferenceKernel, ops: readonly Op[]): string | null => {
    const run = new CheckedRun(kernel, G);
    for (let i = 0; i < ops.length; i++) {
      const r = run.step(ops[i]!, i);
      if ('violation' in r) return `${i}:${r.violation.code}`;
    }
    return null;
  };
  // A load from cpu1, which never held the translation, while the migration entry is in place.
  const faultInWindow = [map(HOT), store(0), preempt(1, 1), migrate(), load(1), load(0)];
  // A store from cpu0 through its translation of the source, after the copy.
  const storeAfterCopy = [map(HOT), store(0), preempt(1, 2), migrate(), store(0), resume(1), load(1)];

  it('fault-ignores-migration-entry: the load maps a new page over the entry and reads 0 (the data is lost)', () => {
    expect(firstViolation(new FaultIgnoresMigrationEntry(), faultInWindow)).toBe('4:stale_read');
    expect(firstViolation(new BatchedKernel(), faultInWindow)).toBeNull();
    expect(firstViolation(new ReferenceKernel(), faultInWindow)).toBeNull();
  });

  it('migrate-copies-before-flush: a store through the stale translation after the copy is lost', () => {
    expect(firstViolation(new MigrateCopiesBeforeFlush(), storeAfterCopy)).toBe('6:stale_read');
    expect(firstViolation(new BatchedKernel(), storeAfterCopy)).toBeNull();
    expect(firstViolation(new ReferenceKernel(), storeAfterCopy)).toBeNull();
  });

  it('without the preempt both mutants run these ops exactly as batched does', () => {
    for (const ops of [faultInWindow, storeAfterCopy]) {
      const serial = ops.filter((op) => op.kind !== 'preempt' && op.kind !== 'resume');
      expect(firstViolation(new FaultIgnoresMigrationEntry(), serial)).toBeNull();
      expect(firstViolation(new MigrateCopiesBeforeFlush(), serial)).toBeNull();
    }
  });
});

describe('regressions found while building the window (differential, reference against batched)', () => {
  const cases: ReadonlyArray<readonly [string, readonly Op[]]> = [
    [
      // A partially mapped folio is split and its pieces migrated as a batch of their own: the
      // reference allocates each destination when it gets there, batched all in phase 1 — on the
      // task's own clock both get the same ids.
      'destinations allocated at different steps get the same logical ids',
      [
        { kind: 'map', mm: 0, vpn: 16, order: 4, pmd: false, first: 1, count: 16 },
        { kind: 'preempt', cpu: 0, at: 2 },
        { kind: 'migrate', mm: 0, vpn: 21, count: 1 },
        { kind: 'populate', mm: 0, vpn: 0, nr: 8, order: 4 },
      ],
    ],
    [
      // GUP of the parent while the child's migration has the shared folio's entries in place:
      // it must wait up front (a migration entry maps its folio), not fault half-way and retry.
      'slow GUP of another mm sharing the folio waits for the migration',
      [
        { kind: 'access', cpu: 0, mm: 0, vpn: 22, write: false },
        { kind: 'fork', mm: 0 },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'migrate', mm: 1, vpn: 21, count: 1 },
        { kind: 'gup', cpu: 0, mm: 0, vpn: 21, nr: 8, pin: false, write: false, fast: false },
      ],
    ],
    [
      // mremap of the other mm would move the entry away from where remove_migration_pte() looks.
      'mremap of another mm sharing the folio waits for the migration',
      [
        { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
        { kind: 'fork', mm: 0 },
        { kind: 'preempt', cpu: 0, at: 1 },
        { kind: 'migrate', mm: 1, vpn: 21, count: 1 },
        { kind: 'mremap', mm: 0, from: 16, to: 0, nr: 16 },
      ],
    ],
  ];
  it.each(cases)('%s', (_name, ops) => {
    const d = runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops);
    expect(d.ok, JSON.stringify(d.ok ? null : d.violation)).toBe(true);
    // The migration really was a task there (else the case tests nothing).
    expect(d.steps.some((s) => s.applied.tasks?.some((n) => n.op === 'migrate' && n.how === 'start' && n.point !== null))).toBe(true);
  });
});
