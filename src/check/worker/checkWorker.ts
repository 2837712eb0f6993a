import { parentPort, workerData } from 'node:worker_threads';
import { geometry } from '../../../models/machine/geometry';
import { loadKernel } from '../../cli/loadKernel';
import { writeCounterexample } from '../../counterexample/file';
import type { Op } from '../../ops/op';
import { useHeartbeat } from '../../run/heartbeat';
import type { RunOutcome } from '../../run/outcome';
import { runCheck, runOne } from '../runCheck';
import { startLineCoverage } from '../../variants/lineCoverage';
import type { JobShare } from '../jobShare';
import { failureKey } from '../jobShare';
import type { CheckTask, ProgressSnapshot, ReplayTask, WorkerMessage, WorkerTask } from './protocol';

/**
 * The body of a check's worker thread: load the kernel, run the check, save the failing case as
 * it is found and shrunk, and report progress, the sequence about to run and the final report to
 * the supervisor. Running here rather than on the main thread is what lets the supervisor stop a
 * kernel that loops forever and answer Ctrl-C with the summary so far.
 */
async function check(task: CheckTask, send: (msg: WorkerMessage) => void): Promise<WorkerMessage> {
  useHeartbeat(new Int32Array(task.heartbeat));
  // Coverage starts before the variant is imported, so every line of it is counted from its first run.
  const coverage = task.variantFile !== null ? await startLineCoverage() : null;
  const kernel = await loadKernel(task.kernelSpec, { typecheck: false }); // the supervisor's thread did
  const g = geometry(task.geometry);
  const started = Date.now();
  let savedLength = Number.POSITIVE_INFINITY;
  let lastProgress = 0;
  const share: JobShare | undefined = task.share !== undefined ? { job: task.share.job, jobs: task.share.jobs, first: new Int32Array(task.share.first) } : undefined;
  // Generated sequences run so far: the last one is the failing one when a failure is found.
  let done = 0;
  // With several jobs only the one holding the smallest failure (jobShare.ts) writes the shared file.
  const holdsFirst = (): boolean => share === undefined || Atomics.load(share.first, 0) === failureKey(share, done - 1);
  const save = (ops: readonly Op[], outcome: RunOutcome): void => {
    if (outcome.ok || ops.length >= savedLength || !holdsFirst()) return;
    writeCounterexample(task.failureFile, { format: 'mmcheck-counterexample/1', kernel: kernel.name, kernelSpec: kernel.spec, geometry: g.name, seed: task.seed, path: '', status: 'found', ops, violation: outcome.violation });
    savedLength = ops.length;
  };
  const report = runCheck({
    kernel: kernel.make,
    geometry: g,
    runs: task.runs,
    seed: task.seed,
    maxOps: task.maxOps,
    ...(task.timeBudgetMs !== null ? { timeBudgetMs: task.timeBudgetMs } : {}),
    watchMethods: task.watchMethods,
    ...(task.interleave === true ? { interleave: true } : {}),
    generation: task.generation,
    ...(share !== undefined ? { share } : {}),
    onSequence: (ops, phase) => send({ type: 'sequence', ops, phase }),
    onProgress: (sequences, soFar) => {
      done = sequences;
      // At most every 100 ms (and at the last sequence): the totals are cloned at each message.
      const now = Date.now();
      if (now - lastProgress < 100 && done < task.runs) return;
      lastProgress = now;
      const snapshot: ProgressSnapshot = { sequences: done, steps: soFar.steps, coverage: soFar.coverage, lengths: soFar.lengths, elapsedMs: now - started };
      send({ type: 'progress', snapshot });
    },
    onFailure: (ops, outcome, phase) => {
      // Saved before it is announced: an interrupt right after the message must find the file.
      save(ops, outcome);
      if (phase === 'found' && holdsFirst()) send({ type: 'found', length: ops.length });
    },
  });
  const lines = coverage !== null && task.variantFile !== null ? await coverage.take(task.variantFile) : null;
  await coverage?.stop();
  return { type: 'done', report, lines };
}

/** Replay one sequence; the watchdog sees its ops through the heartbeat like a check's. */
async function replay(task: ReplayTask, send: (msg: WorkerMessage) => void): Promise<WorkerMessage> {
  useHeartbeat(new Int32Array(task.heartbeat));
  const kernel = await loadKernel(task.kernelSpec, { typecheck: false }); // the supervisor's thread did
  send({ type: 'sequence', ops: task.ops, phase: 'generated' });
  return { type: 'replayed', outcome: runOne({ kernel: kernel.make, geometry: geometry(task.geometry) }, task.ops) };
}

async function run(task: WorkerTask): Promise<WorkerMessage> {
  const port = parentPort;
  if (port === null) throw new Error('checkWorker runs only as a worker thread');
  const send = (msg: WorkerMessage): void => port.postMessage(msg);
  switch (task.kind) {
    case 'check':
      return check(task, send);
    case 'replay':
      return replay(task, send);
  }
}

const port = parentPort;
if (port !== null) {
  run(workerData as WorkerTask).then(
    (msg) => port.postMessage(msg),
    (e: unknown) => port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? (e.stack ?? '') : '' } satisfies WorkerMessage),
  );
}
