import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { readAsUsage, UsageError } from './usageError';
import { readScenario, ScenarioFileError } from '../scenario/file';
import { SCENARIO_FORMAT } from '../schema/scenario';
import { geometry } from '../../models/machine/geometry';
import { KERNELS } from '../../models/registry';
import { runInModel } from '../conform/modelRun';
import { exportedProgram } from '../conform/runtimeSource';
import { compileC, interpreterBinary, runBinary } from '../conform/kernelRun';
import { kernelMapsZeroPage } from '../conform/kernelZeroPage';
import { firstDifference } from '../conform/canonical';
import { differenceLines, expectedText, failureLines, programLines, statsLines } from '../conform/report';
import { numaNodesWithMemory, whyNotRunnable } from '../conform/prerequisites';
import { parseRelease, referenceFor, runningRelease } from '../conform/release';
import type { KernelRelease } from '../conform/release';
import { readThpSettings, restoreThpSettings } from '../conform/thpSysfs';
import { conformTarget } from '../conform/target';
import { CONFORM_EXIT_CODES, runConform } from '../conform/runConform';
import type { ConformOutcome } from '../conform/runConform';
import type { Op } from '../ops/op';
import { assertNever } from '../../models/assertNever';
import type { ModelProgram } from '../conform/modelRun';

type Print = (s: string) => void;

/** Exit code when the real kernel cannot be run here: nothing was compared (as NOT EXERCISED). */
export const CONFORM_NOT_RUN = 5;

/** --release: compare as if the kernel were this version (default: the running one). */
export function parseReleaseOption(v: string | undefined): KernelRelease {
  if (v === undefined) return runningRelease();
  const r = parseRelease(v);
  if (r === null) throw new UsageError(`--release takes a kernel version like 6.18, got '${v}'`);
  return r;
}

function header(release: KernelRelease, reference: string, source: string): string[] {
  return [
    `mmcheck export-c: ${source}, as a user program for the real kernel`,
    `model: ${reference} (for Linux ${release.text}), realistic geometry (4 KiB pages, 512 PTEs per table)`,
    'build: gcc -O1 -pthread prog.c -o prog; run as root: ./prog (it switches THP sizes in sysfs and restores them)',
    'prints, after each step, every mapped page: frame, mapcount, pagemap exclusive bit, THP, folio order, zero page, value',
  ];
}

export interface ExportOptions {
  readonly out?: string;
  readonly release?: string;
  readonly run?: boolean;
}

