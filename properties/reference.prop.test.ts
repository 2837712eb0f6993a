import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runCheck } from '../src/check/runCheck';
import { STATE_PROBES } from '../src/coverage/probes';
import { opsArb } from '../src/arbitraries/ops';
import { runDifferential } from '../src/run/differential';

const seed = Number(process.env['MMCHECK_SEED'] ?? 20261122);
const reference = () => new ReferenceKernel();

describe('ReferenceKernel on random sequences, every oracle on', () => {
  it.each([
    ['small', 3000],
    ['realistic', 60],
  ] as const)('holds on %s geometry (%i sequences of up to 60 ops) and reaches every probed state', (g, runs) => {
    const r = runCheck({ kernel: reference, reference, geometry: geometry(g), runs, seed, maxOps: 60 });
    if (r.failure !== null) {
      throw new Error(`seed ${seed}: ${JSON.stringify(r.failure.outcome.violation)}\nops: ${JSON.stringify(r.failure.ops)}`);
    }
    expect(r.sequences).toBe(runs);
    // A property that never reaches the interesting states proves nothing: every probe must be hit.
    const missing = STATE_PROBES.filter((p) => (r.coverage[p] ?? 0) === 0);
    if (g === 'small') expect(missing).toEqual([]);
    else expect(missing.length).toBeLessThanOrEqual(2);
  });
});

describe('the differential runner', () => {
  it('finds no divergence between the reference and itself', () => {
    const g = geometry('small');
    fc.assert(
      fc.property(opsArb(g, 60), (ops) => runDifferential(reference(), reference(), g, ops).ok),
      { seed, numRuns: 500 },
    );
  });
});
