import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import type { MachineOptions } from '../../models/machine/create';
import type { Op } from '../ops/op';
import type { RunOutcome, StepRecord } from './outcome';
import type { OracleSwitches, StepObserver } from './checkedRun';
import { ALL_ORACLES, CheckedRun, withDrain } from './checkedRun';

/** Run ops (plus the final drain) on one kernel with every per-kernel oracle, on a machine made with `machineOptions` (default: none). */
export function runOps(
  kernel: ReferenceKernel,
  geometry: Geometry,
  ops: readonly Op[],
  oracles: OracleSwitches = ALL_ORACLES,
  observer: StepObserver | null = null,
  machineOptions: MachineOptions = {},
): RunOutcome {
  const run = new CheckedRun(kernel, geometry, oracles, observer, machineOptions);
  const steps: StepRecord[] = [];
  const all = withDrain(ops);
  for (let i = 0; i < all.length; i++) {
    const r = run.step(all[i]!, i);
    if ('violation' in r) {
      if (r.applied !== null) steps.push({ step: i, applied: r.applied });
      return { ok: false, steps, violation: r.violation, kernel: kernel.name, failingOp: r.resolved };
    }
    steps.push({ step: i, applied: r.applied });
  }
  return { ok: true, steps };
}
