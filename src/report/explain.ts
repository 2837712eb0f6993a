import type { Geometry } from '../../models/machine/geometry';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Violation } from '../../models/machine/violation';
import type { Op } from '../ops/op';
import { formatOp } from '../ops/op';
import { firstDifference, observe } from '../oracles/observe';
import { ALL_ORACLES, CheckedRun, withDrain } from '../run/checkedRun';
import { startedTask, statesAgree } from '../run/differential';
import { diffViews, stateView } from './stateView';
import { runsAlone } from '../check/runsAlone';
import { formatResult } from './trace';
import type { TaskNote } from '../run/tasks';
import type { Machine } from '../../models/machine/state';
import { litmusNoteText } from './litmus';
import isEqual from 'lodash/isEqual.js';
import { observationKey, observedValue, violationRows, violationText } from './kernelKeys';

/** What one kernel did at one step. */
export interface KernelStep {
  readonly kernel: string;
  readonly result: string;
  /** What changed in its state (stateView diff lines). */
  readonly changes: readonly string[];
  /** The full state after the step, for viewers that draw it. */
  readonly after: ReadonlyMap<string, string>;
  readonly violation: Violation | null;
  /**
   * Kernel tasks (docs/concurrency.md), one line each, naming the CPU column of the litmus table:
   * what happened to a task at this step (`CPU1 zap mm#0 vpn 21+1: ▶ stopped at '…' (1)`), then
   * every other task still in flight after it (`CPU1 in flight: zap mm#0 vpn 21+1 ⏸ '…' (1)`). Empty
   * when no task is involved, so a task-free explanation reads as before.
   */
  readonly tasks: readonly string[];
}

export interface StepExplanation {
  readonly step: number;
  readonly op: string;
  readonly kernels: readonly KernelStep[];
  /** Set on the first step where the kernels' results or observations differ. */
  readonly divergence: string | null;
  /**
   * Set (only) on the step from which the kernels are no longer compared: an op raced with a
   * preempted task, or one kernel ran an op as a task and the other whole (docs/concurrency.md).
   */
  readonly comparisonStops?: true;
  /** Set on the step after which they are compared again: no task in flight, and both sides agree. */
  readonly comparisonResumes?: true;
}

/**
 * Replay ops step by step on the reference and (unless it is the reference) the kernel under
 * test, yielding for each step what each kernel returned and what it changed, until the first
 * violation or divergence. A generator, so a consumer that prints each step as it comes holds one
 * step at a time: a long op list never has every step's full state in memory at once. Feeds
 * `mmcheck explain` (text and HTML).
 */
export function* explainSteps(make: () => ReferenceKernel, reference: () => ReferenceKernel, geometry: Geometry, ops: readonly Op[], drain = true): Generator<StepExplanation, void, undefined> {
  const k = make();
  const ref = reference();
  // The differential's rules (src/run/differential.ts), serialisability of windows included.
  const synced = { step: -1, yes: true };
  const refRun = new CheckedRun(ref, geometry, ALL_ORACLES, null, {}, { spec: ref, start: 'own' });
  const runs = runsAlone(k, ref)
    ? [new CheckedRun(k, geometry, ALL_ORACLES, null, {}, { spec: ref, start: 'own' })]
    : [refRun, new CheckedRun(k, geometry, ALL_ORACLES, null, {}, { spec: ref, start: (step) => (synced.step === step && synced.yes ? refRun.snapshotAt(step) : null) })];
  // Each run's state after the previous step is its state before this one: one view per step, not two.
  const views = runs.map((run) => stateView(run.machine));
  const all = drain ? withDrain(ops) : ops;
  // The differential's rules (src/run/differential.ts, docs/concurrency.md): once an op raced with
  // a preempted task, or one kernel ran an op as a task and the other whole, nothing is compared
  // until no task is in flight and both sides agree again; states are not compared while a task
  // is in flight on either side.
  let racy = false;
  for (let i = 0; i < all.length; i++) {
    const op = all[i]!;
    synced.step = i;
    synced.yes = !racy;
    const stepped: Array<ReturnType<CheckedRun['step']>> = [];
    const kernels = runs.map((run, j): KernelStep => {
      const before = views[j]!;
      const r = run.step(op, i);
      stepped.push(r);
      const after = stateView(run.machine);
      views[j] = after;
      return {
        kernel: run.kernel.name,
        result: 'violation' in r ? `✗ ${r.violation.code}` : formatResult(r.applied.result),
        changes: diffViews(before, after),
        after,
        violation: 'violation' in r ? r.violation : null,
        tasks: taskLines(r.applied?.tasks ?? [], op, run.machine),
      };
    });
    const label = formatOp(op);
    let divergence: string | null = null;
    const wasRacy = racy;
    for (const r of stepped) if (!('violation' in r) && r.racy === true) racy = true;
    const started = stepped.map((r) => r.applied !== null && startedTask(r.applied));
    if (started.some((x) => x !== started[0])) racy = true;
    let resumes = false;
    if (runs.length === 2 && racy && kernels.every((x) => x.violation === null)) {
      const [a, b] = runs as [CheckedRun, CheckedRun];
      const quiet = !a.tasksInFlight() && !b.tasksInFlight();
      resumes = quiet && statesAgree(a.machine, b.machine, op.kind === 'drain');
      if (resumes) racy = false;
    } else if (runs.length === 2 && !racy && kernels.every((x) => x.violation === null)) {
      const [a, b] = runs as [CheckedRun, CheckedRun];
      const inFlight = a.tasksInFlight() || b.tasksInFlight();
      const d = inFlight ? null : firstDifference(observe(a.machine, op.kind === 'drain'), observe(b.machine, op.kind === 'drain'), 'state');
      const rd = kernels[0]!.result === kernels[1]!.result ? null : `result: ${kernels[0]!.result} vs ${kernels[1]!.result}`;
      divergence = rd ?? (d === null ? null : `${observationKey(d.path)}: reference ${observedValue(d.a)} vs ${b.kernel.name} ${observedValue(d.b)}`);
    }
    const stops = runs.length === 2 && racy && !wasRacy;
    const step: StepExplanation = {
      step: i,
      op: label,
      kernels,
      divergence,
      ...(stops ? { comparisonStops: true as const } : {}),
      ...(resumes && wasRacy ? { comparisonResumes: true as const } : {}),
    };
    yield step;
    if (isBadStep(step)) return;
  }
}

