import { it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { RACE_MUTANTS } from '../models/mutants/race/index';
import { runCheck } from '../src/check/runCheck';
import { formatTrace } from '../src/report/trace';
it('scratch', () => {
  const g = geometry('small');
  for (const k of [() => new BatchedKernel(), () => new BatchedNoMigrc()]) {
    const r = runCheck({ kernel: k, geometry: g, runs: 1000, seed: 1, maxOps: 30, interleave: true });
    console.log(r.kernel, r.sequences, r.steps, r.elapsedMs, r.failure ? formatTrace(r.failure.ops, r.failure.outcome).join('\n') : 'HOLDS', r.flaky ? 'FLAKY' : '');
  }
  const mu = RACE_MUTANTS[1]!;
  for (const seed of [1,2,3,4,5]) {
      const r = runCheck({ kernel: mu.make, geometry: g, runs: 5000, seed, maxOps: 60, interleave: true });
      console.log(mu.name, seed, r.sequences, r.elapsedMs, r.failure ? `${r.failure.outcome.violation.code} ${r.failure.ops.length}` : 'survived');
  }
}, 900000);
