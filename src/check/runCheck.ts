import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Op } from '../ops/op';
import { opsArb } from '../arbitraries/ops';
import { CoverageTracker } from '../coverage/probes';
import { runDifferential } from '../run/differential';
import { runOps } from '../run/runOps';
import type { RunOutcome } from '../run/outcome';

export interface CheckOptions {
  /** The kernel under test. When it is the reference itself, only the per-kernel oracles run. */
  readonly kernel: () => ReferenceKernel;
  readonly reference: () => ReferenceKernel;
  readonly geometry: Geometry;
  readonly runs: number;
  readonly seed: number;
  readonly maxOps: number;
  /** Stop generating new sequences after this many ms (the run still passes if nothing failed). */
  readonly timeBudgetMs?: number;
  /** Called with the first failing sequence as soon as it is found, and again with each smaller one while shrinking. */
  readonly onFailure?: (ops: readonly Op[], outcome: RunOutcome, phase: 'found' | 'shrinking') => void;
  /** Called after every generated sequence (not during shrinking). */
  readonly onProgress?: (done: number) => void;
}

export interface CheckFailure {
  readonly seed: number;
  /** fast-check's replay path of the shrunk counterexample. */
  readonly path: string;
  readonly ops: readonly Op[];
  readonly outcome: Extract<RunOutcome, { ok: false }>;
  readonly numShrinks: number;
  /** The sequence as first found, before shrinking. */
  readonly originalLength: number;
}

export interface CheckReport {
  readonly kernel: string;
  readonly geometry: string;
  readonly seed: number;
  readonly sequences: number;
  readonly steps: number;
  readonly elapsedMs: number;
  /** Sequences that reached each probe. */
  readonly coverage: Readonly<Record<string, number>>;
  /** Sequence lengths (ops, before the final drain) in buckets of 10. */
  readonly lengths: Readonly<Record<string, number>>;
  readonly interrupted: boolean;
  readonly failure: CheckFailure | null;
}

/**
 * Run one sequence of the check: differential against the reference, or — for the kernel named
 * 'reference' — the reference alone with its per-kernel oracles.
 */
export function runOne(opts: Pick<CheckOptions, 'kernel' | 'reference' | 'geometry'>, ops: readonly Op[], tracker: CoverageTracker | null = null): RunOutcome {
  const kernel = opts.kernel();
  if (kernel.name === 'reference') {
    return runOps(kernel, opts.geometry, ops, undefined, tracker);
  }
  return runDifferential(opts.reference(), kernel, opts.geometry, ops, undefined, tracker);
}

/**
 * The main job: random op sequences against the kernel under test, every oracle on, coverage
 * measured. A failure is shrunk by fast-check and reported with its seed and replay path.
 */
export function runCheck(opts: CheckOptions): CheckReport {
  const started = Date.now();
  const coverage: Record<string, number> = {};
  const lengths: Record<string, number> = {};
  let sequences = 0;
  let steps = 0;
  let failing = false;
  let firstLength = 0;
  const property = fc.property(opsArb(opts.geometry, opts.maxOps), (ops) => {
    const tracker = failing ? null : new CoverageTracker();
    const outcome = runOne(opts, ops, tracker);
    if (!failing) {
      sequences++;
      steps += outcome.steps.length;
      const bucket = `${Math.floor((ops.length - 1) / 10) * 10 + 1}-${Math.floor((ops.length - 1) / 10) * 10 + 10}`;
      lengths[bucket] = (lengths[bucket] ?? 0) + 1;
      for (const p of tracker?.reached ?? []) coverage[p] = (coverage[p] ?? 0) + 1;
      opts.onProgress?.(sequences);
    }
    if (!outcome.ok) {
      if (!failing) firstLength = ops.length;
      opts.onFailure?.(ops, outcome, failing ? 'shrinking' : 'found');
      failing = true;
    }
    return outcome.ok;
  });
  const details = fc.check(property, {
    seed: opts.seed,
    numRuns: opts.runs,
    ...(opts.timeBudgetMs !== undefined ? { interruptAfterTimeLimit: opts.timeBudgetMs } : {}),
  });
  let failure: CheckFailure | null = null;
  if (details.failed && details.counterexample !== null) {
    const shrunk = truncateAfterFailure(opts, details.counterexample[0]);
    if (shrunk !== null) {
      failure = { seed: details.seed, path: details.counterexamplePath ?? '', ...shrunk, numShrinks: details.numShrinks, originalLength: firstLength };
    }
  }
  return {
    kernel: opts.kernel().name,
    geometry: opts.geometry.name,
    seed: opts.seed,
    sequences,
    steps,
    elapsedMs: Date.now() - started,
    coverage,
    lengths,
    interrupted: details.interrupted,
    failure,
  };
}

/**
 * Ops after the failing step cannot matter, but fast-check's array shrinker does not always drop
 * them; cut them off when the shorter list fails with the same violation code.
 */
function truncateAfterFailure(
  opts: Pick<CheckOptions, 'kernel' | 'reference' | 'geometry'>,
  ops: readonly Op[],
): { ops: readonly Op[]; outcome: Extract<RunOutcome, { ok: false }> } | null {
  const outcome = runOne(opts, ops);
  if (outcome.ok) return null;
  const cut = ops.slice(0, outcome.violation.step + 1);
  if (cut.length < ops.length) {
    const again = runOne(opts, cut);
    if (!again.ok && again.violation.code === outcome.violation.code) return { ops: cut, outcome: again };
  }
  return { ops, outcome };
}
