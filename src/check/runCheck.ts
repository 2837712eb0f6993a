import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { MachineOptions } from '../../models/machine/create';
import type { Op } from '../ops/op';
import type { Generation } from './generation';
import { DEFAULT_GENERATION, sequencesArb } from './generation';
import { featuresOf, guidedSearch } from './guided';
import { opArb } from '../arbitraries/ops';
import { CoverageTracker } from '../coverage/probes';
import { MethodCalls } from './methodCalls';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { runOne } from './runOne';
import { MINIMISE_RUNS, minimise } from './minimise';
import type { RunOutcome } from '../run/outcome';
import type { JobShare } from './jobShare';
import { mayRun, publishFailure } from './jobShare';

export { runOne } from './runOne';

export interface CheckOptions {
  /**
   * The kernel under test. It is checked against the reference side by side unless it is an
   * instance of exactly the reference's class (decided by identity, never by name): then only
   * the per-kernel oracles run.
   */
  readonly kernel: () => ReferenceKernel;
  /** The specification to compare with; by default the pristine one of the kernel's policy (specFor: the 6.12 reference, or reference-6.15). */
  readonly reference?: () => ReferenceKernel;
  readonly geometry: Geometry;
  /** How every machine of the check is made (createMachine's options); by default none, e.g. no shared zero page. */
  readonly machine?: MachineOptions;
  readonly runs: number;
  readonly seed: number;
  readonly maxOps: number;
  /** Stop generating new sequences after this many ms (the run still passes if nothing failed). */
  readonly timeBudgetMs?: number;
  /** Called with the first failing sequence as soon as it is found, and again with each smaller one while shrinking. */
  readonly onFailure?: (ops: readonly Op[], outcome: RunOutcome, phase: 'found' | 'shrinking') => void;
  /** Called after every generated sequence (not during shrinking), with the totals so far. */
  readonly onProgress?: (done: number, soFar: { readonly steps: number; readonly coverage: Readonly<Record<string, number>>; readonly lengths: Readonly<Record<string, number>> }) => void;
  /** Called before every sequence runs, generated or a shrink candidate (a watchdog keeps the last one). */
  readonly onSequence?: (ops: readonly Op[], phase: 'generated' | 'shrinking') => void;
  /**
   * Kernel methods to watch (a variant's overrides and helpers): the report says how many
   * generated sequences called each, so a patch that never ran cannot pass as checked.
   */
  readonly watchMethods?: readonly string[];
  /**
   * Generate schedule ops (`preempt`, `resume`): zap, madvise, mprotect, fork, migration, reclaim, faults and GUP
   * run as preempted kernel tasks with other ops inside their windows (issue 11,
   * docs/concurrency.md). Off by default (the same sequences as before for every seed).
   */
  readonly interleave?: boolean;
  /** How sequences are drawn (mode, focus, weights); DEFAULT_GENERATION when absent. */
  readonly generation?: Generation;
  /**
   * This check is one job of a check split over worker threads (`--jobs`, jobShare.ts): it skips
   * the sequences that can no longer change the verdict, and publishes its first failure.
   */
  readonly share?: JobShare;
}

export interface CheckFailure {
  readonly seed: number;
  /**
   * fast-check's replay path of its shrunk counterexample. `ops` may be shorter: minimise() goes
   * on from fast-check's result, so the path replays fast-check's sequence, not necessarily `ops`.
   */
  readonly path: string;
  readonly ops: readonly Op[];
  readonly outcome: Extract<RunOutcome, { ok: false }>;
  readonly numShrinks: number;
  /** The sequence as first found, before shrinking. */
  readonly originalLength: number;
  /** False when the time budget (or minimise()'s run budget) cut shrinking short: a shorter counterexample may exist. */
  readonly fullyShrunk: boolean;
}

