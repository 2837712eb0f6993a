import pc from 'picocolors';
import { describeViolation } from '../../models/machine/violation';
import { specFor } from '../../models/specFor';
import type { Violation } from '../../models/machine/violation';
import type { Geometry } from '../../models/machine/geometry';
import type { CheckReport } from '../check/runCheck';
import type { Supervised } from '../check/supervise';
import { superviseJobs } from '../check/superviseJobs';
import { jobsFor } from '../check/jobShare';
import { againstWhom, runsAlone } from '../check/runsAlone';
import type { Exercise, Verdict } from '../check/verdict';
import type { ProgressSnapshot } from '../check/worker/protocol';
import { RARE_PERCENT, reportedProbes } from '../coverage/probes';
import type { Generation } from '../check/generation';
import { describeGeneration } from '../check/generation';
import type { Counterexample } from '../counterexample/file';
import { writeCounterexample } from '../counterexample/file';
import type { Op } from '../ops/op';
import { formatCounterexample } from '../report/litmus';
import { failureLines } from '../report/failureLines';
import type { LoadedKernel } from './loadKernel';
import { stripAnsi } from '../variants/errorLocation';
import type { CommandData, Report } from '../schema/report';
import { REPORT_FORMAT } from '../schema/report';
import { EXIT_CODES, flakyTail, HOLDS_LINE, notExercisedLine, verdictOf } from '../check/verdict';
import type { Progress } from './progress';

export interface CheckCommandOptions {
  readonly kernel: LoadedKernel;
  readonly geometry: Geometry;
  readonly runs: number;
  /** Worker threads sharing the sequences (`--jobs`, src/check/jobShare.ts); 1 is the single-thread check. */
  readonly jobs: number;
  readonly seed: number;
  readonly maxOps: number;
  readonly timeBudgetMs: number | undefined;
  /** An op running longer than this is reported as a hang (step_timeout). */
  readonly stepTimeoutMs: number;
  readonly failureDir: string;
  readonly progress: Progress;
  /** The variant file, whose never-run lines are reported; null for a registered kernel. */
  readonly variantFile: string | null;
  /** Kernel methods the variant defines (overrides and helpers), whose calls are counted. */
  readonly watchMethods: readonly string[];
  /** Aborting it (Ctrl-C) stops the check and prints the summary so far. */
  readonly signal?: AbortSignal;
  /** Generate schedule ops (`--interleave`, docs/concurrency.md); off by default. */
  readonly interleave?: boolean;
  /** How sequences are drawn (`--mode`, `--focus`, `--weights`, the variant's static focus). */
  readonly generation: Generation;
  /** The focus the variant declared (`static focus`), to say where the report's focus came from. */
  readonly declaredFocus: readonly string[];
}

/**
 * `mmcheck check`: random sequences against the kernel (differential against the reference,
 * every oracle on), run in a watched worker thread. Failures are saved as soon as they are found
 * and rewritten as shrinking shortens them, so an interrupted run loses nothing. Returns the
 * verdict (its exit code is EXIT_CODES[verdict]).
 */
