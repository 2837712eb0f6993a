/**
 * A check split over `jobs` worker threads (`--jobs N`). Job k runs its own fast-check stream:
 * job 0 with the check's seed (so `--jobs 1` is the check as it always was), job k with a seed
 * derived from it, each over its share of the runs. The jobs' sequences are ordered by a key —
 * job k's i-th generated sequence has key `i * jobs + k` — and the check reports the failure with
 * the smallest key. Which one that is does not depend on how fast the threads run: a job that
 * fails publishes its key (the smallest wins), and every job still runs each sequence whose key is
 * smaller than the smallest published, so every smaller key is run before the check ends. A job
 * skips sequences with larger keys: they cannot change the verdict. The failing job shrinks its own
 * failure; the same seed and jobs give the same verdict and the same counterexample.
 */
export interface JobShare {
  readonly job: number;
  readonly jobs: number;
  /** Element 0: the smallest failure key published so far (NO_FAILURE when none); shared by the jobs. */
  readonly first: Int32Array;
}

export const NO_FAILURE = 0x7fffffff;

/** A fresh shared cell for the smallest failure key. */
export function newFailureCell(): SharedArrayBuffer {
  const buf = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  new Int32Array(buf)[0] = NO_FAILURE;
  return buf;
}

/** The jobs a check of `runs` sequences uses when asked for `jobs`: at least one, never more than the sequences. */
export function jobsFor(jobs: number, runs: number): number {
  return Math.max(1, Math.min(jobs, runs));
}

/** The fast-check seed of job `job`: the check's own for job 0, a 32-bit mix of both for the others. */
export function jobSeed(seed: number, job: number): number {
  if (job === 0) return seed;
  // Any fixed mixing works; this one (the 32-bit golden-ratio step, then an odd multiply) keeps
  // nearby seeds and jobs far apart.
  return Math.imul((seed + Math.imul(job, 0x9e3779b9)) | 0, 0x85ebca6b) | 0;
}

/** Job `job`'s share of `runs` sequences: the first `runs % jobs` jobs run one more. */
export function jobRuns(runs: number, job: number, jobs: number): number {
  return Math.floor(runs / jobs) + (job < runs % jobs ? 1 : 0);
}

/** The key of a job's `index`-th generated sequence (0-based). */
export function failureKey(share: Pick<JobShare, 'job' | 'jobs'>, index: number): number {
  return index * share.jobs + share.job;
}

/** Whether a job still needs to run its `index`-th sequence: only keys below the smallest published failure can change the verdict. */
export function mayRun(share: JobShare, index: number): boolean {
  return failureKey(share, index) < Atomics.load(share.first, 0);
}

/** Publish that this job's `index`-th sequence failed (the smallest key wins). */
export function publishFailure(share: JobShare, index: number): void {
  const key = failureKey(share, index);
  for (;;) {
    const now = Atomics.load(share.first, 0);
    if (key >= now || Atomics.compareExchange(share.first, 0, now, key) === now) return;
  }
}
