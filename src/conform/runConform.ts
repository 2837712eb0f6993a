import fc from 'fast-check';
import type { Op } from '../ops/op';
import type { ConformTarget, ProgramComparison } from './compareProgram';
import { compareProgram } from './compareProgram';
import { RuntimeError, RuntimeInterrupted } from './kernelOutput';
import { userProgramArb } from './programArb';

export type ConformVerdict = 'AGREES' | 'DIFFERS' | 'FLAKY' | 'INTERRUPTED';

export const CONFORM_EXIT_CODES: Readonly<Record<ConformVerdict, number>> = { AGREES: 0, DIFFERS: 1, FLAKY: 4, INTERRUPTED: 130 };

/** What the programs exercised: how many ran, which runtime calls ran how often, what was left out and why. */
export interface ConformStats {
  programs: number;
  steps: number;
  readonly calls: Map<string, number>;
  readonly leftOut: Map<string, number>;
}

export interface ConformFailure {
  readonly ops: readonly Op[];
  readonly comparison: ProgramComparison;
  /** Programs run while shrinking. */
  readonly shrinkRuns: number;
  /** How many of the re-runs of the shrunk program showed the same difference (of `reruns`). */
  readonly reproduced: number;
  readonly reruns: number;
}

export interface ConformOutcome {
  readonly verdict: ConformVerdict;
  readonly stats: ConformStats;
  readonly failure: ConformFailure | null;
  /** INTERRUPTED only: a program had differed before the interrupt, unconfirmed (not shrunk or re-run). */
  readonly unconfirmedDifference?: boolean;
}

export interface ConformOptions {
  readonly runs: number;
  readonly seed: number;
  readonly maxOps: number;
  readonly signal: AbortSignal;
  /** Called after each program (not while shrinking); null for none. */
  readonly onProgram: ((done: number) => void) | null;
}

/** Re-runs of a shrunk difference: a difference the kernel does not show again is not reported as one. */
const RERUNS = 2;

/**
 * `conform`: random user-level programs, each run in the model and on this machine's kernel; the
 * first program whose observables differ is shrunk by fast-check (each candidate run on the kernel
 * again) and re-run to make sure the kernel shows the difference every time. A RuntimeError (the
 * runtime failing on its own) propagates: it is the harness's failure, not a difference.
 */
export async function runConform(t: ConformTarget, o: ConformOptions): Promise<ConformOutcome> {
  const stats: ConformStats = { programs: 0, steps: 0, calls: new Map(), leftOut: new Map() };
  let failedOnce = false;
  let shrinkRuns = 0;
  let runtimeError: RuntimeError | null = null;
  let interrupted = false;
  let last: { ops: readonly Op[]; comparison: ProgramComparison } | null = null;
  const property = fc.asyncProperty(userProgramArb(t.geometry, o.maxOps), async (ops) => {
    if (runtimeError !== null || interrupted || o.signal.aborted) return true;
    let c: ProgramComparison;
    try {
      c = await compareProgram(t, ops);
    } catch (e) {
      // Ctrl-C reaches the runtime too (the terminal signals the whole process group).
      if (e instanceof RuntimeInterrupted) {
        interrupted = true;
        return true;
      }
      if (e instanceof RuntimeError) {
        runtimeError = e;
        return true;
      }
      throw e;
    }
    if (failedOnce) shrinkRuns++;
    else {
      count(stats, c);
      o.onProgram?.(stats.programs);
    }
    if (c.difference === null) return true;
    failedOnce = true;
    last = { ops, comparison: c };
    return false;
  });
  const r = await fc.check(property, { seed: o.seed, numRuns: o.runs, endOnFailure: false });
  if (runtimeError !== null) throw runtimeError;
  const seen = last as { ops: readonly Op[]; comparison: ProgramComparison } | null;
  // Ctrl-C wins over a difference seen before it: the shrink and the re-runs that would confirm
  // it did not (all) run, so it is neither DIFFERS nor FLAKY (and the runtime is gone).
  if (o.signal.aborted || interrupted) return { verdict: 'INTERRUPTED', stats, failure: null, unconfirmedDifference: seen !== null };
  if (!r.failed || seen === null) return { verdict: 'AGREES', stats, failure: null };
  // The shrunk program, run again: the kernel must show the same difference every time.
  const ops = r.counterexample?.[0] ?? seen.ops;
  const runs: ProgramComparison[] = [];
  for (let i = 0; i <= RERUNS; i++) runs.push(await compareProgram(t, ops));
  const first = runs[0]!;
  const same = (c: ProgramComparison): boolean => {
    const a = c.difference;
    const b = first.difference;
    return a !== null && b !== null && a.step === b.step && a.model === b.model && a.kernel === b.kernel;
  };
  const reproduced = runs.slice(1).filter(same).length;
  const found = { ops, comparison: first };
  const failure: ConformFailure = { ...found, shrinkRuns, reproduced, reruns: RERUNS };
  return { verdict: first.difference !== null && reproduced === RERUNS ? 'DIFFERS' : 'FLAKY', stats, failure };
}

function count(s: ConformStats, c: ProgramComparison): void {
  s.programs++;
  s.steps += c.program.steps.length;
  for (const step of c.program.steps) {
    for (const call of step.calls) s.calls.set(call.fn, (s.calls.get(call.fn) ?? 0) + 1);
    if (step.left !== null) s.leftOut.set(step.left, (s.leftOut.get(step.left) ?? 0) + 1);
  }
}
