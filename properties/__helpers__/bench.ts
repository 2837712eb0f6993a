import type { Geometry } from '../../models/machine/geometry';
import { geometry } from '../../models/machine/geometry';
import type { MachineOptions } from '../../models/machine/create';
import { createMachine } from '../../models/machine/create';
import type { Folio, Frame, Machine } from '../../models/machine/state';
import type { PresentPte } from '../../models/machine/pte';
import type { Pfn, Vpn } from '../../models/machine/ids';
import { mmId, vpn as asVpn } from '../../models/machine/ids';
import type { Violation } from '../../models/machine/violation';
import { ModelViolationError } from '../../models/machine/violation';
import { pteAt } from '../../models/machine/pgtable';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { auditLedger } from '../../src/oracles/ledger';
import type { Applied } from '../../src/ops/apply';
import { applyOp } from '../../src/ops/apply';
import type { Op } from '../../src/ops/op';
import type { RunOutcome } from '../../src/run/outcome';
import { CheckedRun } from '../../src/run/checkedRun';

export const SMALL: Geometry = geometry('small');

/**
 * One kernel on a fresh machine, stepping through ops with `applyOp` and, optionally, the ledger
 * audit after each: the hand-built half of a broken-step example. The test can then break the
 * machine directly (as a buggy kernel would have) and call a check itself.
 */
export class Bench {
  readonly m: Machine;
  /** Index the next op gets (its store value is step + 1). */
  step = 0;

  constructor(
    readonly kernel: ReferenceKernel = new ReferenceKernel(),
    readonly audit: boolean = false,
    g: Geometry = SMALL,
    options: MachineOptions = {},
  ) {
    this.m = createMachine(g, options);
  }

  apply(o: Op): Applied {
    const a = applyOp(this.kernel, this.m, o, this.step);
    if (this.audit) auditLedger(this.m, this.step);
    this.step++;
    return a;
  }

  run(ops: readonly Op[]): Applied[] {
    return ops.map((o) => this.apply(o));
  }

  /** The present PTE of (live-mm index `mm`, vpn); throws if there is none. */
  pte(mm: number, v: number): PresentPte {
    const live = this.m.mms.filter((x) => x.alive);
    const id = live[mm]?.id ?? mmId(-1);
    const p = pteAt(this.m, id, asVpn(v));
    if (p === null || p.kind !== 'present') throw new Error(`no present PTE at mm#${mm} vpn ${v}`);
    return p;
  }

  frame(p: Pfn): Frame {
    const f = this.m.frames[p];
    if (f === undefined) throw new Error(`no frame ${p}`);
    return f;
  }

  /** The folio fields of the folio containing `p`. */
  folio(p: Pfn): Folio {
    const f = this.frame(this.frame(p).head).folio;
    if (f === null) throw new Error(`frame ${p} is not in a folio`);
    return f;
  }
}

/** Run `fn`; the finding it raised, or null if it raised none. Any other exception propagates. */
export function catchViolation(fn: () => unknown): Violation | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof ModelViolationError) return e.violation;
    throw e;
  }
}

/** JSON with Maps as sorted-by-insertion entry arrays, so a whole machine can be compared byte for byte. */
export function toJson(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (v instanceof Map ? { map: [...v.entries()] } : v));
}

export const vpnOf = (n: number): Vpn => asVpn(n);

/** The violation a run ended with, or null if every oracle held. */
export function violationOf(o: RunOutcome): Violation | null {
  return o.ok ? null : o.violation;
}

/** The first violation `kernel` alone raises on `ops` (every per-kernel oracle on, no final drain), or null. */
export function firstViolation(kernel: ReferenceKernel, ops: readonly Op[]): Violation | null {
  const run = new CheckedRun(kernel, SMALL);
  for (const [i, o] of ops.entries()) {
    const r = run.step(o, i);
    if ('violation' in r) return r.violation;
  }
  return null;
}
