import type { Geometry } from '../../models/machine/geometry';
import type { Op } from '../ops/op';
import type { RunOutcome } from '../run/outcome';
import { withDrain } from '../run/checkedRun';
import { superviseCheck } from './supervise';

/**
 * Run one saved sequence in a watched worker, so that replaying a hang reports the hang again
 * (step_timeout) instead of hanging the terminal. The kernel is loaded in the worker from its
 * spec (a registered name or a variant file).
 */
export async function replayBounded(kernelSpec: string, kernelName: string, geometry: Geometry, ops: readonly Op[], stepTimeoutMs: number): Promise<RunOutcome> {
  const r = await superviseCheck({ kind: 'replay', kernelSpec, geometry: geometry.name, ops }, { stepTimeoutMs });
  switch (r.kind) {
    case 'replayed':
      return r.outcome;
    case 'hang':
      return { ok: false, steps: [], kernel: kernelName, failingOp: withDrain(ops)[r.step] ?? null, violation: { code: 'step_timeout', step: r.step, seconds: stepTimeoutMs / 1000 } };
    case 'error':
      throw new Error(`the replay worker failed: ${r.message}${r.stack !== '' ? `\n${r.stack}` : ''}`);
    case 'done':
    case 'interrupted':
      throw new Error(`the replay worker ended with '${r.kind}'`);
  }
}