/** A task as the explanation names it: its op and range (`zap mm#0 vpn 21+1`, `fork mm#0`). */
function taskWhat(t: { readonly op: TaskNote['op']; readonly mm: number; readonly start: number; readonly end: number }): string {
  return t.op === 'fork' ? `fork mm#${t.mm}` : `${t.op} mm#${t.mm} vpn ${t.start}+${t.end - t.start}`;
}

/** The task lines of one kernel's step (see `KernelStep.tasks`). */
function taskLines(notes: readonly TaskNote[], op: Op, m: Machine): string[] {
  const lines = notes.map((n) => `CPU${n.cpu} ${taskWhat(n)}: ${litmusNoteText(n, op)}`);
  // A task this step stopped already has its line; the others in flight get one each.
  for (const c of m.cpus) if (c.task !== null && !notes.some((n) => n.cpu === c.id)) lines.push(`CPU${c.id} in flight: ${taskWhat(c.task)} ⏸ '${c.task.point}' (${c.task.pointsPassed})`);
  return lines;
}

/** The step where the kernels diverged or one broke a check (always the last one explained). */
export function isBadStep(s: StepExplanation): boolean {
  return s.divergence !== null || s.kernels.some((k) => k.violation !== null);
}

/**
 * Whether the two kernels did the same at a step (result, violation, tasks and changes): the text
 * then prints it once, as "same in both".
 */
export function sameInBoth(s: StepExplanation): boolean {
  const [a, b] = s.kernels;
  return a !== undefined && b !== undefined && a.result === b.result && a.violation === null && b.violation === null && isEqual(a.tasks, b.tasks) && isEqual(a.changes, b.changes);
}

/**
 * The text form of one step of `mmcheck explain`. A step both kernels did alike prints once
 * (`[same in both: reference, batched]`); a step where they differ is marked `≠` in the margin, and
 * each change only one kernel made is marked `≠` too, so the first `≠` is the first difference
 * between them. A violation reads in the state view's keys, with the rows that name it.
 */
export function formatExplanationStep(s: StepExplanation): string[] {
  const same = sameInBoth(s);
  const differs = !same && s.kernels.length === 2;
  const lines = [`${isBadStep(s) ? '✗' : differs ? '≠' : ' '} step ${s.step}: ${s.op}`];
  const shown = same ? [{ ...s.kernels[0]!, kernel: `same in both: ${s.kernels.map((k) => k.kernel).join(', ')}` }] : s.kernels;
  shown.forEach((k, i) => {
    lines.push(`    [${k.kernel}] → ${k.violation !== null ? `VIOLATION ${violationText(k.violation)}` : k.result}`);
    if (k.violation !== null) for (const [key, value] of violationRows(k.violation, k.after)) lines.push(`        ↳ after the step: ${key}: ${value}`);
    for (const t of k.tasks) lines.push(`        task ${t}`);
    const other = differs ? new Set(s.kernels[1 - i]!.changes) : null;
    for (const c of k.changes) lines.push(`      ${other !== null && !other.has(c) ? '≠' : ' '} ${c}`);
  });
  if (s.divergence !== null) lines.push(`    FIRST DIVERGENCE  ${s.divergence}`);
  if (s.comparisonStops === true) lines.push('    (this op races with a preempted kernel task: the kernels are not compared until they agree again)');
  if (s.comparisonResumes === true) lines.push('    (no task in flight and the kernels agree again: compared from here on)');
  return lines;
}
