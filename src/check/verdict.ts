import type { CheckReport } from './runCheck';

/**
 * What a check concludes, and its exit code. Only HOLDS exits 0, and it means: every sequence
 * ran with every oracle on and held, and (for a variant) every method the variant defines was
 * called and every line of it ran. Anything less says what it is.
 */
export const VERDICTS = ['HOLDS', 'FAILED', 'FLAKY', 'NOT EXERCISED', 'INTERRUPTED'] as const;
export type Verdict = (typeof VERDICTS)[number];

export const EXIT_CODES: Readonly<Record<Verdict, number>> = {
  HOLDS: 0,
  /** A failure was found (a hazard, a ledger or memory violation, a divergence, a hang). */
  FAILED: 1,
  /** A failure was seen but did not happen again when its sequence was re-run. */
  FLAKY: 4,
  /** Nothing failed, but part of the variant never ran: the check says nothing about that part. */
  'NOT EXERCISED': 5,
  /** Stopped by Ctrl-C (the process then dies by SIGINT, as shells expect). */
  INTERRUPTED: 130,
};

// 2 is bad input (UsageError) and 3 an internal error (src/cli/internalError.ts); the codes above
// stay clear of both.

/** What ran of a variant: per method, the sequences that called it; the lines that never ran. */
export interface Exercise {
  readonly methodCalls: Readonly<Record<string, number>>;
  readonly unexecutedLines: ReadonlyArray<{ readonly line: number; readonly text: string }>;
}

export function verdictOf(r: CheckReport, exercise: Exercise | null): Verdict {
  if (r.failure !== null) return 'FAILED';
  if (r.flaky !== null) return 'FLAKY';
  // A time budget that ran out inside the first sequence leaves nothing checked: never a HOLDS.
  if (r.sequences === 0) return 'NOT EXERCISED';
  if (exercise !== null && (Object.values(exercise.methodCalls).some((n) => n === 0) || exercise.unexecutedLines.length > 0)) return 'NOT EXERCISED';
  return 'HOLDS';
}

/**
 * The verdict lines every front end prints (the CLI's `check` and `run`, the library's
 * `formatCheck()`), in one place so they say the same thing; the CLI colours them.
 */
export const HOLDS_LINE = 'HOLDS: no hazard, no ledger or memory violation, no divergence';

/** Why a check that found nothing is NOT EXERCISED: no sequence finished, or part of the variant never ran (`what` says where that is shown). */
export function notExercisedLine(sequences: number, what: string): string {
  return sequences === 0 ? 'NOT EXERCISED: no sequence ran to its end within the time budget, so nothing was checked' : `NOT EXERCISED: nothing failed, but ${what}; the check says nothing about it`;
}

/** The tail of a FLAKY line, after the violation: whose it was and why it is not a failure. */
export const flakyTail = (kernel: string): string => ` (in kernel ${kernel}) — it did not happen again when the sequence was re-run`;
