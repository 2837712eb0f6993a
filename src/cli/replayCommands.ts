import { writeFileSync } from 'node:fs';
import pc from 'picocolors';
import { specFor } from '../../models/specFor';
import { describeViolation } from '../../models/machine/violation';
import type { Counterexample } from '../counterexample/file';
import { CounterexampleFileError, readCounterexample } from '../counterexample/file';
import { replayBounded } from '../check/replayBounded';
import type { StepExplanation } from '../report/explain';
import { explainSteps, formatExplanationStep, isBadStep } from '../report/explain';
import { renderExplanationHtml } from '../report/html';
import type { LitmusTable } from '../report/litmus';
import { CLI_LITMUS_WIDTH, formatCounterexample, formatLitmus, hasTasks, litmusTable } from '../report/litmus';
import { runOne } from '../check/runCheck';
import type { Op } from '../ops/op';
import type { Geometry } from '../../models/machine/geometry';
import type { LoadedKernel } from './loadKernel';
import { loadKernel } from './loadKernel';
import { parseGeometry } from './options';
import { readAsUsage } from './usageError';
import type { VariantLoadOptions } from '../variants/loadVariant';

const load = (file: string): Counterexample => readAsUsage(() => readCounterexample(file), CounterexampleFileError);

/**
 * `mmcheck replay <file>`: run a saved counterexample again, without fast-check. Exit 1 while it
 * still fails (saying whether with the same violation), 0 once it passes.
 */
export async function replayCommand(file: string, kernelOverride: string | undefined, stepTimeoutMs: number, print: (s: string) => void, options?: VariantLoadOptions): Promise<number> {
  const c = load(file);
  const kernel = await loadKernel(kernelOverride ?? c.kernelSpec, options);
  const geometry = parseGeometry(c.geometry);
  const outcome = await replayBounded(kernel.spec, kernel.name, geometry, c.ops, stepTimeoutMs);
  print(pc.bold(`replay ${file}: kernel ${kernel.name}, geometry ${geometry.name}, ${c.ops.length} ops`));
  for (const line of formatCounterexample(c.ops, outcome)) print(`  ${line}`);
  if (outcome.ok) {
    print(pc.green(`passes now (the file recorded ${c.violation.code})`));
    return 0;
  }
  const same = outcome.violation.code === c.violation.code && outcome.violation.step === c.violation.step;
  print(pc.red(`${same ? 'same violation' : `different violation (file: ${describeViolation(c.violation)})`}: ${describeViolation(outcome.violation)}`));
  return 1;
}

/**
 * The HTML view keeps every step's full state (page tables, folios, TLBs) in the page, so it
 * shows at most this many steps — the last ones, which lead to the failure — whatever the length
 * of the op list; the text output has them all.
 */
export const HTML_MAX_STEPS = 200;

/**
 * `mmcheck explain <file>`: the per-step trace of what each kernel changed, first divergence or
 * violation marked, printed as each step is computed; `html` also writes the HTML view there.
 * Exit 1 when a step diverged or broke a check, else 0.
 */
export async function explainCommand(file: string, kernelOverride: string | undefined, html: string | undefined, print: (s: string) => void, options?: VariantLoadOptions): Promise<number> {
  const c = load(file);
  const kernel = await loadKernel(kernelOverride ?? c.kernelSpec, options);
  const geometry = parseGeometry(c.geometry);
  print(pc.bold(`explain ${file}: kernel ${kernel.name}, geometry ${geometry.name}`));
  // explain runs the kernels on this thread, step by step: a recorded hang is explained up to the
  // op that hung, which is not run again here (replay re-runs it under the watchdog).
  const hung = c.violation.code === 'step_timeout' ? c.violation.step : null;
  const ops = hung === null ? c.ops : c.ops.slice(0, hung);
  const litmus = hung === null ? interleaving(kernel, geometry, ops) : null;
  if (litmus !== null) {
    print(formatLitmus(litmus, CLI_LITMUS_WIDTH).join('\n'));
    print('');
  }
  const kept: StepExplanation[] = [];
  let total = 0;
  let bad = false;
  // Printed in chunks of many lines: on a long list, one write per line cost more than the steps.
  let chunk: string[] = [];
  for (const step of explainSteps(kernel.make, specFor(kernel.make()), geometry, ops, hung === null)) {
    chunk.push(...formatExplanationStep(step));
    if (chunk.length >= 1000) {
      print(chunk.join('\n'));
      chunk = [];
    }
    total++;
    bad = isBadStep(step);
    if (html === undefined) continue;
    kept.push(step);
    if (kept.length > HTML_MAX_STEPS) kept.shift();
  }
  if (chunk.length > 0) print(chunk.join('\n'));
  if (hung !== null) {
    print(pc.red(`✗ step ${hung}: ${describeViolation(c.violation)} — recorded as a hang, not run again here; \`mmcheck replay ${file}\` re-runs it under the watchdog`));
    bad = true;
  }
  if (html !== undefined) {
    const cut = total > kept.length ? ` (the last ${kept.length} of ${total} steps; the text output has them all)` : '';
    writeFileSync(html, renderExplanationHtml(`${file}: kernel ${kernel.name}, geometry ${geometry.name}${cut}`, kept, litmus));
    print(`wrote ${html}${cut}`);
  }
  return bad ? 1 : 0;
}

/**
 * The litmus table `explain` shows before its steps when kernel tasks took part in the run (the
 * same run `check` made: the differential against the reference, or the kernel alone); null when
 * none did. Only a list with a `preempt` can start a task, so any other list is not run twice.
 */
function interleaving(kernel: LoadedKernel, geometry: Geometry, ops: readonly Op[]): LitmusTable | null {
  if (!ops.some((op) => op.kind === 'preempt')) return null;
  const outcome = runOne({ kernel: kernel.make, reference: specFor(kernel.make()), geometry }, ops);
  return hasTasks(outcome) ? litmusTable(ops, outcome) : null;
}
