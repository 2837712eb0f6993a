import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runCheck, runOne } from '../src/check/runCheck';
import type { Op } from '../src/ops/op';
import GatherFreeEarly from '../docs/examples/gatherFreeEarly';
import GatherFlushThenFree from '../docs/examples/gatherFlushThenFree';

// The walkthrough in docs/reviewing-a-patch.md, kept true.
const small = geometry('small');
const reference = () => new ReferenceKernel();
const counterexample: Op[] = [
  { kind: 'populate', mm: 0, vpn: 21, nr: 13, order: 1 },
  { kind: 'fork', mm: 0 },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
  { kind: 'exit', mm: 0 },
];

describe('docs/reviewing-a-patch.md', () => {
  it('the patch fails its check at seed 31 with the 4-op counterexample the doc reads', () => {
    const r = runCheck({ kernel: () => new GatherFreeEarly(), reference, geometry: small, runs: 2000, seed: 31, maxOps: 60 });
    expect(r.sequences).toBe(4);
    expect(r.failure?.outcome.violation.code).toBe('free_with_stale_tlb');
    expect(r.failure?.ops).toEqual(counterexample);
  });

  it('the fixed patch passes the saved counterexample and the check, with full gathers reached', () => {
    expect(runOne({ kernel: () => new GatherFlushThenFree(), reference, geometry: small }, counterexample).ok).toBe(true);
    const r = runCheck({ kernel: () => new GatherFlushThenFree(), reference, geometry: small, runs: 500, seed: 31, maxOps: 60 });
    expect(r.failure).toBeNull();
    expect(r.coverage['mark:gather full'] ?? 0).toBeGreaterThan(0);
  });
});