export async function checkCommand(o: CheckCommandOptions, printHuman: (s: string) => void): Promise<CheckOutcome> {
  const started = Date.now();
  const lines: string[] = [];
  const print = (s: string): void => {
    lines.push(stripAnsi(s));
    printHuman(s);
  };
  const file = `${o.failureDir}/${o.kernel.name.replace(/[^\w.+-]/g, '_')}-${o.geometry.name}-seed${o.seed}.json`;
  const probe = o.kernel.make();
  const alone = runsAlone(probe);
  const spec = specFor(probe);
  const jobs = jobsFor(o.jobs, o.runs);
  print(pc.bold(`mmcheck check: kernel ${o.kernel.name} ${alone ? 'alone (per-kernel oracles)' : `against the ${againstWhom(spec)}`}, geometry ${o.geometry.name}, seed ${o.seed}${jobs > 1 ? `, ${jobs} jobs` : ''}${o.interleave === true ? ', interleaved' : ''}`));
  print(`  generation ${describeGeneration(o.generation)}${o.declaredFocus.length > 0 ? ` (the variant declares focus ${o.declaredFocus.join(',')})` : ''}`);
  o.progress.start(o.runs);
  const result = await superviseJobs(
    { kind: 'check', kernelSpec: o.kernel.spec, variantFile: o.variantFile, geometry: o.geometry.name, runs: o.runs, seed: o.seed, maxOps: o.maxOps, timeBudgetMs: o.timeBudgetMs ?? null, failureFile: file, watchMethods: o.watchMethods, generation: o.generation, ...(o.interleave === true ? { interleave: true } : {}) },
    {
      stepTimeoutMs: o.stepTimeoutMs,
      onProgress: (s) => o.progress.update(s.sequences),
      onFound: (length) => {
        o.progress.stop();
        print(`failure found (${length} ops), saved to ${file}; shrinking (interrupting keeps the smallest case so far)…`);
      },
      ...(o.signal !== undefined ? { signal: o.signal } : {}),
    },
    jobs,
  );
  o.progress.stop();
  const probes = reportedProbes(probe, false, o.interleave === true);
  switch (result.kind) {
    case 'replayed':
      throw new Error('the check worker answered a check with a replay');
    case 'error':
      throw new Error(`the check's worker failed: ${result.message}${result.stack !== '' ? `\n${result.stack}` : ''}`);
    case 'interrupted': {
      printSummary(result.snapshot, probes, print, '(interrupted)');
      print(pc.yellow(pc.bold('INTERRUPTED')) + ` — the summary covers what ran; ${savedNote(file)}`);
      return checkOutcome(o, { verdict: 'INTERRUPTED', totals: result.snapshot, probes, exercise: null, failure: null, lines, started });
    }
    case 'hang': {
      const verdict = reportHang(o, file, result, probes, print);
      const failure: CheckFailureData = { kernel: o.kernel.name, violation: { code: 'step_timeout', step: result.step, seconds: o.stepTimeoutMs / 1000 }, ops: result.ops.slice(0, result.step + 1), seed: o.seed, path: '', shrunk: false, file };
      return checkOutcome(o, { verdict, totals: result.snapshot, probes, exercise: null, failure, lines, started });
    }
    case 'done': {
      const r = result.report;
      const exercise: Exercise | null = o.variantFile !== null ? { methodCalls: r.methodCalls, unexecutedLines: result.lines?.unexecuted ?? [] } : null;
      const verdict = reportDone(o, file, r, exercise, probes, alone, print);
      const f = r.failure ?? r.flaky;
      const failure: CheckFailureData | null =
        f === null ? null : { kernel: f.outcome.kernel, violation: f.outcome.violation, ops: [...f.ops], seed: f.seed, path: r.failure?.path ?? '', shrunk: r.failure?.fullyShrunk ?? false, file };
      return checkOutcome(o, { verdict, totals: r, probes, exercise, failure, lines, started });
    }
  }
}

function savedNote(file: string): string {
  return `a failing case found so far is in ${file} (if any)`;
}

function reportDone(o: CheckCommandOptions, file: string, report: CheckReport, exercise: Exercise | null, probes: readonly string[], alone: boolean, print: (s: string) => void): Verdict {
  printSummary({ ...report }, probes, print, report.interrupted ? '(time budget reached)' : '');
  if (report.guided !== null) print(`  guided     corpus of ${report.guided.corpus} sequences that reached something new; ${report.guided.mutated} of the ${report.sequences} sequences were mutations of it`);
  if (exercise !== null) printExercise(exercise, o.variantFile ?? '', print);
  const verdict = verdictOf(report, exercise);
  switch (verdict) {
    case 'HOLDS':
      print(pc.green(pc.bold(`  ${HOLDS_LINE}`)));
      return verdict;
    case 'NOT EXERCISED':
      if (report.sequences === 0) {
        print(pc.yellow(pc.bold(`  ${notExercisedLine(0, '')}`)));
        print('  (a longer --time, or a smaller --max-ops, lets sequences finish)');
        return verdict;
      }
      print(pc.yellow(pc.bold(`  ${notExercisedLine(report.sequences, 'part of the variant never ran (above)')}`)));
      print('  (more --runs, or ops that reach the patched path, may exercise it)');
      return verdict;
    case 'FLAKY': {
      const f = report.flaky!;
      saveCase(o, file, { seed: f.seed, path: '', status: 'found', ops: f.ops, violation: f.outcome.violation });
      print('');
      print(pc.red(pc.bold(`FLAKY: ${describeViolation(f.outcome.violation)}`)) + flakyTail(f.outcome.kernel));
      print('  a kernel with state outside the machine (e.g. a static field), or a harness bug: either way the check is not trustworthy');
      for (const line of formatCounterexample(f.ops, f.outcome)) print(`  ${line}`);
      print(`saved:  ${file}`);
      return verdict;
    }
    case 'FAILED':
      printFailure(o, file, report, alone, print);
      return verdict;
    case 'INTERRUPTED':
      return verdict;
  }
}

