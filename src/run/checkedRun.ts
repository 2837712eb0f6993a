import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import type { Machine } from '../../models/machine/state';
import type { MachineOptions } from '../../models/machine/create';
import { createMachine } from '../../models/machine/create';
import type { Violation } from '../../models/machine/violation';
import { ModelViolationError } from '../../models/machine/violation';
import { auditLedger } from '../oracles/ledger';
import { UserMemory } from '../oracles/userMemory';
import type { Applied } from '../ops/apply';
import { applyOp } from '../ops/apply';
import type { Op } from '../ops/op';
import { resolveOp } from '../ops/resolve';
import { beat, beatEnd } from './heartbeat';

/** Which per-kernel oracles run after every op (hazards are always on: the machine raises them). */
export interface OracleSwitches {
  readonly ledger: boolean;
  readonly memory: boolean;
}

export const ALL_ORACLES: OracleSwitches = { ledger: true, memory: true };

/** Watches the steps of a run (coverage probes); never changes anything. */
export interface StepObserver {
  before(m: Machine, op: Op | null): void;
  after(m: Machine, applied: Applied): void;
}

/**
 * One kernel on one machine, stepping through ops with the per-kernel oracles: hazards (raised
 * by the machine during the op), then the ledger audit and the user-visible memory check.
 */
export class CheckedRun {
  readonly machine: Machine;
  private readonly memory = new UserMemory();

  constructor(
    readonly kernel: ReferenceKernel,
    geometry: Geometry,
    private readonly oracles: OracleSwitches = ALL_ORACLES,
    private readonly observer: StepObserver | null = null,
    machineOptions: MachineOptions = {},
  ) {
    this.machine = createMachine(geometry, machineOptions);
  }

  /** Apply op number `step`; returns what it did, or the violation it caused. */
  step(op: Op, step: number): { applied: Applied } | { violation: Violation; applied: Applied | null; resolved: Op | null } {
    let applied: Applied | null = null;
    beat(step);
    // Resolved before the op runs, so a trace can name the failing op's targets even when it threw.
    const r = resolveOp(this.machine, op);
    const resolved = 'skip' in r ? null : r;
    try {
      this.observer?.before(this.machine, resolved);
      applied = applyOp(this.kernel, this.machine, op, step);
      this.observer?.after(this.machine, applied);
      if (this.oracles.ledger) auditLedger(this.machine, step);
      if (this.oracles.memory) this.memory.check(this.machine, applied, step);
      return { applied };
    } catch (e) {
      return { violation: toViolation(e, step), applied, resolved };
    } finally {
      beatEnd();
    }
  }
}

/** A finding, or any other exception a kernel raised (reported as model_crash). */
export function toViolation(e: unknown, step: number): Violation {
  if (e instanceof ModelViolationError) return e.violation;
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'model_crash', step, message };
}

/** The op list as run: the generated ops, then a drain unless the list already ends with one. */
export function withDrain(ops: readonly Op[]): readonly Op[] {
  return ops.length > 0 && ops[ops.length - 1]?.kind === 'drain' ? ops : [...ops, { kind: 'drain' }];
}
