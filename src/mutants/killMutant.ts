import type { Geometry } from '../../models/machine/geometry';
import type { ViolationCode } from '../../models/machine/violation';
import type { MutantSpec } from '../../models/mutants/mutant';
import { runCheck } from '../check/runCheck';
import type { Op } from '../ops/op';
import type { Generation } from '../check/generation';

export interface KillBudget {
  readonly geometry: Geometry;
  /** Most sequences to generate before the mutant counts as surviving. */
  readonly runs: number;
  readonly maxOps: number;
  /** How sequences are drawn; the check's default when absent. */
  readonly generation?: Generation;
}

/** One mutant against one seed: did the standard properties fail, how fast, how short. */
export interface KillResult {
  readonly mutant: string;
  readonly seed: number;
  readonly killed: boolean;
  /** The violation code that fired (null if it survived). */
  readonly oracle: ViolationCode | null;
  /** Whether that code is one the mutant's header expects. */
  readonly expectedOracle: boolean;
  /** Sequences generated up to and including the first failing one. */
  readonly runsToKill: number | null;
  readonly originalLength: number | null;
  readonly shrunkLength: number | null;
  readonly ms: number;
  readonly ops: readonly Op[] | null;
}

/** Run the standard properties (differential against the reference, every oracle) on a mutant; a race mutant's check generates schedule ops. */
export function killMutant(spec: MutantSpec, budget: KillBudget, seed: number): KillResult {
  const t = Date.now();
  const r = runCheck({ kernel: spec.make, geometry: budget.geometry, runs: budget.runs, seed, maxOps: budget.maxOps, ...(budget.generation !== undefined ? { generation: budget.generation } : {}), ...(spec.needsInterleave === true ? { interleave: true } : {}) });
  const f = r.failure;
  const code = f?.outcome.violation.code ?? null;
  return {
    mutant: spec.name,
    seed,
    killed: f !== null,
    oracle: code,
    expectedOracle: code !== null && spec.caughtBy.includes(code),
    runsToKill: f === null ? null : r.sequences,
    originalLength: f?.originalLength ?? null,
    shrunkLength: f?.ops.length ?? null,
    ms: Date.now() - t,
    ops: f?.ops ?? null,
  };
}

export { median } from '../stats/median';
