import { geometry } from '../../models/machine/geometry';
import type { CpuId, MmId, Vpn } from '../../models/machine/ids';
import type { Op } from '../../src/ops/op';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { CheckedRun } from '../../src/run/checkedRun';
import type { TaskNote } from '../../src/run/tasks';

/**
 * Shared vocabulary of the preemptible-task tests (issue 11): the small geometry (16 PTEs per
 * table, so page 21 is in the second table), the hot page, and op constructors on mm 0.
 */
export const G = geometry('small');
export const HOT = 21;
export const mm0 = 0 as MmId;
export const v = (x: number): Vpn => x as Vpn;
export const cpu = (x: number): CpuId => x as CpuId;

export const map = (vpn: number): Op => ({ kind: 'map', mm: 0, vpn, order: 0, pmd: false, first: 0, count: 1 });
export const store = (c: number, vpn = HOT, mm = 0): Op => ({ kind: 'access', cpu: c, mm, vpn, write: true });
export const load = (c: number, vpn = HOT, mm = 0): Op => ({ kind: 'access', cpu: c, mm, vpn, write: false });
export const zap = (vpn = HOT, nr = 1): Op => ({ kind: 'zap', mm: 0, vpn, nr });
export const migrate = (vpn = HOT, count = 1): Op => ({ kind: 'migrate', mm: 0, vpn, count });
export const preempt = (c: number, at: number): Op => ({ kind: 'preempt', cpu: c, at });
export const resume = (c: number, points = 1): Op => ({ kind: 'resume', cpu: c, points });

/**
 * Run `ops` on `kernel` with every oracle on (small geometry): the first violation as
 * 'step:code' (null if none), the run, what each op returned (a value, or null), and what the
 * tasks did at each step (their notes; empty when none ran).
 */
export function runAll(kernel: ReferenceKernel, ops: readonly Op[]): { bad: string | null; run: CheckedRun; values: Array<number | null>; notes: Array<readonly TaskNote[]> } {
  const run = new CheckedRun(kernel, G);
  const values: Array<number | null> = [];
  const notes: Array<readonly TaskNote[]> = [];
  for (let i = 0; i < ops.length; i++) {
    const r = run.step(ops[i]!, i);
    if ('violation' in r) return { bad: `${i}:${r.violation.code}`, run, values, notes };
    values.push(r.applied.result.kind === 'value' ? r.applied.result.value : null);
    notes.push(r.applied.tasks ?? []);
  }
  return { bad: null, run, values, notes };
}
