import type { OpResult } from '../../models/result';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import type { Machine } from '../../models/machine/state';
import type { MachineOptions } from '../../models/machine/create';
import { createMachine } from '../../models/machine/create';
import type { Violation } from '../../models/machine/violation';
import { ModelViolationError } from '../../models/machine/violation';
import { auditLedger } from '../oracles/ledger';
import { UserMemory } from '../oracles/userMemory';
import type { Applied } from '../ops/apply';
import { applyOp, storeValue } from '../ops/apply';
import type { TaskNote } from './tasks';
import { isStartOp, Tasks } from './tasks';
import { WaitForMigration } from '../../models/machine/tasks';
import type { Op } from '../ops/op';
import type { Resolution } from '../ops/resolve';
import { resolveOp } from '../ops/resolve';
import { beat, beatEnd } from './heartbeat';
import { WindowRecorder } from './windowRecorder';
import { checkWindow, countSkipped, notSerialisable } from '../oracles/serialisable';
import { cloneMachine } from '../oracles/cloneMachine';

/** Which per-kernel oracles run after every op (hazards are always on: the machine raises them). */
export interface OracleSwitches {
  readonly ledger: boolean;
  readonly memory: boolean;
  /**
   * The serialisability of windows (src/oracles/serialisable.ts): off unless set, and only where
   * the runner gives the run a `SerialSetup` (a specification and its start states).
   */
  readonly serial?: boolean;
}

/**
 * The ledger audit looks at the frames in use after each op and at all of memory at the drain
 * that ends every sequence (ledger.ts `LedgerScope`); MMCHECK_FULL_AUDIT=1 makes every audit a
 * full one (a debug mode: slower on `realistic`, the same verdicts).
 */
const FULL_AUDIT_EVERY_STEP = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.['MMCHECK_FULL_AUDIT'] === '1';

export const ALL_ORACLES: OracleSwitches = { ledger: true, memory: true, serial: true };

/**
 * How a run's windows are checked for serialisability: the specification that runs the serial
 * orders, and where the state at a window's start comes from — the run's own machine (`'own'`:
 * the run *is* the reference), or the reference run beside it, which returns its machine as it
 * was before `step` when the two were in step then (else null: the window is counted 'out of sync').
 */
export interface SerialSetup {
  readonly spec: ReferenceKernel;
  readonly start: 'own' | ((step: number) => Machine | null);
}

/** Watches the steps of a run (coverage probes); never changes anything. */
export interface StepObserver {
  before(m: Machine, op: Op | null): void;
  after(m: Machine, applied: Applied): void;
}

/** What one step did: the op as applied, and whether it raced with an in-flight task. */
export interface StepDone {
  readonly applied: Applied;
  /**
   * The op touched what a preempted task's window covers (tasks.ts `conflicts()`): its outcome
   * may depend on the interleaving, so a differential run stops comparing from here on.
   */
  readonly racy: boolean;
}

/**
 * One kernel on one machine, stepping through ops with the per-kernel oracles: hazards (raised
 * by the machine during the op), then the ledger audit and the user-visible memory check. Schedule
 * ops (`preempt`, `resume`) and the kernel tasks they make are run here (tasks.ts); the ledger
 * audit runs only when no task is in flight (docs/concurrency.md).
 */
export class CheckedRun {
  readonly machine: Machine;
  private readonly memory = new UserMemory();
  private readonly tasks: Tasks;
  private readonly windows: WindowRecorder | null;
  /** The machine before the last step that may have started a task (a `preempt` was pending, nothing in flight). */
  private snapshot: { readonly step: number; readonly machine: Machine } | null = null;
  /** The start state of the open window, for its serial orders (null: none to be had). */
  private windowStart: Machine | null = null;

  constructor(
    readonly kernel: ReferenceKernel,
    geometry: Geometry,
    private readonly oracles: OracleSwitches = ALL_ORACLES,
    private readonly observer: StepObserver | null = null,
    machineOptions: MachineOptions = {},
    private readonly serial: SerialSetup | null = null,
  ) {
    this.machine = createMachine(geometry, machineOptions);
    this.tasks = new Tasks(kernel, this.machine);
    this.windows = oracles.serial === true && serial !== null ? new WindowRecorder() : null;
  }

  /**
   * This run's machine as it was before `step`, if the step could start a task from a quiescent
   * machine (taken only when the serialisability oracle is on and the run keeps its own states).
   */
  snapshotAt(step: number): Machine | null {
    return this.snapshot !== null && this.snapshot.step === step ? this.snapshot.machine : null;
  }

  /** A preempted kernel task is in flight (the machine is not quiescent). */
  tasksInFlight(): boolean {
    return this.tasks.inFlight();
  }

