import type { Op } from '../../ops/op';
import type { RunOutcome } from '../../run/outcome';
import type { CheckReport } from '../runCheck';
import type { Generation } from '../generation';
import type { VariantLines } from '../../variants/lineCoverage';

/** What a worker is asked to do, as plain data (workerData): a random check, or one sequence. */
export type WorkerTask = CheckTask | ReplayTask;

/** Run one given sequence (replay of a saved case), under the same watchdog as a check. */
export interface ReplayTask {
  readonly kind: 'replay';
  readonly kernelSpec: string;
  readonly geometry: string;
  readonly ops: readonly Op[];
  readonly heartbeat: SharedArrayBuffer;
}

/** A random check of a kernel. */
export interface CheckTask {
  readonly kind: 'check';
  /** A registered kernel's name or a variant file's absolute path (loadKernel's input). */
  readonly kernelSpec: string;
  readonly geometry: string;
  readonly runs: number;
  readonly seed: number;
  readonly maxOps: number;
  readonly timeBudgetMs: number | null;
  /** Where the failing case is written as soon as it is found, and rewritten as it shrinks. */
  readonly failureFile: string;
  /** Kernel methods whose calls are counted (a variant's own methods); empty for registered kernels. */
  readonly watchMethods: readonly string[];
  /** A variant file whose never-run lines the worker reports (V8 coverage); null for a registered kernel. */
  readonly variantFile: string | null;
  /** Generate schedule ops (docs/concurrency.md); absent means off. */
  readonly interleave?: boolean;
  /** How sequences are drawn (mode, focus, weights). */
  readonly generation: Generation;
  /** Shared with the supervisor: the worker's heartbeat (src/run/heartbeat.ts). */
  readonly heartbeat: SharedArrayBuffer;
  /** One job of a check split over threads (`--jobs`, src/check/jobShare.ts); absent for a single job. */
  readonly share?: { readonly job: number; readonly jobs: number; readonly first: SharedArrayBuffer };
}

/** How far a check has got: enough for the summary printed when it is interrupted. */
export interface ProgressSnapshot {
  readonly sequences: number;
  readonly steps: number;
  readonly elapsedMs: number;
  readonly coverage: Readonly<Record<string, number>>;
  readonly lengths: Readonly<Record<string, number>>;
}

/** Messages from the worker to the supervising thread. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly snapshot: ProgressSnapshot }
  /** The sequence about to run, so a watchdog that stops a hung worker knows what hung. */
  | { readonly type: 'sequence'; readonly ops: readonly Op[]; readonly phase: 'generated' | 'shrinking' }
  /** The first failure was found and saved; shrinking starts. */
  | { readonly type: 'found'; readonly length: number }
  | { readonly type: 'done'; readonly report: CheckReport; readonly lines: VariantLines | null }
  /** A replayed sequence's outcome. */
  | { readonly type: 'replayed'; readonly outcome: RunOutcome }
  | { readonly type: 'error'; readonly message: string; readonly stack: string };
