import type { Op } from '../ops/op';
import type { RunOutcome } from '../run/outcome';
import type { CheckOptions } from './runCheck';
import { runOne } from './runOne';
import { normalise } from './normalise';

type Failed = Extract<RunOutcome, { ok: false }>;

export interface MinimiseLimits {
  /** Most sequences to run. */
  readonly maxRuns: number;
  /** Stop (keeping the smallest failure so far) once `Date.now()` passes this; null: no limit. */
  readonly deadline: number | null;
}

export interface Minimised {
  readonly ops: readonly Op[];
  readonly outcome: Failed;
  /** Sequences run. */
  readonly runs: number;
  /** The deadline or the run budget stopped it before a fixpoint: a shorter failure may exist. */
  readonly cutShort: boolean;
}

/**
 * The default run budget. Measured on the kill matrix (seeds 1–5, all 35 mutants): the fixpoint
 * took at most 46 runs from fast-check's result (21 ops), a few ms each.
 */
export const MINIMISE_RUNS = 2000;

type Setup = Pick<CheckOptions, 'kernel' | 'reference' | 'geometry' | 'machine' | 'onFailure' | 'onSequence'>;

/**
 * Minimisation after fast-check's shrinking (issue 11: a counterexample is the simplest
 * interleaving that fails). fast-check's shrinker removes one generated chunk at a time, and a
 * removal re-aims the ops after it — a `preempt` on a CPU that now has a task is a no-op, mm
 * indexes shift when a fork goes — so it stops in a local minimum where no single chunk removal
 * keeps the failure, while removing a run of ops spanning several chunks, or part of one, does.
 * This pass is ddmin-style: it tries removing contiguous blocks of ops (halves, quarters, …
 * single ops) and keeps a removal when the shorter sequence still fails with the same violation
 * code, cutting what follows the failing step; repeated to a fixpoint (no single op can go),
 * within `limits`. Then the targets are written as they resolve (normalise.ts: `mm#0`, not the
 * `mm#3` the generator drew). Deterministic: the same sequence gives the same result, unless the
 * deadline cuts it short. Every sequence it returns has been run and failed with `start`'s code.
 */
export function minimise(setup: Setup, start: { readonly ops: readonly Op[]; readonly outcome: Failed }, limits: MinimiseLimits): Minimised {
  const code = start.outcome.violation.code;
  let runs = 0;
  let cutShort = false;
  let best: { ops: readonly Op[]; outcome: Failed } = { ops: start.ops, outcome: start.outcome };

  /** Run `ops`: its outcome if it fails with the code, null if not or out of budget. */
  const fails = (ops: readonly Op[]): Failed | null => {
    if (runs >= limits.maxRuns || (limits.deadline !== null && Date.now() > limits.deadline)) {
      cutShort = true;
      return null;
    }
    runs++;
    setup.onSequence?.(ops, 'shrinking');
    const o = runOne(setup, ops, null, limits.deadline ?? Number.POSITIVE_INFINITY);
    if (o.ok && o.cut === true) cutShort = true;
    return !o.ok && o.violation.code === code ? o : null;
  };

  /** Take `ops` (just seen failing with `outcome`) as the best, cut after its failing step when that still fails. */
  const accept = (ops: readonly Op[], outcome: Failed): void => {
    best = { ops, outcome };
    const cut = ops.slice(0, outcome.violation.step + 1);
    if (cut.length < ops.length) {
      const again = fails(cut);
      if (again !== null) best = { ops: cut, outcome: again };
    }
    setup.onFailure?.(best.ops, best.outcome, 'shrinking');
  };

  for (let changed = true; changed && !cutShort; ) {
    changed = false;
    // Block sizes n/2, n/4, … 1; after a kept removal the same position is tried again.
    for (let size = Math.max(1, Math.floor(best.ops.length / 2)); size >= 1 && !cutShort; size = size === 1 ? 0 : Math.max(1, Math.floor(size / 2))) {
      for (let i = 0; i < best.ops.length && !cutShort; ) {
        const cand = [...best.ops.slice(0, i), ...best.ops.slice(i + size)];
        const o = cand.length < best.ops.length ? fails(cand) : null;
        if (o !== null) {
          accept(cand, o);
          changed = true;
        } else i += size;
      }
    }
  }
  const written = normalise(setup, best.ops);
  if (JSON.stringify(written) !== JSON.stringify(best.ops)) {
    const o = fails(written);
    if (o !== null) best = { ops: written, outcome: o };
  }
  return { ops: best.ops, outcome: best.outcome, runs, cutShort };
}