  /** Apply op number `step`; returns what it did, or the violation it caused. */
  step(op: Op, step: number): ({ applied: Applied } & Partial<StepDone>) | { violation: Violation; applied: Applied | null; resolved: Op | null } {
    let applied: Applied | null = null;
    beat(step);
    // Resolved before the op runs, so a trace can name the failing op's targets even when it threw.
    const r = resolveOp(this.machine, op);
    const resolved = 'skip' in r ? null : r;
    try {
      this.observer?.before(this.machine, resolved);
      this.beforeSerial(resolved, step);
      const walking = resolved !== null && REFCOUNT_CHECKED_AFTER_FLUSH.has(resolved.kind) && gupFastWalkInFlight(this.machine);
      const applied0 = this.withWaitedOnResume(this.apply(op, r, step));
      // Migration and reclaim unmap, flush, then check each folio's reference count; a GUP-fast
      // walk in flight holds the reference it grabbed unless the flush's IPI reached its CPU and
      // made it finish (and put the reference back) first. Which CPUs a flush IPIs differs between
      // kernels (per page or batched, MIGRC's deferral), so how many folios move may differ for a
      // reason of timing, not of correctness: compared as after a race (docs/concurrency.md).
      const done = walking ? { ...applied0, racy: true } : applied0;
      applied = done.applied;
      this.observer?.after(this.machine, applied);
      if (this.oracles.ledger && !this.tasks.inFlight()) auditLedger(this.machine, step, FULL_AUDIT_EVERY_STEP || op.kind === 'drain' ? 'full' : 'in use');
      if (this.oracles.memory) this.memory.check(this.machine, applied, step);
      this.afterSerial(applied, step);
      return done;
    } catch (e) {
      return { violation: toViolation(e, step), applied, resolved };
    } finally {
      beatEnd();
    }
  }

  /** The step's record with the tasks a resumed task waited for (its `mmap_lock`) before its own note. */
  private withWaitedOnResume(done: StepDone): StepDone {
    const waited = this.tasks.takeWaitedOnResume();
    return waited.length === 0 ? done : { ...done, applied: { ...done.applied, tasks: [...waited, ...(done.applied.tasks ?? [])] } };
  }

  /** Before a step: keep the start state a window opened by this step would need, note what the op will see. */
  private beforeSerial(resolved: Op | null, step: number): void {
    if (this.windows === null || this.serial === null) return;
    if (this.serial.start === 'own' && !this.tasks.inFlight() && this.tasks.hasPending() && resolved !== null && mayBeTask(resolved)) {
      this.snapshot = { step, machine: cloneMachine(this.machine) };
    }
    this.windows.before(this.machine, resolved);
  }

  /** After a step: record it; a window that closed is checked against the serial orders of its ops. */
  private afterSerial(applied: Applied, step: number): void {
    if (this.windows === null || this.serial === null) return;
    const wasOpen = this.windows.isOpen();
    this.windows.after(this.machine, applied, step, this.tasks.count());
    if (!wasOpen && this.windows.isOpen()) this.windowStart = this.serial.start === 'own' ? this.snapshotAt(step) : this.serial.start(step);
    const w = this.windows.takeClosed();
    if (w === null) return;
    const start = this.windowStart;
    this.windowStart = null;
    if (w.skip === null && start === null) {
      countSkipped(this.kernel.name, 'out of sync');
      return;
    }
    const v = checkWindow(this.serial.spec, start ?? this.machine, w, this.kernel.name);
    if (v.kind === 'not serialisable') throw new ModelViolationError(notSerialisable(step, v.message));
  }

