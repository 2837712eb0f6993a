import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { opsArb } from '../src/arbitraries/ops';
import { runCheck } from '../src/check/runCheck';
import { CheckedRun, withDrain } from '../src/run/checkedRun';
import { stateView } from '../src/report/stateView';
import type { Op } from '../src/ops/op';

/** Everything a run produces that a trace could show: each step's result and the whole state after it. */
function trace(ops: readonly Op[]): string {
  const run = new CheckedRun(new ReferenceKernel(), geometry('small'));
  return withDrain(ops)
    .map((op, i) => {
      const r = run.step(op, i);
      const result = 'violation' in r ? r.violation : r.applied.result;
      return JSON.stringify([result, [...stateView(run.machine)], run.machine.stats]);
    })
    .join('\n');
}

describe('determinism', () => {
  it('the same ops give the same trace, byte for byte', () => {
    fc.assert(fc.property(opsArb(geometry('small'), 40), (ops) => trace(ops) === trace(ops)), { seed: 7, numRuns: 200 });
  });

  it('the same seed gives the same check report', () => {
    const run = () => {
      const r = runCheck({ kernel: () => new ReferenceKernel(), reference: () => new ReferenceKernel(), geometry: geometry('small'), runs: 150, seed: 99, maxOps: 60 });
      return JSON.stringify({ ...r, elapsedMs: 0 });
    };
    expect(run()).toBe(run());
  });
});
