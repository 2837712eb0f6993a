import sumBy from 'lodash/sumBy.js';
import mergeWith from 'lodash/mergeWith.js';
import minBy from 'lodash/minBy.js';
import type { CheckReport } from './runCheck';
import type { Supervised, SuperviseOptions } from './supervise';
import { superviseCheck } from './supervise';
import type { CheckTask, ProgressSnapshot } from './worker/protocol';
import type { VariantLines } from '../variants/lineCoverage';
import { failureKey, jobRuns, jobSeed, jobsFor, newFailureCell } from './jobShare';

/**
 * A check split over `jobs` watched worker threads (`--jobs`, jobShare.ts): one job is
 * superviseCheck() itself; with more, each runs its share of the sequences from its own seed,
 * and the reports are merged — the failure (or flaky failure) with the smallest key wins, so the
 * verdict and the counterexample do not depend on thread timing. The progress reported is the
 * jobs' sum. A hang or an error in one job stops the others and is the result; an interrupt stops
 * them all and reports the sum of what ran.
 */
export async function superviseJobs(task: Omit<CheckTask, 'heartbeat' | 'share'>, o: SuperviseOptions, jobs: number): Promise<Supervised> {
  const n = jobsFor(jobs, task.runs);
  if (n === 1) return superviseCheck(task, o);
  const first = newFailureCell();
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  o.signal?.addEventListener('abort', onAbort);
  if (o.signal?.aborted === true) stop.abort();
  const snapshots: Array<ProgressSnapshot | null> = Array.from({ length: n }, () => null);
  let found = false;
  const results = await Promise.all(
    Array.from({ length: n }, async (_, job) => {
      const r = await superviseCheck(
        { ...task, seed: jobSeed(task.seed, job), runs: jobRuns(task.runs, job, n), share: { job, jobs: n, first } },
        {
          stepTimeoutMs: o.stepTimeoutMs,
          signal: stop.signal,
          onProgress: (s) => {
            snapshots[job] = s;
            o.onProgress?.(sumSnapshots(snapshots)!);
          },
          onFound: (length) => {
            if (found) return;
            found = true;
            o.onFound?.(length);
          },
        },
      );
      // A hang or an error decides the check: the other jobs are stopped.
      if (r.kind === 'hang' || r.kind === 'error') stop.abort();
      return r;
    }),
  );
  o.signal?.removeEventListener('abort', onAbort);
  const decisive = results.find((r) => r.kind === 'hang') ?? results.find((r) => r.kind === 'error');
  if (decisive !== undefined) return decisive;
  if (results.some((r) => r.kind === 'interrupted')) return { kind: 'interrupted', snapshot: sumSnapshots(results.map((r, job) => (r.kind === 'interrupted' ? r.snapshot : r.kind === 'done' ? snapshotOf(r.report) : snapshots[job] ?? null))) };
  const done = results.flatMap((r) => (r.kind === 'done' ? [r] : []));
  if (done.length !== n) return { kind: 'error', message: 'a check job answered with a replay', stack: '' };
  return { kind: 'done', report: mergeReports(task.seed, done.map((r) => r.report)), lines: mergeLines(done.map((r) => r.lines)) };
}

/** The jobs' reports as one: the failure with the smallest key (jobShare.ts), the totals summed. */
export function mergeReports(seed: number, reports: readonly CheckReport[]): CheckReport {
  const jobs = reports.length;
  // A job stops generating at its first failure: it was its last generated sequence.
  const failed = reports.flatMap((r, job) => (r.failure !== null || r.flaky !== null ? [{ key: failureKey({ job, jobs }, r.sequences - 1), report: r }] : []));
  const w = minBy(failed, (f) => f.key) ?? null;
  const sum = (f: (r: CheckReport) => Readonly<Record<string, number>>): Record<string, number> => addCounts(reports.map(f));
  const base = reports[0]!;
  const guided = reports.every((r) => r.guided === null) ? null : { corpus: sumBy(reports, (r) => r.guided?.corpus ?? 0), mutated: sumBy(reports, (r) => r.guided?.mutated ?? 0) };
  return {
    ...base,
    seed,
    // With a failure: the sequences up to it in key order (the same for every run of the check).
    sequences: w !== null ? w.key + 1 : sumBy(reports, (r) => r.sequences),
    steps: sumBy(reports, (r) => r.steps),
    elapsedMs: Math.max(...reports.map((r) => r.elapsedMs)),
    coverage: sum((r) => r.coverage),
    lengths: sum((r) => r.lengths),
    interrupted: reports.some((r) => r.interrupted),
    failure: w?.report.failure ?? null,
    flaky: w?.report.flaky ?? null,
    methodCalls: sum((r) => r.methodCalls),
    guided,
  };
}

/** A variant line ran if it ran in any job. */
function mergeLines(lines: ReadonlyArray<VariantLines | null>): VariantLines | null {
  const known = lines.filter((l): l is VariantLines => l !== null);
  const base = known[0];
  if (base === undefined) return null;
  const unexecuted = base.unexecuted.filter((u) => known.every((l) => l.unexecuted.some((v) => v.line === u.line)));
  return { ...base, unexecuted };
}

/** Counts by name, added up over the jobs. */
function addCounts(records: ReadonlyArray<Readonly<Record<string, number>>>): Record<string, number> {
  return mergeWith({}, ...records, (a: number | undefined, b: number) => (a ?? 0) + b);
}

function snapshotOf(r: CheckReport): ProgressSnapshot {
  return { sequences: r.sequences, steps: r.steps, elapsedMs: r.elapsedMs, coverage: r.coverage, lengths: r.lengths };
}

function sumSnapshots(list: ReadonlyArray<ProgressSnapshot | null>): ProgressSnapshot | null {
  const known = list.filter((s): s is ProgressSnapshot => s !== null);
  if (known.length === 0) return null;
  const add = (f: (s: ProgressSnapshot) => Readonly<Record<string, number>>): Record<string, number> => addCounts(known.map(f));
  return {
    sequences: known.reduce((a, s) => a + s.sequences, 0),
    steps: known.reduce((a, s) => a + s.steps, 0),
    elapsedMs: Math.max(...known.map((s) => s.elapsedMs)),
    coverage: add((s) => s.coverage),
    lengths: add((s) => s.lengths),
  };
}
