import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { geometry } from '../models/machine/geometry';
import { runCheck } from '../src/check/runCheck';
import type { CheckReport } from '../src/check/runCheck';
import { jobRuns, jobSeed, mayRun, newFailureCell, publishFailure } from '../src/check/jobShare';
import { mergeReports } from '../src/check/superviseJobs';
import { main } from '../src/cli/main';
import ZapWithoutFlush from './fixtures/variants/zapWithoutFlush';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { captureOutput } from './__helpers__/captureOutput';

const out = captureOutput();

/** --jobs N (src/check/jobShare.ts): the sequences split over threads, the smallest failure key wins. */
describe('a check split over jobs', () => {
  it('shares the runs exactly, job 0 keeps the seed, and the smallest published failure key wins', () => {
    expect([0, 1, 2].map((j) => jobRuns(10, j, 3))).toEqual([4, 3, 3]);
    expect(jobSeed(42, 0)).toBe(42);
    expect(new Set([0, 1, 2, 3].map((j) => jobSeed(42, j))).size).toBe(4);
    const first = new Int32Array(newFailureCell());
    const job1 = { job: 1, jobs: 2, first };
    const job0 = { job: 0, jobs: 2, first };
    publishFailure(job1, 5); // key 11
    expect(mayRun(job0, 5)).toBe(true); // key 10 < 11: it could still decide the verdict
    expect(mayRun(job0, 6)).toBe(false);
    publishFailure(job0, 2); // key 4
    publishFailure(job1, 3); // key 7: larger, ignored
    expect(first[0]).toBe(4);
  });

  it('reports the failure with the smallest key, whichever job found it, with the sequences up to it', () => {
    const fail = (kernel: () => ZapWithoutFlush | BatchedKernel, seed: number, runs: number): CheckReport => runCheck({ kernel, geometry: geometry('small'), runs, seed, maxOps: 60 });
    const a = fail(() => new BatchedKernel(), 5, 20); // holds
    const b = fail(() => new ZapWithoutFlush(), 3, 300); // fails at some sequence
    expect(b.failure).not.toBeNull();
    const merged = mergeReports(9, [a, b]);
    expect(merged.failure).toBe(b.failure);
    expect(merged.seed).toBe(9);
    expect(merged.sequences).toBe((b.sequences - 1) * 2 + 1 + 1);
    const both = mergeReports(9, [b, b]);
    expect(both.sequences).toBe((b.sequences - 1) * 2 + 1); // job 0's key is the smaller
    expect(mergeReports(9, [a, a]).steps).toBe(2 * a.steps);
  });

  it('the same seed and --jobs 2 give the same counterexample, run after run', async () => {
    const variant = join(import.meta.dirname, 'fixtures', 'variants', 'zapWithoutFlush.ts');
    const saved = async (): Promise<string> => {
      const dir = mkdtempSync(join(tmpdir(), 'mmcheck-jobs-'));
      expect(await main(['check', '--kernel', variant, '--runs', '300', '--seed', '3', '--jobs', '2', '--quiet', '--no-typecheck', '--failures', dir])).toBe(1);
      return readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8');
    };
    const first = await saved();
    expect(await saved()).toBe(first);
    expect(out.out).toContain('seed 3, 2 jobs');
  });

  it('--jobs takes a positive whole number: one line, exit 2', async () => {
    expect(await main(['check', '--jobs', '0', '--quiet'])).toBe(2);
    expect(out.out + out.err).toContain('--jobs takes a positive whole number');
  });
});
