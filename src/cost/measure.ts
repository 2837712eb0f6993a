import type { Geometry } from '../../models/machine/geometry';
import type { Machine, Stats } from '../../models/machine/state';
import { createMachine } from '../../models/machine/create';
import type { Violation } from '../../models/machine/violation';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { OpResult } from '../../models/result';
import { applyOp } from '../ops/apply';
import type { Op } from '../ops/op';
import { CheckedRun, toViolation } from '../run/checkedRun';
import { statsDelta } from './stats';
import type { CostWorkload, Verdict } from './workload';

/** One kernel's run of one workload. */
export interface Measurement {
  readonly kernel: string;
  /** Counter deltas of the measured phase only (setup excluded). */
  readonly stats: Stats;
  /** Results of the measured ops. */
  readonly results: readonly OpResult[];
  readonly verdict: Verdict;
  /** A hazard or oracle finding (the run stopped there), or null. */
  readonly violation: Violation | null;
  /** Wall time of the measured phase. */
  readonly elapsedMs: number;
}

export interface MeasureOptions {
  /**
   * Run the ledger audit and the user-visible memory check after every op (hazards are always on).
   * The counters do not depend on it; only the time does.
   */
  readonly oracles: boolean;
}

/** Steps a kernel through ops on one machine, with or without the per-kernel oracles. */
interface Stepper {
  readonly machine: Machine;
  step(op: Op, i: number): { result: OpResult } | { violation: Violation };
}

function stepper(kernel: ReferenceKernel, g: Geometry, oracles: boolean): Stepper {
  if (oracles) {
    const run = new CheckedRun(kernel, g);
    return {
      machine: run.machine,
      step: (op, i) => {
        const r = run.step(op, i);
        return 'violation' in r ? { violation: r.violation } : { result: r.applied.result };
      },
    };
  }
  const machine = createMachine(g);
  return {
    machine,
    step: (op, i) => {
      try {
        return { result: applyOp(kernel, machine, op, i).result };
      } catch (e) {
        return { violation: toViolation(e, i) };
      }
    },
  };
}

/**
 * Run a workload on a fresh machine: the setup ops, a snapshot of the counters, the measured ops,
 * the delta. The workload then checks that the measured phase did its job (so a table of zeros
 * cannot pass for a saving).
 */
export function measureWorkload(kernel: ReferenceKernel, g: Geometry, w: CostWorkload, opts: MeasureOptions): Measurement {
  const { setup, measured } = w.build(g);
  const s = stepper(kernel, g, opts.oracles);
  const finish = (before: Stats, results: OpResult[], violation: Violation | null, elapsedMs: number): Measurement => {
    const stats = statsDelta(before, s.machine.stats);
    const verdict: Verdict = violation !== null ? { ok: false, reason: `stopped by ${violation.code} at step ${violation.step}` } : w.verify({ geometry: g, results, stats, machine: s.machine });
    return { kernel: kernel.name, stats, results, verdict, violation, elapsedMs };
  };
  let i = 0;
  for (const op of setup) {
    const r = s.step(op, i++);
    if ('violation' in r) return finish({ ...s.machine.stats }, [], r.violation, 0);
  }
  const before = { ...s.machine.stats };
  const results: OpResult[] = [];
  const started = performance.now();
  for (const op of measured) {
    const r = s.step(op, i++);
    if ('violation' in r) return finish(before, results, r.violation, performance.now() - started);
    results.push(r.result);
  }
  return finish(before, results, null, performance.now() - started);
}
