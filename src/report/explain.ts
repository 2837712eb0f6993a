import type { Geometry } from '../../models/machine/geometry';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Violation } from '../../models/machine/violation';
import type { Op } from '../ops/op';
import { formatOp } from '../ops/op';
import { firstDifference, observe } from '../oracles/observe';
import { CheckedRun, withDrain } from '../run/checkedRun';
import { diffViews, stateView } from './stateView';
import { runsAlone } from '../check/runsAlone';
import { formatResult } from './trace';

/** What one kernel did at one step. */
export interface KernelStep {
  readonly kernel: string;
  readonly result: string;
  /** What changed in its state (stateView diff lines). */
  readonly changes: readonly string[];
  /** The full state after the step, for viewers that draw it. */
  readonly after: ReadonlyMap<string, string>;
  readonly violation: Violation | null;
}

export interface StepExplanation {
  readonly step: number;
  readonly op: string;
  readonly kernels: readonly KernelStep[];
  /** Set on the first step where the kernels' results or observations differ. */
  readonly divergence: string | null;
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
  const runs = runsAlone(k, ref) ? [new CheckedRun(k, geometry)] : [new CheckedRun(ref, geometry), new CheckedRun(k, geometry)];
  // Each run's state after the previous step is its state before this one: one view per step, not two.
  const views = runs.map((run) => stateView(run.machine));
  const all = drain ? withDrain(ops) : ops;
  for (let i = 0; i < all.length; i++) {
    const op = all[i]!;
    const kernels = runs.map((run, j): KernelStep => {
      const before = views[j]!;
      const r = run.step(op, i);
      const after = stateView(run.machine);
      views[j] = after;
      return {
        kernel: run.kernel.name,
        result: 'violation' in r ? `✗ ${r.violation.code}` : formatResult(r.applied.result),
        changes: diffViews(before, after),
        after,
        violation: 'violation' in r ? r.violation : null,
      };
    });
    const label = formatOp(op);
    let divergence: string | null = null;
    if (runs.length === 2 && kernels.every((x) => x.violation === null)) {
      const [a, b] = runs as [CheckedRun, CheckedRun];
      const d = firstDifference(observe(a.machine, op.kind === 'drain'), observe(b.machine, op.kind === 'drain'), 'state');
      const rd = kernels[0]!.result === kernels[1]!.result ? null : `result: ${kernels[0]!.result} vs ${kernels[1]!.result}`;
      divergence = rd ?? (d === null ? null : `${d.path}: reference ${JSON.stringify(d.a)} vs ${b.kernel.name} ${JSON.stringify(d.b)}`);
    }
    const step: StepExplanation = { step: i, op: label, kernels, divergence };
    yield step;
    if (isBadStep(step)) return;
  }
}

/** The step where the kernels diverged or one broke a check (always the last one explained). */
export function isBadStep(s: StepExplanation): boolean {
  return s.divergence !== null || s.kernels.some((k) => k.violation !== null);
}

/** The text form of one step of `mmcheck explain`. */
export function formatExplanationStep(s: StepExplanation): string[] {
  const lines = [`${isBadStep(s) ? '✗' : ' '} step ${s.step}: ${s.op}`];
  for (const k of s.kernels) {
    lines.push(`    [${k.kernel}] → ${k.violation !== null ? `VIOLATION ${k.violation.code}: ${JSON.stringify(k.violation)}` : k.result}`);
    for (const c of k.changes) lines.push(`        ${c}`);
  }
  if (s.divergence !== null) lines.push(`    FIRST DIVERGENCE  ${s.divergence}`);
  return lines;
}
