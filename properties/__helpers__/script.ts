import { handleId, mmId } from '../../models/machine/ids';
import type { OpResult } from '../../models/result';
import { storeValue } from '../../src/ops/apply';
import type { Op } from '../../src/ops/op';
import type { GupOpts } from './ops';
import { op } from './ops';

/** What one op of a scenario must return, and why (printed when it does not). */
export interface Expectation {
  readonly step: number;
  readonly result: OpResult;
  readonly why: string;
}

/**
 * A fixed scenario under construction: the ops, and what each interesting op must return. A store
 * at step i stores i + 1 (storeValue), so the builder knows every value without running anything.
 * Mm targets are live-mm indexes (id order); the builder tracks the ids fork hands out so it
 * can expect the exact `forked` result.
 */
export class Script {
  readonly ops: Op[] = [];
  readonly expectations: Expectation[] = [];
  private nextMmId = 1;
  private nextHandleId = 0;

  private add(o: Op, result: OpResult | null, why: string): number {
    this.ops.push(o);
    const step = this.ops.length - 1;
    if (result !== null) this.expectations.push({ step, result, why });
    return step;
  }

  /** Any op whose result is not interesting beyond "it did not fail". */
  do(o: Op, result: OpResult | null = null, why = ''): number {
    return this.add(o, result, why);
  }

  /** A user store; returns the value it stores, and expects the store to complete. */
  write(cpu: number, mm: number, vpn: number): number {
    const step = this.ops.length;
    const value = storeValue(step);
    this.add(op.write(cpu, mm, vpn), { kind: 'value', value }, `store mm#${mm} vpn ${vpn}`);
    return value;
  }

  /** A user load that must return `value`. */
  read(cpu: number, mm: number, vpn: number, value: number, why: string): void {
    this.add(op.read(cpu, mm, vpn), { kind: 'value', value }, `load mm#${mm} vpn ${vpn}: ${why}`);
  }

  /** fork of live mm `mm`; expects the next mm id as the child. */
  fork(mm: number): void {
    this.add(op.fork(mm), { kind: 'forked', child: mmId(this.nextMmId++) }, `fork mm#${mm}`);
  }

  /** GUP of `nr` pages that must all be taken; returns the handle id. */
  gup(cpu: number, mm: number, vpn: number, nr: number, flags: GupOpts): number {
    const handle = this.nextHandleId++;
    this.add(op.gup(cpu, mm, vpn, nr, flags), { kind: 'handle', handle: handleId(handle), pages: nr }, `gup mm#${mm} vpn ${vpn}+${nr}`);
    return handle;
  }

  /** A device read through page `index` of live handle `handle` that must return `value`. */
  gupRead(handle: number, index: number, value: number, why: string): void {
    this.add(op.gupRead(handle, index), { kind: 'value', value }, `device read handle#${handle} page ${index}: ${why}`);
  }
}
