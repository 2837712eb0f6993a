import type { Geometry } from '../../models/machine/geometry';
import { BatchedKernel } from '../../models/batched/BatchedKernel';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { measureWorkload } from '../cost/measure';
import type { CostWorkload } from '../cost/workload';
import { median, ratio, row } from './timing';

/** Median wall time (ms) of a workload's measured phase on a fresh kernel, oracles off. */
function wallMs(make: () => ReferenceKernel, g: Geometry, w: CostWorkload, reps: number): number {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const m = measureWorkload(make(), g, w, { oracles: false });
    if (!m.verdict.ok) throw new Error(`bench: workload ${w.name} failed on ${m.kernel}: ${m.verdict.reason}`);
    times.push(m.elapsedMs);
  }
  return median(times);
}

/**
 * Wall time of each cost workload's measured phase, reference vs batched, on the same machine in
 * the same run (model time, not kernel time: it says how heavy the batched model's bookkeeping is,
 * not what the real kernel saves — the counters of `mmcheck cost` say that).
 */
export function benchWorkloads(workloads: readonly CostWorkload[], g: Geometry, reps: number): string[] {
  const lines = [row('workload', 30, ['ref ms', 'batched ms', 'batched/ref'])];
  for (const w of workloads) {
    wallMs(() => new BatchedKernel(), g, w, 1); // warm-up
    const r = wallMs(() => new ReferenceKernel(), g, w, reps);
    const b = wallMs(() => new BatchedKernel(), g, w, reps);
    lines.push(row(w.name, 30, [r.toFixed(2), b.toFixed(2), ratio(b, r)]));
  }
  return lines;
}
