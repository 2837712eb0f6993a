import type { ReferenceKernel } from '../reference/ReferenceKernel';
import type { ViolationCode } from '../machine/violation';

/**
 * A deliberately broken kernel, with the facts a kill matrix reports: what it breaks, which
 * patch discussion or kernel rule it violates, and which oracle is expected to catch it.
 */
export interface MutantSpec {
  /** kebab-case, saying the bug. */
  readonly name: string;
  readonly breaks: string;
  /** The seed thread (docs/seeds.md) or kernel rule (docs/kernel-semantics.md) it violates. */
  readonly violates: string;
  /** Violation codes any of which counts as the expected catch. */
  readonly caughtBy: readonly ViolationCode[];
  readonly make: () => ReferenceKernel;
  /**
   * A race inside an operation (models/mutants/race/): equivalent to its correct kernel unless
   * the check generates schedule ops, so it is killed with interleaving on (docs/concurrency.md).
   */
  readonly needsInterleave?: boolean;
}

/** The spec of a mutant class: its name and factory come from the class, the facts from its header. */
export function defineMutant(Kernel: new () => ReferenceKernel, facts: Omit<MutantSpec, 'name' | 'make'>): MutantSpec {
  return { name: new Kernel().name, ...facts, make: () => new Kernel() };
}
