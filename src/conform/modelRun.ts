import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import { mmNrPages } from '../../models/machine/geometry';
import { createMachine } from '../../models/machine/create';
import type { MmId } from '../../models/machine/ids';
import type { OpResult } from '../../models/result';
import { assertNever } from '../../models/assertNever';
import type { Op } from '../ops/op';
import { formatOp } from '../ops/op';
import { applyOp } from '../ops/apply';
import { resolveOp } from '../ops/resolve';
import type { CCall } from './cCall';
import { beforeOp, toCalls } from './toCalls';
import type { UserLevelMachine } from './userLevel';
import { planOp } from './userLevel';
import { VmaLayout } from './vmaLayout';
import type { StepObservation } from './observation';
import { observeModel } from './observation';

/** One op of a program as it ran in the model, and what the real kernel is to do for it. */
export interface ProgramStep {
  readonly step: number;
  /** The op as written, for comments and reports. */
  readonly text: string;
  /** The C calls; empty for a model no-op or an op left out. */
  readonly calls: readonly CCall[];
  /** Why the op was left out of the program (not applied to the model either), or null. */
  readonly left: string | null;
}

/** A program run in the model: the steps to run for real, and what the model saw after each. */
export interface ModelProgram {
  readonly steps: readonly ProgramStep[];
  readonly expected: readonly StepObservation[];
}

/**
 * Run an op list in the model the way a user program would run on a real kernel: each op is
 * resolved, left out when no system call reproduces it (userLevel.ts), otherwise applied and
 * translated into runtime calls; the model's observables are taken after every op.
 */
export function runInModel(kernel: ReferenceKernel, g: Geometry, ops: readonly Op[], on: UserLevelMachine): ModelProgram {
  const m = createMachine(g, { zeroPage: on.modelZeroPage });
  const layout = new VmaLayout(mmNrPages(g));
  const steps: ProgramStep[] = [];
  const expected: StepObservation[] = [];
  ops.forEach((op, step) => {
    const text = formatOp(op);
    const r = resolveOp(m, op);
    if ('skip' in r) {
      steps.push({ step, text, calls: [], left: null });
      expected.push(observeModel(m, step, []));
      return;
    }
    const plan = planOp(m, layout, r, on);
    if (!plan.run) {
      steps.push({ step, text, calls: [], left: plan.reason });
      expected.push(observeModel(m, step, []));
      return;
    }
    const before = beforeOp(m, r);
    const applied = applyOp(kernel, m, op, step);
    const calls = toCalls(m, r, applied.result, before, applied.value);
    follow(layout, r, applied.result);
    steps.push({ step, text, calls, left: null });
    expected.push(observeModel(m, step, resultLines(r, applied.result)));
  });
  return { steps, expected };
}

/** Keep the VMA layout in step with fork and mremap. */
function follow(layout: VmaLayout, op: Op, r: OpResult): void {
  if (op.kind === 'fork' && r.kind === 'forked') layout.fork(op.mm as MmId, r.child);
  if (op.kind === 'mremap' && r.kind === 'done') layout.moved(op.mm as MmId, op.from, op.to, op.nr);
}

/** What the runtime prints for an op's result (`step S <line>`): loads, faults and GUP outcomes. */
export function resultLines(op: Op, r: OpResult): string[] {
  switch (r.kind) {
    case 'value':
      // a load, a device read through a handle or a pread; stores, device writes and pwrites print nothing
      return (op.kind === 'access' && !op.write) || op.kind === 'gupRead' || op.kind === 'fileRead' ? [`value ${r.value}`] : [];
    case 'segv':
      return ['segv'];
    case 'handle':
      return [`${op.kind === 'gup' && op.pin ? 'pinned' : 'got'} ${r.pages}`];
    case 'gupFailed':
      return ['gupfailed'];
    case 'done':
    case 'noop':
    case 'forked':
    case 'migrated':
    case 'reclaimed':
      return [];
    default:
      return assertNever(r);
  }
}
