import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import { RACE_MUTANTS } from '../models/mutants/race/index';
import type { Op } from '../src/ops/op';
import { formatOp } from '../src/ops/op';
import { runCheck, runOne } from '../src/check/runCheck';
import { minimise } from '../src/check/minimise';
import { normalise } from '../src/check/normalise';

/**
 * Minimisation after fast-check's shrinking (src/check/minimise.ts, issue 11: race mutants'
 * counterexamples ≤ 10 ops). The fixtures are fast-check's own shrunk counterexamples before the
 * pass existed (kill matrix, seed 2): local minima of its shrinker, which removes one generated
 * chunk (a preempt with its op, a walk, …) at a time, where no such removal keeps the failure.
 */
const SMALL = geometry('small');
const mutant = (name: string) => {
  const mu = RACE_MUTANTS.find((m) => m.name === name);
  if (mu === undefined) throw new Error(name);
  return { kernel: mu.make, geometry: SMALL };
};

const pin = (cpu: number): Op => ({ kind: 'walkBegin', cpu, mm: 0, vpn: 21, walker: 'gupFast', pin: true, write: false });
const store = (cpu: number, mm = 0): Op => ({ kind: 'access', cpu, mm, vpn: 21, write: true });

/** migrate-copies-before-flush, seed 2: fast-check's 21 ops (its 8-op suffix fails alone). */
const MIGRATE_SEED2: readonly Op[] = [
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'gup', cpu: 0, mm: 0, vpn: 21, nr: 1, pin: false, write: false, fast: false },
  { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'mprotect', mm: 0, vpn: 21, nr: 1, writable: false },
  pin(0),
  { kind: 'walkEnd', cpu: 0 },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'mprotect', mm: 0, vpn: 21, nr: 1, writable: true },
  pin(0),
  { kind: 'walkEnd', cpu: 0 },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
  store(0),
  { kind: 'preempt', cpu: 0, at: 2 },
  { kind: 'migrate', mm: 0, vpn: 21, count: 1 },
  { kind: 'preempt', cpu: 0, at: 1 },
  store(0),
  { kind: 'preempt', cpu: 1, at: 1 },
  { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
];

/** zap-ignores-nested-flush, seed 2: fast-check's 12 ops, naming mm#3 and mm#-1 (one or two live mms). */
const ZAP_SEED2: readonly Op[] = [
  store(0, 3),
  { kind: 'fork', mm: 3 },
  { kind: 'preempt', cpu: 0, at: 1 },
  store(0, 3),
  store(0, 3),
  { kind: 'exit', mm: -1 },
  pin(2),
  { kind: 'walkEnd', cpu: 2 },
  { kind: 'preempt', cpu: 0, at: 1 },
  { kind: 'zap', mm: 0, vpn: 21, nr: 16 },
  { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
  { kind: 'access', cpu: 2, mm: 0, vpn: 21, write: false },
];

const failing = (setup: ReturnType<typeof mutant>, ops: readonly Op[]) => {
  const o = runOne(setup, ops);
  if (o.ok) throw new Error('the fixture no longer fails');
  return o;
};

describe('minimise()', () => {
  it('takes the 21-op local minimum of migrate-copies-before-flush (seed 2) to ≤ 10 ops, failing the same way', () => {
    const setup = mutant('migrate-copies-before-flush');
    const start = failing(setup, MIGRATE_SEED2);
    expect(start.violation.code).toBe('stale_read');
    const m = minimise(setup, { ops: MIGRATE_SEED2, outcome: start }, { maxRuns: 2000, deadline: null });
    expect(m.ops.length).toBeLessThanOrEqual(10);
    expect(m.cutShort).toBe(false);
    expect(m.outcome.violation.code).toBe('stale_read');
    // What it returns fails when run again, with the same code.
    expect(failing(setup, m.ops).violation.code).toBe('stale_read');
    // The race is still there: a migration preempted in its window and the store that is lost.
    expect(m.ops.map(formatOp)).toContain('migrate mm#0 vpn 21 folios 1');
    expect(m.ops.some((op) => op.kind === 'preempt')).toBe(true);
  });

  it('is deterministic: the same sequence gives the same counterexample and the same number of runs', () => {
    const setup = mutant('migrate-copies-before-flush');
    const start = failing(setup, MIGRATE_SEED2);
    const a = minimise(setup, { ops: MIGRATE_SEED2, outcome: start }, { maxRuns: 2000, deadline: null });
    const b = minimise(setup, { ops: MIGRATE_SEED2, outcome: start }, { maxRuns: 2000, deadline: null });
    expect(b.ops).toEqual(a.ops);
    expect(b.runs).toBe(a.runs);
  });

  it('stops within its run budget, keeping a failing sequence', () => {
    const setup = mutant('migrate-copies-before-flush');
    const start = failing(setup, MIGRATE_SEED2);
    const m = minimise(setup, { ops: MIGRATE_SEED2, outcome: start }, { maxRuns: 3, deadline: null });
    expect(m.runs).toBeLessThanOrEqual(3);
    expect(m.cutShort).toBe(true);
    expect(failing(setup, m.ops).violation.code).toBe('stale_read');
  });

  it('writes targets as they resolve: zap-ignores-nested-flush seed 2 reads mm#0, not mm#3', () => {
    const setup = mutant('zap-ignores-nested-flush');
    const start = failing(setup, ZAP_SEED2);
    const m = minimise(setup, { ops: ZAP_SEED2, outcome: start }, { maxRuns: 2000, deadline: null });
    expect(m.ops.length).toBeLessThanOrEqual(6);
    expect(m.ops.map(formatOp)[0]).toBe('store cpu0 mm#0 vpn 21');
  });
});

describe('normalise()', () => {
  it('rewrites mm indexes to the live index they resolved to, and the run is the same step for step', () => {
    const setup = mutant('zap-ignores-nested-flush');
    const written = normalise(setup, ZAP_SEED2);
    expect(written.map(formatOp).slice(0, 6)).toEqual([
      'store cpu0 mm#0 vpn 21',
      'fork mm#0',
      'preempt cpu0 after 1 point(s)',
      'store cpu0 mm#1 vpn 21',
      'store cpu0 mm#1 vpn 21',
      'exit mm#1',
    ]);
    const before = failing(setup, ZAP_SEED2);
    const after = failing(setup, written);
    expect(after.violation).toEqual(before.violation);
    expect(after.steps.map((s) => s.applied)).toEqual(before.steps.map((s) => s.applied));
  });
});

describe('runCheck()', () => {
  it('reports the minimised counterexample: fork-ignores-write-protect-seq seed 3 (16 ops from fast-check alone) in ≤ 10', () => {
    const mu = RACE_MUTANTS.find((m) => m.name === 'fork-ignores-write-protect-seq');
    if (mu === undefined) throw new Error('fork-ignores-write-protect-seq');
    const r = runCheck({ kernel: mu.make, geometry: SMALL, runs: 5000, seed: 3, maxOps: 60, interleave: true });
    expect(r.failure).not.toBeNull();
    expect(r.failure?.ops.length).toBeLessThanOrEqual(10);
    expect(r.failure?.fullyShrunk).toBe(true);
    expect(mu.caughtBy).toContain(r.failure?.outcome.violation.code);
  });
});