function printFailure(o: CheckCommandOptions, file: string, report: CheckReport, alone: boolean, print: (s: string) => void): void {
  const f = report.failure!;
  saveCase(o, file, { seed: f.seed, path: f.path, status: f.fullyShrunk ? 'shrunk' : 'found', ops: f.ops, violation: f.outcome.violation });
  print('');
  print(pc.red(pc.bold(`FAILED: ${describeViolation(f.outcome.violation)}`)) + ` (in kernel ${f.outcome.kernel})`);
  for (const line of failureLines(f, o.kernel.make, specFor(o.kernel.make()), o.geometry, alone, pc.yellow)) print(line);
  printReplayHints(file, print);
  const jobs = jobsFor(o.jobs, o.runs);
  // Another job's stream is run by its own fast-check seed: the path replays in that one.
  print(jobs > 1 ? `seed ${o.seed} with --jobs ${jobs} (the failing job's fast-check seed ${f.seed}, path "${f.path}")` : `seed ${f.seed}, fast-check path "${f.path}"`);
}

function reportHang(o: CheckCommandOptions, file: string, h: Extract<Supervised, { kind: 'hang' }>, probes: readonly string[], print: (s: string) => void): Verdict {
  printSummary(h.snapshot, probes, print, '(stopped at the hang)');
  const violation: Violation = { code: 'step_timeout', step: h.step, seconds: o.stepTimeoutMs / 1000 };
  const ops: readonly Op[] = h.ops.slice(0, h.step + 1);
  saveCase(o, file, { seed: o.seed, path: '', status: 'found', ops, violation });
  print('');
  print(pc.red(pc.bold(`FAILED: ${describeViolation(violation)}`)) + ` — op ${h.step} did not finish within ${o.stepTimeoutMs / 1000} s (a kernel method that never returns?); the check was stopped`);
  print(`counterexample: ${ops.length} ops (not shrunk: every shrink attempt could hang as long)${h.phase === 'shrinking' ? ', hit while shrinking an earlier failure' : ''}`);
  ops.forEach((op, i) => print(`  ${i === h.step ? '✗' : ' '} ${String(i).padStart(3)}  ${JSON.stringify(op)}`));
  printReplayHints(file, print);
  return 'FAILED';
}

/** Write the case to the failure file, with the kernel and geometry of this check. */
function saveCase(o: CheckCommandOptions, file: string, c: Pick<Counterexample, 'seed' | 'path' | 'status' | 'ops' | 'violation'>): void {
  writeCounterexample(file, { format: 'mmcheck-counterexample/1', kernel: o.kernel.name, kernelSpec: o.kernel.spec, geometry: o.geometry.name, ...c });
}

function printReplayHints(file: string, print: (s: string) => void): void {
  print('');
  print(`saved:  ${file}`);
  print(`replay: npx mmcheck replay ${file}`);
  print(`explain: npx mmcheck explain ${file}`);
}

function printSummary(r: Omit<ProgressSnapshot, 'elapsedMs'> & { readonly elapsedMs: number } | null, probes: readonly string[], print: (s: string) => void, note: string): void {
  if (r === null) {
    print(`  no sequence finished ${note}`);
    return;
  }
  const secs = r.elapsedMs / 1000;
  print(`  sequences  ${r.sequences}${note !== '' ? ` ${note}` : ''}`);
  print(`  lengths    ${Object.entries(r.lengths).sort(([a], [b]) => parseInt(a) - parseInt(b)).map(([k, v]) => `${k}:${v}`).join('  ')}`);
  print(`  steps      ${r.steps} (${Math.round(r.steps / Math.max(secs, 0.001))} steps/s)`);
  print(`  time       ${secs.toFixed(1)} s`);
  print(`  coverage   sequences that reached each state (✗: never reached, so never checked; rare: under ${RARE_PERCENT}% of the sequences):`);
  const known = new Set(probes);
  const extra = Object.keys(r.coverage).filter((k) => !known.has(k)).sort();
  let rare = 0;
  for (const name of [...probes, ...extra]) {
    const n = r.coverage[name] ?? 0;
    const share = r.sequences > 0 ? (100 * n) / r.sequences : 0;
    const isRare = n > 0 && share < RARE_PERCENT;
    if (isRare) rare++;
    const mark = n === 0 ? pc.yellow('✗') : isRare ? pc.yellow('!') : pc.green('✓');
    print(`    ${mark} ${name.padEnd(58)} ${String(n).padStart(7)} ${share.toFixed(1).padStart(5)}%${isRare ? pc.yellow(' rare') : ''}`);
  }
  const never = [...probes, ...extra].filter((name) => (r.coverage[name] ?? 0) === 0).length;
  print(`  reach      ${never} never reached, ${rare} rare (reached but in under ${RARE_PERCENT}% of the sequences)`);
}

