import type { Op } from '../ops/op';
import { runDifferential } from '../run/differential';
import { runOps } from '../run/runOps';
import type { CoverageTracker } from '../coverage/probes';
import type { RunOutcome } from '../run/outcome';
import { specFor } from '../../models/specFor';
import { runsAlone } from './runsAlone';
import type { CheckOptions } from './runCheck';

/**
 * Run one sequence of the check: differential against the reference, or — when the kernel under
 * test is of exactly the reference's class — the reference alone with its per-kernel oracles. A
 * subclass is always compared, whatever `name` it claims. Past `deadline` the run stops between
 * steps and says so (`cut`).
 */
export function runOne(opts: Pick<CheckOptions, 'kernel' | 'reference' | 'geometry' | 'machine'>, ops: readonly Op[], tracker: CoverageTracker | null = null, deadline = Number.POSITIVE_INFINITY): RunOutcome {
  const kernel = opts.kernel();
  const reference = (opts.reference ?? specFor(kernel))();
  if (runsAlone(kernel, reference)) {
    return runOps(kernel, opts.geometry, ops, undefined, tracker, opts.machine, deadline);
  }
  return runDifferential(reference, kernel, opts.geometry, ops, undefined, tracker, opts.machine, deadline);
}