/** A failure seen while checking that did not happen again when its sequence was re-run. */
export interface FlakyFailure {
  readonly seed: number;
  /** The smallest sequence that was seen failing. */
  readonly ops: readonly Op[];
  /** What it failed with the time it did fail. */
  readonly outcome: Extract<RunOutcome, { ok: false }>;
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
  /** Set when a failure was seen but its sequence passed when re-run (then `failure` is null). */
  readonly flaky: FlakyFailure | null;
  /** Per watched method: how many generated sequences called it at least once. */
  readonly methodCalls: Readonly<Record<string, number>>;
  /** How the sequences were drawn. */
  readonly generation: Generation;
  /** Guided mode: the corpus it kept and how many sequences were mutations of it; null in other modes. */
  readonly guided: { readonly corpus: number; readonly mutated: number } | null;
}

/**
 * The main job: random op sequences against the kernel under test, every oracle on, coverage
 * measured. A failure is shrunk by fast-check, then by minimise(), and reported with its seed and replay path; one
 * that does not fail again when re-run is reported as flaky, never as a pass.
 */
export function runCheck(opts: CheckOptions): CheckReport {
  const started = Date.now();
  const coverage: Record<string, number> = {};
  const lengths: Record<string, number> = {};
  const calls = new MethodCalls(opts.watchMethods ?? []);
  let sequences = 0;
  let steps = 0;
  let failing = false;
  let firstLength = 0;
  let smallestSeen: FlakyFailure | null = null;
  // Set when the first failure did not happen again on an immediate re-run: shrinking a failure
  // that does not reproduce would only chase noise, so every later candidate is passed unrun.
  let unreproducible = false;
  let guided: CheckReport['guided'] = null;
  const generation = opts.generation ?? DEFAULT_GENERATION;
  const interleave = opts.interleave === true;
  let lastFeatures: readonly string[] = [];
  // Generated sequences so far, skipped ones included: their index orders the jobs' failures (jobShare.ts).
  let generated = 0;
  // `--time` is honoured inside a sequence too: past it, a run stops between steps (runOne's `cut`).
  const deadline = opts.timeBudgetMs !== undefined ? started + opts.timeBudgetMs : Number.POSITIVE_INFINITY;
  let cut = false;
  const check = (ops: readonly Op[]): boolean => {
    if (unreproducible) return true;
    if (!failing && opts.share !== undefined && !mayRun(opts.share, generated)) return true;
    const index = failing ? -1 : generated++;
    opts.onSequence?.(ops, failing ? 'shrinking' : 'generated');
    const tracker = failing ? null : new CoverageTracker();
    const kernel = failing ? opts.kernel : () => calls.watch(opts.kernel());
    const outcome = runOne({ ...opts, kernel }, ops, tracker, deadline);
    if (outcome.ok && outcome.cut === true) {
      cut = true;
      if (!failing) calls.discardSequence();
      return true;
    }
    if (!failing) {
      if (generation.mode === 'guided' && tracker !== null) lastFeatures = featuresOf(tracker, calls.calledThisSequence());
      calls.endSequence();
      sequences++;
      steps += outcome.steps.length;
      const bucket = `${Math.floor((ops.length - 1) / 10) * 10 + 1}-${Math.floor((ops.length - 1) / 10) * 10 + 10}`;
      lengths[bucket] = (lengths[bucket] ?? 0) + 1;
      for (const p of tracker?.reached ?? []) coverage[p] = (coverage[p] ?? 0) + 1;
      opts.onProgress?.(sequences, { steps, coverage, lengths });
    }
    if (!outcome.ok) {
      if (!failing) firstLength = ops.length;
      if (!failing && opts.share !== undefined) publishFailure(opts.share, index);
      if (smallestSeen === null || ops.length <= smallestSeen.ops.length) smallestSeen = { seed: opts.seed, ops, outcome };
      opts.onFailure?.(ops, outcome, failing ? 'shrinking' : 'found');
      if (!failing && runOne(opts, ops).ok) unreproducible = true;
      failing = true;
    }
    return outcome.ok;
  };
  const arb = sequencesArb(opts.geometry, opts.maxOps, generation, interleave);
  const budget = opts.timeBudgetMs !== undefined ? { interruptAfterTimeLimit: opts.timeBudgetMs } : {};
  let details: Pick<fc.RunDetails<[readonly Op[]]>, 'failed' | 'counterexample' | 'seed' | 'counterexamplePath' | 'numShrinks' | 'interrupted'>;
  if (generation.mode === 'guided') {
    const found = guidedSearch({
      seed: opts.seed,
      runs: opts.runs,
      maxOps: opts.maxOps,
      deadline: opts.timeBudgetMs !== undefined ? started + opts.timeBudgetMs : null,
      fresh: arb,
      extra: sequencesArb(opts.geometry, GUIDED_EXTRA_OPS, generation, interleave),
      run: (ops) => ({ ok: check(ops), features: lastFeatures }),
    });
    guided = { corpus: found.corpusSize, mutated: found.mutated };
    if (found.failing === null) {
      details = { failed: false, counterexample: null, seed: opts.seed, counterexamplePath: null, numShrinks: 0, interrupted: found.interrupted };
    } else {
      // fast-check shrinks the sequence the search found, given as an example of the plain
      // (uniform) arbitrary: its ops are records it can shrink without the context of a draw.
      const shrinkArb = fc.array(opArb(opts.geometry, { interleave }), { minLength: 1, maxLength: opts.maxOps });
      const d = fc.check(fc.property(shrinkArb, (ops) => check(ops)), { seed: opts.seed, numRuns: 1, examples: [[[...found.failing]]] as Array<[Op[]]>, ...remaining(started, opts.timeBudgetMs) });
      // The search's sequence is the counterexample even when fast-check could not shrink it.
      details = { ...d, failed: true, counterexample: d.counterexample ?? [found.failing], counterexamplePath: null };
    }
  } else {
    details = fc.check(fc.property(arb, check), { seed: opts.seed, numRuns: opts.runs, ...budget });
  }
  let failure: CheckFailure | null = null;
  let flaky: FlakyFailure | null = null;
  if (details.failed && details.counterexample !== null) {
    const shrunk = truncateAfterFailure(opts, details.counterexample[0]);
    if (shrunk !== null) {
      // fast-check's shrinker stops in local minima of chunked sequences (it drops a chunk whole);
      // minimise() goes on
      // from its result (within what is left of the time budget).
      const min = minimise(opts, shrunk, { maxRuns: MINIMISE_RUNS, deadline: opts.timeBudgetMs !== undefined ? started + opts.timeBudgetMs : null });
      failure = {
        seed: details.seed,
        path: details.counterexamplePath ?? '',
        ops: min.ops,
        outcome: min.outcome,
        numShrinks: details.numShrinks,
        originalLength: firstLength,
        // fast-check stops shrinking when the time budget runs out and says so with `interrupted`.
        fullyShrunk: !details.interrupted && !cut && !min.cutShort,
      };
    } else {
      flaky = smallestSeen;
    }
  } else if (smallestSeen !== null) {
    // The property failed at some point but fast-check did not end failed: never a pass.
    flaky = smallestSeen;
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
    interrupted: details.interrupted || cut,
    failure,
    flaky,
    methodCalls: calls.counts(),
    generation,
    guided,
  };
}

/** Ops a guided mutation inserts or appends at a time (at most). */
const GUIDED_EXTRA_OPS = 6;

/** What is left of a time budget, for a fast-check run that starts now. */
function remaining(started: number, budgetMs: number | undefined): { interruptAfterTimeLimit?: number } {
  return budgetMs === undefined ? {} : { interruptAfterTimeLimit: Math.max(1, started + budgetMs - Date.now()) };
}

/**
 * Ops after the failing step cannot matter, but fast-check's array shrinker does not always drop
 * them; cut them off when the shorter list fails with the same violation code.
 */
function truncateAfterFailure(
  opts: Pick<CheckOptions, 'kernel' | 'reference' | 'geometry' | 'machine'>,
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
