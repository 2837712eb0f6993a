import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry, GeometryName } from '../../models/machine/geometry';
import { geometry as geometryNamed } from '../../models/machine/geometry';
import { specFor } from '../../models/specFor';
import type { CheckReport } from '../check/runCheck';
import { runCheck } from '../check/runCheck';
import type { Generation } from '../check/generation';
import { DEFAULT_GENERATION } from '../check/generation';
import type { Verdict } from '../check/verdict';
import { verdictOf } from '../check/verdict';
import { runsAlone } from '../check/runsAlone';
import type { KernelClass } from '../variants/kernelMethods';
import { registeredBase, variantMethods } from '../variants/kernelMethods';
import { refuseMisspelledOverrides } from '../variants/misspelledOverrides';
import { named, variantName } from '../variants/loadVariant';
import { formatCheck } from './formatCheck';

/** What `checkKernel()` checks: a kernel class (a variant) or a factory of fresh instances. */
export type KernelUnderTest = KernelClass | (() => ReferenceKernel);

export interface KernelCheckOptions {
  /** Sequences to run (the CLI's `--runs`); 200 by default, the CLI's is 2,000. */
  readonly runs?: number;
  /** The seed; 1 by default. The same seed gives the same sequences and the same counterexample. */
  readonly seed?: number;
  /** 'small' (the default: 2 PMDs of 8 PTEs, where rare states are common) or 'realistic' (x86-64 sizes), or a Geometry. */
  readonly geometry?: GeometryName | Geometry;
  /** Longest sequence, in ops; 60 by default, as in the CLI. */
  readonly maxOps?: number;
  /** Run kernel tasks preempted, with other ops inside their windows (the CLI's `--interleave`). */
  readonly interleave?: boolean;
  /** How sequences are drawn (mode, focus, weights); uniform by default. */
  readonly generation?: Generation;
  /** Stop generating after this many ms; what ran is still checked. */
  readonly timeBudgetMs?: number;
  /** The specification; by default the pristine reference of the kernel's COW policy (specFor()). */
  readonly reference?: () => ReferenceKernel;
}

/** A check's result: the verdict as the CLI would give it, the full report, and its readable text. */
export interface KernelCheck {
  readonly verdict: Verdict;
  readonly report: CheckReport;
  /** The kernel's methods the check watched (a variant's overrides and helpers) and the sequences that called each. */
  readonly methodCalls: Readonly<Record<string, number>>;
  /** The summary, or the failure as the CLI prints it (counterexample trace, what the failing step changed), without colours. */
  readonly text: string;
}

const isClass = (k: KernelUnderTest): k is KernelClass => typeof k === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(k));

/**
 * Check a kernel against the reference in this thread, as `mmcheck check` does (same sequences
 * for the same seed, every oracle on), for use from a test file. Given a class, it refuses a
 * misspelled override (a method one or two letters from a kernel method, which the kernel would
 * never call) and watches the class's own methods: a check in which one was never called is NOT
 * EXERCISED, not HOLDS. Unlike the CLI it has no hang watchdog (an op that never ends hangs the
 * test, whose own timeout then reports it) and no line coverage of the variant.
 */
export function checkKernel(kernel: KernelUnderTest, options: KernelCheckOptions = {}): KernelCheck {
  const make: () => ReferenceKernel = isClass(kernel) ? namedAsVariant(kernel) : kernel;
  const watchMethods = watchedMethods(kernel);
  const g = typeof options.geometry === 'object' ? options.geometry : geometryNamed(options.geometry ?? 'small');
  const probe = make();
  const reference = options.reference ?? specFor(probe);
  const report = runCheck({
    kernel: make,
    reference,
    geometry: g,
    runs: options.runs ?? 200,
    seed: options.seed ?? 1,
    maxOps: options.maxOps ?? 60,
    watchMethods,
    generation: options.generation ?? DEFAULT_GENERATION,
    ...(options.interleave === true ? { interleave: true } : {}),
    ...(options.timeBudgetMs !== undefined ? { timeBudgetMs: options.timeBudgetMs } : {}),
  });
  const exercise = watchMethods.length > 0 ? { methodCalls: report.methodCalls, unexecutedLines: [] } : null;
  const verdict = verdictOf(report, exercise);
  const alone = runsAlone(probe, reference());
  return { verdict, report, methodCalls: report.methodCalls, text: formatCheck({ verdict, report, make, reference, geometry: g, alone }).join('\n') };
}

/**
 * A class's factory whose instances answer to the name the CLI gives the variant: one that keeps
 * or claims a registered name (`batched`) runs as `batched+FreeFirst`, so no report mistakes it
 * for the registered kernel. A registered class itself keeps its name.
 */
function namedAsVariant(Ctor: KernelClass): () => ReferenceKernel {
  if (registeredBase(Ctor) === Ctor) return () => new Ctor();
  const name = variantName(new Ctor().name, Ctor.name === '' ? 'Variant' : Ctor.name);
  return () => named(new Ctor(), name);
}

/** A class's own methods (overrides and helpers), after refusing misspelled overrides; none for a factory. */
function watchedMethods(kernel: KernelUnderTest): string[] {
  if (!isClass(kernel)) return [];
  refuseMisspelledOverrides(kernel.name, kernel);
  const m = variantMethods(kernel);
  return [...m.overrides, ...m.helpers].sort();
}
