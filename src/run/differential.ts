import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import type { MachineOptions } from '../../models/machine/create';
import type { Violation } from '../../models/machine/violation';
import type { Applied } from '../ops/apply';
import type { Op } from '../ops/op';
import { firstDifference, observe } from '../oracles/observe';
import type { RunOutcome, StepRecord } from './outcome';
import type { OracleSwitches, StepObserver } from './checkedRun';
import { ALL_ORACLES, CheckedRun, withDrain } from './checkedRun';

/**
 * The differential oracle (design §5.4): the reference and another kernel step through the same
 * ops side by side, each with its own per-kernel oracles; after every op their results and
 * observations must be equal — except while a preempted kernel task is in flight on either side,
 * and for the rest of a run once an op raced with one (docs/concurrency.md). The first failure on either side, or the first difference, ends
 * the run. Both machines are made with `machineOptions` (default: none).
 */
export function runDifferential(
  reference: ReferenceKernel,
  other: ReferenceKernel,
  geometry: Geometry,
  ops: readonly Op[],
  oracles: OracleSwitches = ALL_ORACLES,
  observer: StepObserver | null = null,
  machineOptions: MachineOptions = {},
): RunOutcome {
  const ref = new CheckedRun(reference, geometry, oracles, null, machineOptions);
  // Coverage is measured on the kernel under test: its tracepoints are the ones of interest.
  const oth = new CheckedRun(other, geometry, oracles, observer, machineOptions);
  const steps: StepRecord[] = [];
  const all = withDrain(ops);
  // Set for the rest of the run once an op raced with a preempted task (docs/concurrency.md).
  let racy = false;
  for (let i = 0; i < all.length; i++) {
    const op = all[i]!;
    const a = ref.step(op, i);
    const b = oth.step(op, i);
    if ('violation' in b) return failed(steps, b, i, other.name);
    if ('violation' in a) return failed(steps, a, i, reference.name);
    steps.push({ step: i, applied: b.applied });
    racy ||= a.racy === true || b.racy === true;
    // One side ran the op as a task and the other whole (a variant that overrides a plain method
    // below its twin never runs it as a task: tasks.ts `twinsIntact()`): its result ('done' for a
    // task) and everything after it may legitimately differ, as after a race.
    racy ||= startedTask(a.applied) !== startedTask(b.applied);
    if (racy) continue;
    // States are compared only where no task is in flight on either side: inside a window the
    // batched kernel legitimately still holds what the reference has already freed.
    const inFlight = ref.tasksInFlight() || oth.tasksInFlight();
    const quiescent = op.kind === 'drain';
    const d =
      firstDifference(a.applied.result, b.applied.result, 'result') ??
      (inFlight ? null : firstDifference(observe(ref.machine, quiescent), observe(oth.machine, quiescent), 'state'));
    if (d !== null) {
      return {
        ok: false,
        steps,
        kernel: other.name,
        failingOp: b.applied.resolved,
        violation: { code: 'divergence', step: i, path: d.path, reference: JSON.stringify(d.a) ?? 'undefined', other: JSON.stringify(d.b) ?? 'undefined' },
      };
    }
  }
  return { ok: true, steps };
}

/** Did this step start a kernel task (even one that completed at once)? */
export function startedTask(a: Applied): boolean {
  return a.tasks?.some((n) => n.how === 'start') ?? false;
}

function failed(steps: StepRecord[], r: { violation: Violation; applied: Applied | null; resolved: Op | null }, i: number, kernel: string): RunOutcome {
  if (r.applied !== null) steps.push({ step: i, applied: r.applied });
  return { ok: false, steps, violation: r.violation, kernel, failingOp: r.resolved };
}
