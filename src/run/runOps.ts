import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import type { MachineOptions } from '../../models/machine/create';
import type { Op } from '../ops/op';
import type { RunOutcome, StepRecord } from './outcome';
import type { OracleSwitches, StepObserver } from './checkedRun';
import { ALL_ORACLES, CheckedRun, withDrain } from './checkedRun';
import { specFor } from '../../models/specFor';
import { runsAlone } from '../check/runsAlone';
import { pastDeadline } from './deadline';

/** Run ops (plus the final drain) on one kernel with every per-kernel oracle, on a machine made with `machineOptions` (default: none). */
export function runOps(
  kernel: ReferenceKernel,
  geometry: Geometry,
  ops: readonly Op[],
  oracles: OracleSwitches = ALL_ORACLES,
  observer: StepObserver | null = null,
  machineOptions: MachineOptions = {},
  deadline = Number.POSITIVE_INFINITY,
): RunOutcome {
  // Windows are checked for serialisability only on the reference itself: its own states are the
  // specification's (another kernel run alone has no reference states to replay from).
  const spec = specFor(kernel)();
  const serial = runsAlone(kernel, spec) ? { spec, start: 'own' as const } : null;
  const run = new CheckedRun(kernel, geometry, oracles, observer, machineOptions, serial);
  const steps: StepRecord[] = [];
  const all = withDrain(ops);
  for (let i = 0; i < all.length; i++) {
    if (pastDeadline(deadline, i)) return { ok: true, steps, cut: true };
    const r = run.step(all[i]!, i);
    if ('violation' in r) {
      if (r.applied !== null) steps.push({ step: i, applied: r.applied });
      return { ok: false, steps, violation: r.violation, kernel: kernel.name, failingOp: r.resolved };
    }
    steps.push({ step: i, applied: r.applied });
  }
  return { ok: true, steps };
}
