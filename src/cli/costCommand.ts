import pc from 'picocolors';
import type { Geometry } from '../../models/machine/geometry';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { measureWorkload } from '../cost/measure';
import { counterRows, formatCostTable, firstResultDifference } from '../cost/table';
import { stripAnsi } from '../variants/errorLocation';
import type { CommandData, Report, ResultCase } from '../schema/report';
import { REPORT_FORMAT } from '../schema/report';
import type { CostWorkload } from '../cost/workload';
import type { LoadedKernel } from './loadKernel';

export interface CostCommandOptions {
  readonly kernel: LoadedKernel;
  readonly geometry: Geometry;
  /** The workloads to run, registered or from files (resolveWorkloads()). */
  readonly workloads: readonly CostWorkload[];
}

/**
 * `mmcheck cost`: what an optimization saves in kernel work on named workloads — the harness's
 * version of the numbers in MM patch cover letters. Each workload runs on the reference and on the
 * kernel, every oracle on (counters from a run that broke a rule would mean nothing), and prints one
 * row per cost counter of the measured phase. Exit 1 if a run hit a violation or a workload did
 * not do its job; 2 for an unknown workload.
 */
export function costCommand(o: CostCommandOptions, print: (s: string) => void): CostReport {
  const started = Date.now();
  const workloads = o.workloads;
  const tests: ResultCase[] = [];
  const rows: CommandData<'cost'>['workloads'] = [];
  print(pc.bold(`mmcheck cost: kernel ${o.kernel.name} against the reference, geometry ${o.geometry.name} (${o.geometry.ptrsPerPte} PTEs per table, ${o.geometry.nrCpus} CPUs); counters of the measured phase only`));
  let bad = 0;
  for (const w of workloads) {
    const t = Date.now();
    const ref = measureWorkload(new ReferenceKernel(), o.geometry, w, { oracles: true });
    const k = measureWorkload(o.kernel.make(), o.geometry, w, { oracles: true });
    const table = formatCostTable(w, ref, k);
    print('');
    for (const line of table) print(line);
    const clean = ref.verdict.ok && k.verdict.ok && firstResultDifference(ref.results, k.results) === null;
    if (!clean) bad++;
    tests.push({ name: `cost ${w.name} on ${o.kernel.name} ${o.geometry.name}`, status: clean ? 'pass' : 'fail', message: clean ? null : 'the workload did not run cleanly on both kernels', details: clean ? [] : table.map(stripAnsi), elapsedMs: Date.now() - t });
    rows.push({ name: w.name, clean, counters: counterRows(ref.stats, k.stats).map((r) => ({ key: r.key, label: r.label, reference: r.reference, kernel: r.kernel })) });
  }
  if (bad > 0) print(pc.red(`\n${bad} workload(s) did not run cleanly on both kernels: their counters do not compare like with like`));
  return { format: REPORT_FORMAT, command: 'cost', exitCode: bad === 0 ? 0 : 1, elapsedMs: Date.now() - started, tests, data: { kernel: o.kernel.name, geometry: o.geometry.name, workloads: rows } };
}

/** `mmcheck cost`'s result: exit 1 if a workload did not run cleanly on both kernels. */
export type CostReport = Extract<Report, { command: 'cost' }>;
