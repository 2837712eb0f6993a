import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { geometry } from '../models/machine/geometry';
import type { Machine } from '../models/machine/state';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { MUTANTS } from '../models/mutants/index';
import { opsArb } from '../src/arbitraries/ops';
import { CheckedRun, withDrain } from '../src/run/checkedRun';
import { cloneMachine } from '../src/oracles/cloneMachine';
import { firstDifference, observe } from '../src/oracles/observe';
import { sameObservation } from '../src/oracles/sameObservation';
import type { Op } from '../src/ops/op';

/**
 * The differential runner asks sameObservation() after every step and builds the observations
 * only when it answers false (src/run/differential.ts). That is sound only if the two are the
 * same function: here they are compared on pairs of machines taken from random runs — the
 * reference against the batched kernel and against mutants (which diverge), and each machine
 * against itself one step earlier (which mostly differs) — in both directions, plain and
 * interleaved, with and without the shared zero page.
 */
const KERNELS = [() => new BatchedKernel(), ...MUTANTS.filter((m) => m.needsInterleave !== true).slice(0, 12).map((m) => m.make)];

interface Tally {
  same: number;
  different: number;
}

function comparePairs(ops: readonly Op[], make: () => ReferenceKernel, zeroPage: boolean, tally: Tally): boolean {
  const g = geometry('small');
  const off = { ledger: false, memory: false };
  const ref = new CheckedRun(new ReferenceKernel(), g, off, null, { zeroPage });
  const oth = new CheckedRun(make(), g, off, null, { zeroPage });
  let before: Machine | null = null;
  const all = withDrain(ops);
  for (let i = 0; i < all.length; i++) {
    const a = ref.step(all[i]!, i);
    const b = oth.step(all[i]!, i);
    if ('violation' in a || 'violation' in b) break;
    const q = all[i]!.kind === 'drain';
    const pairs: Array<[Machine, Machine]> = [
      [ref.machine, oth.machine],
      [oth.machine, ref.machine],
    ];
    if (before !== null) pairs.push([before, oth.machine], [oth.machine, before]);
    for (const [x, y] of pairs) {
      const slow = firstDifference(observe(x, q), observe(y, q)) === null;
      if (sameObservation(x, y, q) !== slow) return false;
      if (slow) tally.same++;
      else tally.different++;
    }
    before = cloneMachine(oth.machine);
  }
  return true;
}

describe('sameObservation() is observe() equality, without the observations', () => {
  for (const interleave of [false, true]) {
    it(`agrees with firstDifference(observe(), observe()) on every pair (${interleave ? 'interleaved' : 'plain'} sequences)`, () => {
      const tally: Tally = { same: 0, different: 0 };
      const arb = fc.tuple(opsArb(geometry('small'), 40, { interleave }), fc.integer({ min: 0, max: KERNELS.length - 1 }), fc.boolean());
      fc.assert(fc.property(arb, ([ops, k, zero]) => comparePairs(ops, KERNELS[k]!, zero, tally)), { seed: 11, numRuns: 150 });
      // Both answers were given often: a comparator that always said "same" (or "different") fails above.
      expect(tally.same).toBeGreaterThan(500);
      expect(tally.different).toBeGreaterThan(500);
    });
  }
});
