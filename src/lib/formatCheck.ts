import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import { describeViolation } from '../../models/machine/violation';
import type { CheckReport } from '../check/runCheck';
import type { Verdict } from '../check/verdict';
import { flakyTail, HOLDS_LINE, notExercisedLine } from '../check/verdict';
import { againstWhom } from '../check/runsAlone';
import { describeGeneration } from '../check/generation';
import { formatCounterexample } from '../report/litmus';
import { failureLines } from '../report/failureLines';

export interface CheckToFormat {
  readonly verdict: Verdict;
  readonly report: CheckReport;
  readonly make: () => ReferenceKernel;
  readonly reference: () => ReferenceKernel;
  readonly geometry: Geometry;
  readonly alone: boolean;
}

/**
 * A library check as plain text, in the CLI's words: a header, the totals, the variant's method
 * calls, then the verdict; a failure with its counterexample and the failing step's diff, and the
 * seed and fast-check path that replay it. What a test prints when a check does not hold.
 */
export function formatCheck(c: CheckToFormat): string[] {
  const r = c.report;
  const out = [
    `mmcheck: kernel ${r.kernel} ${c.alone ? 'alone (per-kernel oracles)' : `against the ${againstWhom(c.reference)}`}, geometry ${c.geometry.name}, seed ${r.seed}, generation ${describeGeneration(r.generation)}`,
    `  ${r.sequences} sequences, ${r.steps} steps in ${(r.elapsedMs / 1000).toFixed(1)} s${r.interrupted ? ' (time budget reached)' : ''}`,
  ];
  const calls = Object.entries(r.methodCalls);
  if (calls.length > 0) {
    out.push('  variant methods: sequences that called each (✗: never called, so never checked):');
    for (const [name, n] of calls) out.push(`    ${n > 0 ? '✓' : '✗'} ${name} ${n}`);
  }
  switch (c.verdict) {
    case 'HOLDS':
      out.push(HOLDS_LINE);
      break;
    case 'NOT EXERCISED':
      out.push(notExercisedLine(r.sequences, 'a method of the variant was never called (✗ above)'));
      break;
    case 'INTERRUPTED':
      out.push('INTERRUPTED');
      break;
    case 'FLAKY': {
      const f = r.flaky!;
      out.push(`FLAKY: ${describeViolation(f.outcome.violation)}${flakyTail(f.outcome.kernel)}`);
      for (const line of formatCounterexample(f.ops, f.outcome)) out.push(`  ${line}`);
      break;
    }
    case 'FAILED': {
      const f = r.failure!;
      out.push(`FAILED: ${describeViolation(f.outcome.violation)} (in kernel ${f.outcome.kernel})`);
      out.push(...failureLines(f, c.make, c.reference, c.geometry, c.alone));
      out.push(`replay: seed ${f.seed}, fast-check path "${f.path}"; the ops as JSON: ${JSON.stringify(f.ops)}`);
      break;
    }
  }
  return out;
}
