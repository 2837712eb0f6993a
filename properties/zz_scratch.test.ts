import { it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import { RACE_MUTANTS } from '../models/mutants/race/index';
import { runCheck } from '../src/check/runCheck';
it('scratch', () => {
  const g = geometry('small');
  for (const mu of RACE_MUTANTS) for (const seed of [1,2,3,4,5]) {
    for (const il of [true]) {
      const r = runCheck({ kernel: mu.make, geometry: g, runs: 2000, seed, maxOps: 60, interleave: il });
      console.log(mu.name, seed, il, r.sequences, r.elapsedMs, r.failure ? `${r.failure.outcome.violation.code} ${r.failure.ops.length}` : 'survived');
    }
  }
}, 600000);
