import pc from 'picocolors';
import type { Geometry } from '../../models/machine/geometry';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { measureWorkload } from '../cost/measure';
import { formatCostTable, firstResultDifference } from '../cost/table';
import type { CostWorkload } from '../cost/workload';
import { selectWorkloads, UnknownWorkloadError } from '../cost/workloads/index';
import type { LoadedKernel } from './loadKernel';
import { UsageError } from './usageError';

export interface CostCommandOptions {
  readonly kernel: LoadedKernel;
  readonly geometry: Geometry;
  /** Workload names; empty for all. */
  readonly workloads: readonly string[];
}

/**
 * `mmcheck cost`: what an optimization saves in kernel work on named workloads — the harness's
 * version of the numbers in MM patch cover letters. Each workload runs on the reference and on the
 * kernel, every oracle on (counters from a run that broke a rule would mean nothing), and prints one
 * row per cost counter of the measured phase. Exit 1 if a run hit a violation or a workload did
 * not do its job; 2 for an unknown workload.
 */
export function costCommand(o: CostCommandOptions, print: (s: string) => void): number {
  const workloads = parseWorkloads(o.workloads);
  print(pc.bold(`mmcheck cost: kernel ${o.kernel.name} against the reference, geometry ${o.geometry.name} (${o.geometry.ptrsPerPte} PTEs per table, ${o.geometry.nrCpus} CPUs); counters of the measured phase only`));
  let bad = 0;
  for (const w of workloads) {
    const ref = measureWorkload(new ReferenceKernel(), o.geometry, w, { oracles: true });
    const k = measureWorkload(o.kernel.make(), o.geometry, w, { oracles: true });
    print('');
    for (const line of formatCostTable(w, ref, k)) print(line);
    if (!ref.verdict.ok || !k.verdict.ok || firstResultDifference(ref.results, k.results) !== null) bad++;
  }
  if (bad > 0) print(pc.red(`\n${bad} workload(s) did not run cleanly on both kernels: their counters do not compare like with like`));
  return bad === 0 ? 0 : 1;
}

/** `--workload` names → workloads; an unknown name is a usage error naming the valid ones. */
function parseWorkloads(names: readonly string[]): CostWorkload[] {
  try {
    return selectWorkloads(names);
  } catch (e) {
    if (e instanceof UnknownWorkloadError) throw new UsageError(e.message);
    throw e;
  }
}