function printExercise(e: Exercise, file: string, print: (s: string) => void): void {
  print('  variant    sequences that called each method it defines (✗: never called, so never checked):');
  for (const [name, n] of Object.entries(e.methodCalls)) print(`    ${n > 0 ? pc.green('✓') : pc.yellow('✗')} ${name.padEnd(58)} ${n}`);
  if (e.unexecutedLines.length > 0) {
    print(`  variant lines that never ran (${e.unexecutedLines.length}):`);
    for (const l of e.unexecutedLines) print(`    ${pc.yellow('✗')} ${file}:${l.line}  ${l.text}`);
  }
}


/** What a check ends with: the verdict (its exit code is EXIT_CODES[verdict]) and the machine-readable report of it. */
export interface CheckOutcome {
  readonly verdict: Verdict;
  readonly report: Extract<Report, { command: 'check' }>;
}

type CheckFailureData = NonNullable<CommandData<'check'>['failure']>;

interface CheckEnd {
  readonly verdict: Verdict;
  readonly totals: Pick<ProgressSnapshot, 'sequences' | 'steps' | 'elapsedMs' | 'coverage'> | null;
  readonly probes: readonly string[];
  readonly exercise: Exercise | null;
  readonly failure: CheckFailureData | null;
  /** Every line the human report printed, without colours: a failing case's details. */
  readonly lines: readonly string[];
  readonly started: number;
}

/** The check as one test case of a `--reporter json|junit|tap` report (src/results/). */
function checkOutcome(o: CheckCommandOptions, e: CheckEnd): CheckOutcome {
  const elapsedMs = Date.now() - e.started;
  const ok = e.verdict === 'HOLDS';
  const message = e.failure !== null ? `${e.verdict}: ${describeViolation(e.failure.violation as Violation)} (in kernel ${e.failure.kernel})` : ok ? null : e.verdict;
  const coverage: Record<string, number> = Object.fromEntries(e.probes.map((p) => [p, 0]));
  Object.assign(coverage, e.totals?.coverage ?? {});
  return {
    verdict: e.verdict,
    report: {
      format: REPORT_FORMAT,
      command: 'check',
      exitCode: EXIT_CODES[e.verdict],
      elapsedMs,
      tests: [{ name: `check ${o.kernel.name} ${o.geometry.name} seed ${o.seed}`, status: ok ? 'pass' : 'fail', message, details: ok ? [] : withoutCoverageRows(e.lines), elapsedMs }],
      data: {
        kernel: o.kernel.name,
        kernelSpec: o.kernel.spec,
        geometry: o.geometry.name,
        seed: o.seed,
        runs: o.runs,
        jobs: jobsFor(o.jobs, o.runs),
        maxOps: o.maxOps,
        interleave: o.interleave === true,
        generation: describeGeneration(o.generation),
        verdict: e.verdict,
        sequences: e.totals?.sequences ?? 0,
        steps: e.totals?.steps ?? 0,
        elapsedMs: e.totals?.elapsedMs ?? 0,
        coverage,
        methodCalls: { ...(e.exercise?.methodCalls ?? {}) },
        unexecutedLines: e.exercise?.unexecutedLines.map((l) => ({ line: l.line, text: l.text })) ?? [],
        failure: e.failure,
      },
    },
  };
}

/** A failing case's details without the per-probe coverage rows (they are in the report's data); the reach line stays. */
function withoutCoverageRows(lines: readonly string[]): string[] {
  const from = lines.findIndex((l) => l.startsWith('  coverage '));
  const to = lines.findIndex((l) => l.startsWith('  reach '));
  return from < 0 || to < from ? [...lines] : [...lines.slice(0, from), ...lines.slice(to)];
}