  /**
   * The op with the schedule around it: a pending `preempt` makes a zap, mprotect or fork a
   * task; an op that needs what a task holds (tasks.ts `waitsFor()`) and `drain` first complete
   * the tasks they wait for. Without schedule ops this is
   * `applyOp()` and nothing else.
   */
  private apply(op: Op, r: Resolution, step: number): StepDone {
    const resolved = 'skip' in r ? null : r;
    const pending = this.tasks.takePending();
    if (resolved !== null && resolved.kind === 'preempt') {
      return { applied: { resolved, result: this.tasks.preempt(resolved), value: storeValue(step) }, racy: false };
    }
    if (resolved !== null && resolved.kind === 'resume') {
      this.machine.clock.step = step;
      this.machine.clock.folios = 0;
      const { result, notes } = this.tasks.resume(resolved);
      return { applied: withNotes({ resolved, result, value: storeValue(step) }, notes), racy: false };
    }
    // Nothing ran since the op was resolved (the observer and the snapshot only read the state): its resolution stands.
    if (!this.tasks.inFlight() && pending === null) return { applied: applyOp(this.kernel, this.machine, op, step, false, r), racy: false };
    this.machine.clock.step = step;
    this.machine.clock.folios = 0;
    const waited = this.tasks.waitFor(resolved);
    this.tasks.assertNoLockConflict(resolved);
    const racy = this.tasks.conflicts(resolved);
    if (pending !== null && resolved !== null && isStartOp(resolved)) {
      const started = this.tasks.start(resolved, pending.cpu, pending.at);
      if (started !== null) return { applied: withNotes({ resolved, result: started.result, value: storeValue(step) }, [...waited, started.note]), racy };
    }
    if (pending !== null && resolved !== null && resolved.kind === 'access') {
      const note = this.tasks.startAccess(resolved, pending.cpu, pending.at, storeValue(step));
      if (note !== null) {
        // A load task that completed at once returned its value at this step, as a load run whole.
        const result: OpResult = note.point === null && note.read !== undefined ? { kind: 'value', value: note.read } : { kind: 'done' };
        return { applied: withNotes({ resolved, result, value: storeValue(step) }, [...waited, note]), racy };
      }
    }
    if (pending !== null && resolved !== null && resolved.kind === 'migrate') {
      const note = this.tasks.startMigrate(resolved, pending.cpu, pending.at);
      if (note !== null) return { applied: withNotes({ resolved, result: { kind: 'done' }, value: storeValue(step) }, [...waited, note]), racy };
    }
    if (pending !== null && resolved !== null && resolved.kind === 'reclaim') {
      const note = this.tasks.startReclaim(resolved, pending.cpu, pending.at);
      if (note !== null) return { applied: withNotes({ resolved, result: { kind: 'done' }, value: storeValue(step) }, [...waited, note]), racy };
    }
    try {
      return { applied: withNotes(applyOp(this.kernel, this.machine, op, step), waited), racy };
    } catch (e) {
      // migration_entry_wait(): the op met an in-flight migration's entry and sleeps until the
      // migration is done, then runs again (the kernel retries the access).
      if (!(e instanceof WaitForMigration)) throw e;
      // Only a user access may meet the entry: every other op that touches the migration's
      // folios waited for it up front (tasks.ts `waitFor()`), and could not be run again safely.
      if (resolved === null || resolved.kind !== 'access') throw new Error(`${resolved?.kind ?? 'op'} met a migration entry it did not wait for (${e.message})`);
      const done = this.tasks.completeMigrations();
      if (done.length === 0) throw e;
      return { applied: withNotes(applyOp(this.kernel, this.machine, op, step, true), [...waited, ...done]), racy };
    }
  }
}

/** Ops that check reference counts after an unmap and a flush (migration, reclaim, MADV_PAGEOUT/COLD). */
const REFCOUNT_CHECKED_AFTER_FLUSH: ReadonlySet<Op['kind']> = new Set(['migrate', 'reclaim', 'madvise']);

/** A GUP-fast walk is in flight on some CPU (IRQs off, possibly holding the reference it grabbed). */
function gupFastWalkInFlight(m: Machine): boolean {
  return m.cpus.some((c) => c.walker?.kind === 'gupFast');
}

/** Ops a pending `preempt` can make a task (the runner decides whether it does). */
function mayBeTask(op: Op): boolean {
  return op.kind === 'zap' || op.kind === 'madvise' || op.kind === 'mprotect' || op.kind === 'fork' || op.kind === 'gup' || op.kind === 'migrate' || op.kind === 'reclaim' || (op.kind === 'access' && op.write);
}

function withNotes(a: Applied, notes: readonly TaskNote[]): Applied {
  return notes.length === 0 ? a : { ...a, tasks: notes };
}

/** A finding, or any other exception a kernel raised (reported as model_crash). */
export function toViolation(e: unknown, step: number): Violation {
  if (e instanceof ModelViolationError) return e.violation;
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'model_crash', step, message };
}

/** The op list as run: the generated ops, then a drain unless the list already ends with one. */
export function withDrain(ops: readonly Op[]): readonly Op[] {
  const all = ops.length > 0 && ops[ops.length - 1]?.kind === 'drain' ? ops : [...ops, { kind: 'drain' as const }];
  return all.map(withSmallInts);
}

/**
 * The op with every integer field held as a small integer (the same values). A generator can
 * hand out integers V8 holds as doubles (2.0); flowing from the op into the machine, one such
 * value turns a field of every PTE, TLB entry or frame made afterwards into a boxed double, and
 * each machine's frames then pay a map migration when first touched.
 */
function withSmallInts(op: Op): Op {
  const src = op as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k in src) {
    const v = src[k];
    out[k] = typeof v === 'number' && (v | 0) === v ? v | 0 : v;
  }
  return out as unknown as Op;
}
