import type fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import { assertNever } from '../../models/assertNever';
import type { Op, OpKind } from '../ops/op';
import { opsArb } from '../arbitraries/ops';
import { uniformProfile } from '../arbitraries/profile';
import { applyFocus, applyWeights, parseFocus } from '../arbitraries/focus';

/**
 * How a check draws its sequences:
 * - 'uniform': every sequence from the same mix (the default weights);
 * - 'swarm': every sequence first draws its own mix (src/arbitraries/swarm.ts);
 * - 'guided': sequences of the fixed mix, plus mutations of a corpus of sequences that reached
 *   something new (src/check/guided.ts).
 */
export const GENERATION_MODES = ['uniform', 'swarm', 'guided'] as const;
export type GenerationMode = (typeof GENERATION_MODES)[number];

/**
 * The mode of a check that names none: the one that won the kill matrix (docs/reach.md). Swarm
 * did not: the mutants' bugs need several op kinds together, and leaving each kind out of half
 * the sequences costs more than it gains; it wins on bugs that need kinds to be absent.
 */
export const DEFAULT_MODE: GenerationMode = 'uniform';

/** Plain data (it crosses to the check's worker thread and into the report). */
export interface Generation {
  readonly mode: GenerationMode;
  /** Op kinds and areas (src/arbitraries/focus.ts) whose ops get more weight and are never left out. */
  readonly focus: readonly string[];
  /** `--weights`: per op kind, the total weight of its entries (0: never drawn). */
  readonly weights: Readonly<Partial<Record<OpKind, number>>>;
}

export const DEFAULT_GENERATION: Generation = { mode: DEFAULT_MODE, focus: [], weights: {} };

/** The arbitrary of a check's sequences (for 'guided', the one its fresh sequences come from). */
export function sequencesArb(g: Geometry, maxOps: number, gen: Generation, interleave: boolean): fc.Arbitrary<Op[]> {
  const focus = parseFocus(gen.focus);
  const profile = applyWeights(applyFocus(uniformProfile(g), focus), gen.weights);
  switch (gen.mode) {
    case 'uniform':
    // Guided mode's fresh sequences are the default mix: it won the kill matrix (docs/reach.md).
    case 'guided':
      return opsArb(g, maxOps, { interleave, profile });
    case 'swarm':
      return opsArb(g, maxOps, { interleave, profile, swarm: { keep: focus.targets } });
    default:
      return assertNever(gen.mode);
  }
}

/** One line for the report: the mode, the focus and the weights. */
export function describeGeneration(gen: Generation): string {
  const parts: string[] = [gen.mode];
  if (gen.focus.length > 0) parts.push(`focus ${gen.focus.join(',')}`);
  const w = Object.entries(gen.weights);
  if (w.length > 0) parts.push(`weights ${w.map(([k, n]) => `${k}=${n}`).join(',')}`);
  return parts.join(', ');
}
