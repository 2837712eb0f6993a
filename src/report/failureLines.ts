import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import type { CheckFailure } from '../check/runCheck';
import { formatCounterexample } from './litmus';
import { failingStepDiff } from './trace';

/** The longest state diff printed under a failure; the rest is counted. */
const DIFF_LINES = 40;

/**
 * A shrunk failure as the CLI and the library print it, after its headline: the counterexample
 * (litmus table or numbered trace) and what the failing step changed in the kernel that broke the
 * check. `warn` colours the note that shrinking was cut short (identity for plain text).
 */
export function failureLines(f: CheckFailure, kernel: () => ReferenceKernel, spec: () => ReferenceKernel, geometry: Geometry, alone: boolean, warn: (s: string) => string = (s) => s): string[] {
  const out = [`counterexample: ${f.ops.length} ops, shrunk from ${f.originalLength} in ${f.numShrinks} steps${f.fullyShrunk ? '' : warn(' (not fully shrunk: the time budget ran out while shrinking)')}`];
  for (const line of formatCounterexample(f.ops, f.outcome)) out.push(`  ${line}`);
  const diff = failingStepDiff(f.outcome.kernel === spec().name && !alone ? spec : kernel, geometry, f.ops, f.outcome.violation.step);
  if (diff.length > 0) {
    out.push(`what step ${f.outcome.violation.step} changed in ${f.outcome.kernel}:`);
    for (const line of diff.slice(0, DIFF_LINES)) out.push(`    ${line}`);
    if (diff.length > DIFF_LINES) out.push(`    … ${diff.length - DIFF_LINES} more`);
  }
  return out;
}
