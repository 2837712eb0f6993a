import pc from 'picocolors';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { describeViolation } from '../../models/machine/violation';
import type { Geometry } from '../../models/machine/geometry';
import type { CheckReport } from '../check/runCheck';
import { runCheck } from '../check/runCheck';
import { STATE_PROBES } from '../coverage/probes';
import { writeCounterexample } from '../counterexample/file';
import type { Op } from '../ops/op';
import type { RunOutcome } from '../run/outcome';
import { failingStepDiff, formatTrace } from '../report/trace';
import type { LoadedKernel } from './loadKernel';
import type { Progress } from './progress';

export interface CheckCommandOptions {
  readonly kernel: LoadedKernel;
  readonly geometry: Geometry;
  readonly runs: number;
  readonly seed: number;
  readonly maxOps: number;
  readonly timeBudgetMs: number | undefined;
  readonly failureDir: string;
  readonly progress: Progress;
}

/**
 * `mmcheck check`: random sequences against the kernel (differential against the reference,
 * every oracle on). Failures are saved as soon as they are found and rewritten as shrinking
 * shortens them, so an interrupted run loses nothing. Returns the exit code.
 */
export function checkCommand(o: CheckCommandOptions, print: (s: string) => void): number {
  const file = `${o.failureDir}/${o.kernel.name.replace(/[^\w.+-]/g, '_')}-${o.geometry.name}-seed${o.seed}.json`;
  let savedLength = Number.POSITIVE_INFINITY;
  const save = (ops: readonly Op[], outcome: RunOutcome, status: 'found' | 'shrunk'): void => {
    if (outcome.ok) return;
    writeCounterexample(file, { format: 'mmcheck-counterexample/1', kernel: o.kernel.name, kernelSpec: o.kernel.spec, geometry: o.geometry.name, seed: o.seed, path: '', status, ops, violation: outcome.violation });
    savedLength = ops.length;
  };
  const against = o.kernel.name === 'reference' ? 'alone (per-kernel oracles)' : 'against the reference';
  print(pc.bold(`mmcheck check: kernel ${o.kernel.name} ${against}, geometry ${o.geometry.name}, seed ${o.seed}`));
  o.progress.start(o.runs);
  const report = runCheck({
    kernel: o.kernel.make,
    reference: () => new ReferenceKernel(),
    geometry: o.geometry,
    runs: o.runs,
    seed: o.seed,
    maxOps: o.maxOps,
    ...(o.timeBudgetMs !== undefined ? { timeBudgetMs: o.timeBudgetMs } : {}),
    onProgress: (n) => o.progress.update(n),
    onFailure: (ops, outcome, phase) => {
      // Save before saying so: an interrupt right after the message must find the file.
      if (ops.length < savedLength) save(ops, outcome, 'found');
      if (phase === 'found') {
        o.progress.stop();
        print(`failure found (${ops.length} ops), saved to ${file}; shrinking (interrupting keeps the smallest case so far)…`);
      }
    },
  });
  o.progress.stop();
  printSummary(report, print);
  if (report.failure === null) return 0;
  const f = report.failure;
  writeCounterexample(file, { format: 'mmcheck-counterexample/1', kernel: o.kernel.name, kernelSpec: o.kernel.spec, geometry: o.geometry.name, seed: f.seed, path: f.path, status: 'shrunk', ops: f.ops, violation: f.outcome.violation });
  print('');
  print(pc.red(pc.bold(`FAILED: ${describeViolation(f.outcome.violation)}`)) + ` (in kernel ${f.outcome.kernel})`);
  print(`counterexample: ${f.ops.length} ops, shrunk from ${f.originalLength} in ${f.numShrinks} steps`);
  for (const line of formatTrace(f.ops, f.outcome)) print(`  ${line}`);
  const diffKernel = f.outcome.kernel === 'reference' ? () => new ReferenceKernel() : o.kernel.make;
  const diff = failingStepDiff(diffKernel, o.geometry, f.ops, f.outcome.violation.step);
  if (diff.length > 0) {
    print(`what step ${f.outcome.violation.step} changed in ${f.outcome.kernel}:`);
    for (const line of diff.slice(0, 40)) print(`    ${line}`);
    if (diff.length > 40) print(`    … ${diff.length - 40} more`);
  }
  print('');
  print(`saved:  ${file}`);
  print(`replay: npx mmcheck replay ${file}`);
  print(`explain: npx mmcheck explain ${file}`);
  print(`seed ${f.seed}, fast-check path "${f.path}"`);
  return 1;
}

function printSummary(r: CheckReport, print: (s: string) => void): void {
  const secs = r.elapsedMs / 1000;
  print(`  sequences  ${r.sequences}${r.interrupted ? ' (time budget reached)' : ''}`);
  print(`  lengths    ${Object.entries(r.lengths).sort(([a], [b]) => parseInt(a) - parseInt(b)).map(([k, v]) => `${k}:${v}`).join('  ')}`);
  print(`  steps      ${r.steps} (${Math.round(r.steps / Math.max(secs, 0.001))} steps/s)`);
  print(`  time       ${secs.toFixed(1)} s`);
  print('  coverage   sequences that reached each state:');
  const names = [...STATE_PROBES, ...Object.keys(r.coverage).filter((k) => k.startsWith('mark:')).sort()];
  for (const name of names) {
    const n = r.coverage[name] ?? 0;
    print(`    ${n > 0 ? pc.green('✓') : pc.yellow('✗')} ${name.padEnd(58)} ${n}`);
  }
  if (r.failure === null) print(pc.green(pc.bold('  HOLDS: no hazard, no ledger or memory violation, no divergence')));
}
