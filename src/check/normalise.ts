import type { Geometry } from '../../models/machine/geometry';
import type { MachineOptions } from '../../models/machine/create';
import type { Machine } from '../../models/machine/state';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { liveMms } from '../../models/machine/pgtable';
import type { Op } from '../ops/op';
import { resolveOp } from '../ops/resolve';
import { CheckedRun } from '../run/checkedRun';

export interface NormaliseSetup {
  readonly kernel: () => ReferenceKernel;
  readonly geometry: Geometry;
  readonly machine?: MachineOptions;
}

/**
 * `ops` written as they resolve: each target in range (`mm` and `handle` the index among the live
 * ones the op resolved to, `cpu`, `vpn`, `pmd` wrapped, counts clamped), so a shrunk
 * counterexample reads `exit mm#1`, not the `exit mm#-1` or `store mm#3` the generator drew and
 * shrinking left behind. Every rewritten op resolves to exactly what the given one resolved to in
 * the same state, so the run is the same step for step. Worked out on the kernel under test alone
 * (resolution reads only what every kernel agrees on: live mms and handles); ops from the first
 * violation on stay as given.
 */
export function normalise(setup: NormaliseSetup, ops: readonly Op[]): readonly Op[] {
  const run = new CheckedRun(setup.kernel(), setup.geometry, { ledger: false, memory: false }, null, setup.machine ?? {});
  const out: Op[] = [];
  for (let i = 0; i < ops.length; i++) {
    const op = inRange(run.machine, ops[i]!);
    out.push(op);
    if ('violation' in run.step(op, i)) return [...out, ...ops.slice(i + 1)];
  }
  return out;
}

/** `op` resolved in `m`, with its mm and handle ids turned back into live indexes; as given if it does not resolve. */
function inRange(m: Machine, op: Op): Op {
  const r = resolveOp(m, op);
  if ('skip' in r) return op;
  if ('mm' in r) {
    const i = liveMms(m).findIndex((x) => x.id === r.mm);
    return i < 0 ? op : { ...r, mm: i };
  }
  if ('handle' in r) {
    const i = m.handles.findIndex((h) => h.id === r.handle);
    return i < 0 ? op : { ...r, handle: i };
  }
  return r;
}
