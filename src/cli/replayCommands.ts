import pc from 'picocolors';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { describeViolation } from '../../models/machine/violation';
import type { Counterexample } from '../counterexample/file';
import { CounterexampleFileError, readCounterexample } from '../counterexample/file';
import { replayBounded } from '../check/replayBounded';
import { explainSteps, formatExplanation } from '../report/explain';
import { formatTrace } from '../report/trace';
import { loadKernel } from './loadKernel';
import { parseGeometry } from './options';
import { UsageError } from './usageError';
import type { VariantLoadOptions } from '../variants/loadVariant';

function load(file: string): Counterexample {
  try {
    return readCounterexample(file);
  } catch (e) {
    if (e instanceof CounterexampleFileError) throw new UsageError(e.message);
    throw e;
  }
}

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
  for (const line of formatTrace(c.ops, outcome)) print(`  ${line}`);
  if (outcome.ok) {
    print(pc.green(`passes now (the file recorded ${c.violation.code})`));
    return 0;
  }
  const same = outcome.violation.code === c.violation.code && outcome.violation.step === c.violation.step;
  print(pc.red(`${same ? 'same violation' : `different violation (file: ${describeViolation(c.violation)})`}: ${describeViolation(outcome.violation)}`));
  return 1;
}

/** `mmcheck explain <file>`: the per-step trace of what each kernel changed, first divergence or violation marked. */
export async function explainCommand(file: string, kernelOverride: string | undefined, print: (s: string) => void, options?: VariantLoadOptions): Promise<StepsAndMeta> {
  const c = load(file);
  const kernel = await loadKernel(kernelOverride ?? c.kernelSpec, options);
  const geometry = parseGeometry(c.geometry);
  const steps = explainSteps(kernel.make, () => new ReferenceKernel(), geometry, c.ops);
  print(pc.bold(`explain ${file}: kernel ${kernel.name}, geometry ${geometry.name}`));
  for (const line of formatExplanation(steps)) print(line);
  return { steps, kernel: kernel.name, geometry: geometry.name, file };
}

export interface StepsAndMeta {
  readonly steps: ReturnType<typeof explainSteps>;
  readonly kernel: string;
  readonly geometry: string;
  readonly file: string;
}
