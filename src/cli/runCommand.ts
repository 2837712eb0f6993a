import pc from 'picocolors';
import { againstWhom, runsAlone } from '../check/runsAlone';
import { specFor } from '../../models/specFor';
import { describeViolation } from '../../models/machine/violation';
import { replayBounded } from '../check/replayBounded';
import { formatCounterexample } from '../report/litmus';
import type { Scenario } from '../scenario/file';
import { readScenario, ScenarioFileError } from '../scenario/file';
import { loadKernel } from './loadKernel';
import { parseGeometry } from './options';
import { readAsUsage } from './usageError';
import { stripAnsi } from '../variants/errorLocation';
import type { Report } from '../schema/report';
import { REPORT_FORMAT } from '../schema/report';
import { HOLDS_LINE } from '../check/verdict';

export interface RunCommandOptions {
  readonly kernel?: string;
  readonly geometry?: string;
  /** An op running longer than this is reported as a hang (step_timeout). */
  readonly stepTimeoutMs: number;
  readonly typecheck: boolean;
}

const load = (file: string): Scenario => readAsUsage(() => readScenario(file), ScenarioFileError);

/**
 * `mmcheck run <file>`: run a hand-written op list (or a saved counterexample) once, with every
 * oracle — differential against the reference unless the kernel is the reference — and print the
 * numbered trace (the litmus table when kernel tasks took part) and a verdict. Exit 0 when it holds, 1 when it fails.
 */
export async function runCommand(file: string, o: RunCommandOptions, printHuman: (s: string) => void): Promise<RunReport> {
  const started = Date.now();
  const lines: string[] = [];
  const print = (line: string): void => {
    lines.push(stripAnsi(line));
    printHuman(line);
  };
  const s = load(file);
  const kernel = await loadKernel(o.kernel ?? s.kernel ?? 'batched', { typecheck: o.typecheck });
  const geometry = parseGeometry(o.geometry ?? s.geometry ?? 'small');
  const probe = kernel.make();
  const against = runsAlone(probe) ? 'alone (per-kernel oracles)' : `against the ${againstWhom(specFor(probe))}`;
  print(pc.bold(`run ${file}: kernel ${kernel.name} ${against}, geometry ${geometry.name}, ${s.ops.length} ops`));
  // In the watched worker, so an op that never returns is reported (step_timeout), not waited on.
  const outcome = await replayBounded(kernel.spec, kernel.name, geometry, s.ops, o.stepTimeoutMs);
  for (const line of formatCounterexample(s.ops, outcome)) print(`  ${line}`);
  if (outcome.ok) print(pc.green(pc.bold(HOLDS_LINE)));
  else print(pc.red(pc.bold(`FAILED: ${describeViolation(outcome.violation)}`)) + ` (in kernel ${outcome.kernel})`);
  const elapsedMs = Date.now() - started;
  const failure = outcome.ok ? null : { kernel: outcome.kernel, violation: outcome.violation };
  return {
    format: REPORT_FORMAT,
    command: 'run',
    exitCode: outcome.ok ? 0 : 1,
    elapsedMs,
    tests: [{ name: `run ${file} on ${kernel.name} ${geometry.name}`, status: outcome.ok ? 'pass' : 'fail', message: outcome.ok ? null : `FAILED: ${describeViolation(outcome.violation)} (in kernel ${outcome.kernel})`, details: outcome.ok ? [] : lines, elapsedMs }],
    data: { file, kernel: kernel.name, geometry: geometry.name, ops: s.ops.length, verdict: outcome.ok ? 'HOLDS' : 'FAILED', failure },
  };
}

/** `mmcheck run`'s result: exit 0 when it holds, 1 when it fails. */
export type RunReport = Extract<Report, { command: 'run' }>;
