import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { FreeBeforeFlush } from '../models/mutants/freeBeforeFlush';
import { runCheck, runOne } from '../src/check/runCheck';
import { verdictOf } from '../src/check/verdict';
import type { Op } from '../src/ops/op';

// `--time` inside a sequence: past the check's deadline a run stops between steps and says it was
// cut, so a long sequence does not run on past the budget. Deadlines here are fixed instants
// (long past, or far ahead), so no test depends on how fast the machine is.

const ops: Op[] = [
  { kind: 'map', mm: 0, vpn: 0, order: 2, pmd: false, first: 0, count: 4 },
  { kind: 'access', mm: 0, cpu: 1, vpn: 1, write: false },
  { kind: 'zap', mm: 0, vpn: 0, nr: 4 },
  { kind: 'access', mm: 0, cpu: 0, vpn: 2, write: true },
];
const small = geometry('small');
const PAST = 1;
const FUTURE = Date.now() + 3_600_000;

describe('a run past its deadline', () => {
  it('runs its first step only and says it was cut (differential and alone)', () => {
    const diff = runOne({ kernel: () => new BatchedKernel(), geometry: small }, ops, null, PAST);
    expect(diff).toMatchObject({ ok: true, cut: true });
    expect(diff.steps).toHaveLength(1);
    const alone = runOne({ kernel: () => new ReferenceKernel(), geometry: small }, ops, null, PAST);
    expect(alone).toMatchObject({ ok: true, cut: true });
    expect(alone.steps).toHaveLength(1);
  });

  it('before its deadline runs to the end, drain included, and is not cut', () => {
    const r = runOne({ kernel: () => new BatchedKernel(), geometry: small }, ops, null, FUTURE);
    expect(r.ok).toBe(true);
    expect('cut' in r).toBe(false);
    expect(r.steps).toHaveLength(ops.length + 1);
  });

  it('reports a violation reached before the deadline', () => {
    const failing: Op[] = [{ kind: 'access', mm: 0, cpu: 0, vpn: 21, write: false }, { kind: 'zap', mm: 0, vpn: 21, nr: 1 }];
    expect(runOne({ kernel: () => new FreeBeforeFlush(), geometry: small }, failing, null, FUTURE)).toMatchObject({ ok: false, violation: { code: 'free_with_stale_tlb' } });
  });
});

describe('a check whose budget ran out inside its first sequence', () => {
  it('is NOT EXERCISED, never HOLDS: nothing was checked', () => {
    const r = runCheck({ kernel: () => new BatchedKernel(), geometry: small, runs: 5, seed: 1, maxOps: 60, timeBudgetMs: 0 });
    // A zero budget: the first sequence is cut after its first step (or fast-check stops before it).
    expect(r.sequences).toBe(0);
    expect(r.interrupted).toBe(true);
    expect(verdictOf(r, null)).toBe('NOT EXERCISED');
  });
});