/** `mmcheck export-c <file>`: write the C program and the model's observables; with --run, build, run and compare. */
export async function exportCommand(file: string, o: ExportOptions, print: Print): Promise<number> {
  const scenario = readAsUsage(() => readScenario(file), ScenarioFileError);
  if (scenario.geometry !== null && scenario.geometry !== 'realistic') {
    throw new UsageError(`'${file}' is in the ${scenario.geometry} geometry; a real kernel has the realistic one (512 PTEs per table): re-run the check with --geometry realistic`);
  }
  const release = parseReleaseOption(o.release);
  const reference = referenceFor(release);
  const entry = KERNELS.find((k) => k.name === reference);
  if (entry === undefined) throw new Error(`reference kernel ${reference} is not registered`);
  // Where the kernel can be asked, the model follows it on the zero page; elsewhere it follows
  // mainline (the shared zero page on a read fault).
  const runnable = whyNotRunnable() === null;
  const kernelZeroPage = runnable ? await kernelMapsZeroPage(interpreterBinary()) : true;
  const program = runInModel(entry.make(), geometry('realistic'), scenario.ops, { kernelZeroPage, modelZeroPage: kernelZeroPage, numaNodes: numaNodesWithMemory() });
  const out = o.out ?? join(dirname(file), `${basename(file).replace(/\.json$/, '')}.c`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, exportedProgram(program.steps, header(release, reference, basename(file))));
  const expected = out.replace(/\.c$/, '') + '.expected';
  writeFileSync(expected, expectedText(program));
  const left = program.steps.filter((s) => s.left !== null).length;
  print(`wrote ${out}: ${program.steps.length} steps (${left} left out: no user-level counterpart)`);
  print(`wrote ${expected}: the model's observables after each step (${reference})`);
  for (const l of programLines(program, null)) print(l);
  if (o.run !== true) return 0;
  if (!runnable) {
    print(`not run on this kernel: ${whyNotRunnable() ?? ''}`);
    return CONFORM_NOT_RUN;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mmcheck-export-'));
  try {
    const bin = join(dir, 'prog');
    compileC(out, bin);
    const d = firstDifference(program.expected, await runBinary(bin, ''));
    if (d === null) {
      print(`AGREES: Linux ${release.text} showed the model's observables at every step`);
      return 0;
    }
    for (const l of differenceLines(d)) print(l);
    print(`DIFFERS: Linux ${release.text} and ${reference} differ at step ${d.step}`);
    return 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ConformCommandOptions {
  readonly runs: number;
  readonly seed: number;
  readonly maxOps: number;
  readonly out: string;
  readonly quiet: boolean;
}

/** `mmcheck conform`: random programs in the model and on this kernel; the first difference shrunk and saved. */
export async function conformCommand(o: ConformCommandOptions, print: Print): Promise<number> {
  const why = whyNotRunnable();
  if (why !== null) {
    print(`conform: not run: ${why}`);
    return CONFORM_NOT_RUN;
  }
  const release = runningRelease();
  const saved = readThpSettings();
  const interrupt = new AbortController();
  const onSignal = (): void => {
    interrupt.abort();
    restoreThpSettings(saved);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = Date.now();
  let outcome: ConformOutcome;
  try {
    const target = await conformTarget(release);
    print(`conform: Linux ${release.text} against ${target.kernelName}, realistic geometry, seed ${o.seed}, ${o.runs} programs of up to ${o.maxOps} ops`);
    print(`THP per-size settings saved (${[...saved.values()].join(' ')}) and restored after; NUMA nodes with memory: ${target.userLevel.numaNodes}; read faults map the zero page: ${target.userLevel.kernelZeroPage ? 'yes' : 'no (a fresh page, as the model)'}`);
    outcome = await runConform(target, {
      runs: o.runs,
      seed: o.seed,
      maxOps: o.maxOps,
      signal: interrupt.signal,
      onProgram: o.quiet ? null : (n) => {
        if (n % 50 === 0) process.stderr.write(`  ${n} programs\n`);
      },
    });
    for (const l of statsLines(outcome.stats)) print(l);
    print(`${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (outcome.failure !== null) {
      for (const l of failureLines(outcome.failure)) print(l);
      const base = join(o.out, `conform-${release.major}.${release.minor}-seed${o.seed}`);
      saveFailure(base, outcome.failure.ops, target.kernelName, release, outcome.failure.comparison.program, failureLines(outcome.failure));
      print(`saved:  ${base}.json (the program), ${base}.c (it as C), ${base}.txt (this report)`);
      print(`re-run: npx mmcheck export-c ${base}.json --run`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const failed = restoreThpSettings(saved);
    if (failed.length > 0) print(`warning: could not restore ${failed.join(', ')}`);
  }
  print(verdictLine(outcome.verdict, release, outcome));
  return CONFORM_EXIT_CODES[outcome.verdict];
}

function verdictLine(v: ConformOutcome['verdict'], r: KernelRelease, outcome: ConformOutcome): string {
  switch (v) {
    case 'AGREES':
      return `AGREES: in ${outcome.stats.programs} programs the model showed what Linux ${r.text} showed at every step`;
    case 'DIFFERS':
      return `DIFFERS: the model and Linux ${r.text} differ (above)`;
    case 'FLAKY':
      return `FLAKY: the kernel did not show the difference again on every re-run (saved)`;
    case 'INTERRUPTED':
      return `INTERRUPTED after ${outcome.stats.programs} programs${outcome.unconfirmedDifference === true ? ' (a program had differed before it, not yet shrunk or re-run: run the same seed again)' : ''}`;
    default:
      return assertNever(v);
  }
}

function saveFailure(base: string, ops: readonly Op[], kernel: string, release: KernelRelease, program: ModelProgram, report: readonly string[]): void {
  mkdirSync(dirname(base), { recursive: true });
  writeFileSync(`${base}.json`, `${JSON.stringify({ format: SCENARIO_FORMAT, kernel, geometry: 'realistic', ops }, null, 1)}\n`);
  writeFileSync(`${base}.c`, exportedProgram(program.steps, header(release, kernel, basename(`${base}.json`))));
  writeFileSync(`${base}.txt`, `${report.join('\n')}\n`);
}
