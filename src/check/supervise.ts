import { Worker } from 'node:worker_threads';
import type { Op } from '../ops/op';
import { HEARTBEAT_SLOTS } from '../run/heartbeat';
import type { CheckReport } from './runCheck';
import type { VariantLines } from '../variants/lineCoverage';
import type { CheckTask, ProgressSnapshot, ReplayTask, WorkerMessage, WorkerTask } from './worker/protocol';
import type { RunOutcome } from '../run/outcome';
import { assertNever } from '../../models/assertNever';

/** How a supervised check ended. */
export type Supervised =
  | { readonly kind: 'done'; readonly report: CheckReport; readonly lines: VariantLines | null }
  | { readonly kind: 'replayed'; readonly outcome: RunOutcome }
  /** An op ran longer than the step budget: the worker was stopped; `ops` is the sequence that hung. */
  | { readonly kind: 'hang'; readonly ops: readonly Op[]; readonly step: number; readonly phase: 'generated' | 'shrinking'; readonly snapshot: ProgressSnapshot | null }
  /** Stopped from outside (Ctrl-C): the progress so far. */
  | { readonly kind: 'interrupted'; readonly snapshot: ProgressSnapshot | null }
  | { readonly kind: 'error'; readonly message: string; readonly stack: string };

export interface SuperviseOptions {
  /** An op that runs longer than this is a hang. */
  readonly stepTimeoutMs: number;
  readonly onProgress?: (s: ProgressSnapshot) => void;
  readonly onFound?: (length: number) => void;
  /** Aborting stops the worker at once and ends with `interrupted`. */
  readonly signal?: AbortSignal;
}

const ENTRY = new URL('./worker/entry.mjs', import.meta.url);
/** How often the watchdog looks at the heartbeat. */
const WATCH_MS = 200;

/**
 * Run a check in a worker thread and watch it: a heartbeat the worker bumps at every op tells
 * the watchdog that ops still end; when one does not end within the step budget the worker is
 * terminated and the sequence it was running — the last one it announced — is the hang's
 * counterexample. The main thread stays free, so an interrupt is answered at once.
 */
export function superviseCheck(task: Omit<CheckTask, 'heartbeat'> | Omit<ReplayTask, 'heartbeat'>, o: SuperviseOptions): Promise<Supervised> {
  const heartbeat = new SharedArrayBuffer(HEARTBEAT_SLOTS * Int32Array.BYTES_PER_ELEMENT);
  const beats = new Int32Array(heartbeat);
  const worker = new Worker(ENTRY, { workerData: { ...task, heartbeat } satisfies WorkerTask });
  let snapshot: ProgressSnapshot | null = null;
  let current: { ops: readonly Op[]; phase: 'generated' | 'shrinking' } | null = null;
  return new Promise<Supervised>((resolve) => {
    let settled = false;
    const finish = (s: Supervised): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      o.signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      resolve(s);
    };
    let lastBeat = beats[0];
    let lastChange = Date.now();
    const watchdog = setInterval(() => {
      const now = Date.now();
      if (beats[0] !== lastBeat) {
        lastBeat = beats[0];
        lastChange = now;
        return;
      }
      // Only an op in flight can hang: loading, generating, shrinking and saving are not measured.
      if (beats[2] !== 1) {
        lastChange = now;
        return;
      }
      if (current === null || now - lastChange < o.stepTimeoutMs) return;
      finish({ kind: 'hang', ops: current.ops, step: beats[1] ?? 0, phase: current.phase, snapshot });
    }, WATCH_MS);
    const onAbort = (): void => finish({ kind: 'interrupted', snapshot });
    if (o.signal?.aborted === true) onAbort();
    o.signal?.addEventListener('abort', onAbort);
    worker.on('message', (msg: WorkerMessage) => {
      switch (msg.type) {
        case 'progress':
          snapshot = msg.snapshot;
          o.onProgress?.(msg.snapshot);
          return;
        case 'sequence':
          current = { ops: msg.ops, phase: msg.phase };
          return;
        case 'found':
          o.onFound?.(msg.length);
          return;
        case 'done':
          finish({ kind: 'done', report: msg.report, lines: msg.lines });
          return;
        case 'replayed':
          finish({ kind: 'replayed', outcome: msg.outcome });
          return;
        case 'error':
          finish({ kind: 'error', message: msg.message, stack: msg.stack });
          return;
        default:
          assertNever(msg);
      }
    });
    worker.on('error', (e: Error) => finish({ kind: 'error', message: e.message, stack: e.stack ?? '' }));
    worker.on('exit', (code) => finish({ kind: 'error', message: `check worker exited with code ${code} before reporting`, stack: '' }));
  });
}
