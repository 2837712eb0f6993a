import type { Violation } from '../../models/machine/violation';
import type { Applied } from '../ops/apply';
import type { Op } from '../ops/op';

/** One step of a run as the trace prints it. */
export interface StepRecord {
  readonly step: number;
  readonly applied: Applied;
}

/** How a run ended: every oracle held, or the first violation and where. */
export type RunOutcome =
  | {
      readonly ok: true;
      readonly steps: readonly StepRecord[];
      /**
       * Set when the run stopped before its last op because a check's time budget ran out
       * (`--time`): nothing failed in the steps that ran, but the sequence was not checked to its
       * end. A check does not count it; a shrink candidate cut short is taken as not failing, so
       * shrinking keeps the last sequence that did fail.
       */
      readonly cut?: true;
    }
  | {
      readonly ok: false;
      readonly steps: readonly StepRecord[];
      readonly violation: Violation;
      /** The kernel that broke the check ('reference', 'batched', a mutant's name) or 'both' for a divergence. */
      readonly kernel: string;
      /** The failing op with its targets resolved (null when it resolved to nothing). */
      readonly failingOp: Op | null;
    };
