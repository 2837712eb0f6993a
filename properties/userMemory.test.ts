import { describe, expect, it } from 'vitest';
import type { MmId, Pfn, Vpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { folioAt } from '../models/machine/frames';
import { mmAt, setPte } from '../models/machine/pgtable';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runOps } from '../src/run/runOps';
import type { OracleSwitches } from '../src/run/checkedRun';
import { SMALL, violationOf } from './__helpers__/bench';
import { PIN_RO, PIN_RO_FAST, PIN_RW, op } from './__helpers__/ops';
import { ForkLeavesParentWritable } from './__helpers__/brokenKernels';

/**
 * The user-visible memory oracle (design §5.3): the cow.c selftest's "no leak" and "pin is
 * reliable" checks, made to fire by kernels that break COW or unsharing, and silent on the same
 * sequences run by the reference (whose values are asserted explicitly too).
 *
 * Where a broken kernel also breaks a ledger rule, the ledger is switched off so that the memory
 * oracle is the one that speaks: it must catch the bug on its own.
 */
const MEMORY_ONLY: OracleSwitches = { ledger: false, memory: true };

/** fork that gives the child its own copy of a pinned page (copy_present_page()) but forgets to copy the data. */
class ForkCopyForgetsData extends ReferenceKernel {
  override readonly name = 'fork-copy-forgets-data';
  override copyPresentPage(m: Machine, child: MmId, v: Vpn): void {
    const page = this.allocFolio(m, 0);
    this.folioAddAnonRmapPtes(m, page, 1, true);
    const writable = mmAt(m, child).vmaWritable[v] ?? false;
    setPte(m, child, v, { kind: 'present', pfn: page, writable, dirty: true, young: true });
  }
}

/** wp_can_reuse_anon_folio() that ignores the refcount: a write fault reuses a page still shared with another mm. */
class ReuseSharedPage extends ReferenceKernel {
  override readonly name = 'reuse-shared-page';
  override wpCanReuseAnonFolio(m: Machine, head: Pfn): boolean {
    return folioAt(m, head).order === 0;
  }
}

/** R/O pins that never unshare: gup_must_unshare() always says no. */
class PinWithoutUnshare extends ReferenceKernel {
  override readonly name = 'pin-without-unshare';
  override gupMustUnshare(): boolean {
    return false;
  }
}

describe('stale_read', () => {
  // Parent (mm#0, CPU 0) stores 1, forks, stores 3; the child (mm#1, CPU 1) must still read 1.
  const parentToChild = [op.write(0, 0, 0), op.fork(0), op.write(0, 0, 0), op.read(1, 1, 0)];

  it("a fork that leaves the parent writable leaks the parent's later store into the child", () => {
    expect(violationOf(runOps(new ForkLeavesParentWritable(), SMALL, parentToChild, MEMORY_ONLY))).toEqual({
      code: 'stale_read',
      step: 3,
      mm: 1,
      vpn: 0,
      expected: 1,
      actual: 3,
    });
  });

  // Parent stores 1 and forks; the child stores 3; the parent must still read 1.
  const childToParent = [op.write(0, 0, 0), op.fork(0), op.write(1, 1, 0), op.read(0, 0, 0)];

  it("a write fault that reuses a still-shared page leaks the child's store into the parent", () => {
    expect(violationOf(runOps(new ReuseSharedPage(), SMALL, childToParent, MEMORY_ONLY))).toEqual({
      code: 'stale_read',
      step: 3,
      mm: 0,
      vpn: 0,
      expected: 1,
      actual: 3,
    });
  });

  // The page is pinned (exclusive, maybe DMA-pinned), so fork copies it for the child at once.
  const pinnedFork = [op.write(0, 0, 0), op.gup(0, 0, 0, 1, PIN_RW), op.fork(0), op.read(1, 1, 0)];

  it('a fork that copies a pinned page for the child without its data makes the child read 0', () => {
    expect(violationOf(runOps(new ForkCopyForgetsData(), SMALL, pinnedFork))).toEqual({
      code: 'stale_read',
      step: 3,
      mm: 1,
      vpn: 0,
      expected: 1,
      actual: 0,
    });
  });

  it.each([
    ['parent store after fork', parentToChild, 1],
    ['child store after fork', childToParent, 1],
    ['fork of a pinned page', pinnedFork, 1],
  ] as const)('the reference passes the same sequence (%s) and the load reads %d', (_what, ops, value) => {
    const outcome = runOps(new ReferenceKernel(), SMALL, ops);
    expect(violationOf(outcome)).toBeNull();
    expect(outcome.steps[3]!.applied.result).toEqual({ kind: 'value', value });
  });
});

describe('pin_unreliable', () => {
  // Parent stores 1, forks, takes an R/O pin, stores 4; the pin must read 4.
  const ops = (fast: boolean) => [op.write(0, 0, 0), op.fork(0), op.gup(0, 0, 0, 1, fast ? PIN_RO_FAST : PIN_RO), op.write(0, 0, 0), op.gupRead(0, 0)];

  it.each([false, true])('an R/O pin (fast %s) that does not unshare the shared page goes stale when the parent writes', (fast) => {
    expect(violationOf(runOps(new PinWithoutUnshare(), SMALL, ops(fast), MEMORY_ONLY))).toEqual({
      code: 'pin_unreliable',
      step: 4,
      handle: 0,
      index: 0,
      expected: 4,
      actual: 1,
    });
  });

  it.each([false, true])('the reference unshares at pin time (fast %s): the pin reads the parent\'s new value', (fast) => {
    const outcome = runOps(new ReferenceKernel(), SMALL, ops(fast));
    expect(violationOf(outcome)).toBeNull();
    expect(outcome.steps[2]!.applied.result).toEqual({ kind: 'handle', handle: 0, pages: 1 });
    expect(outcome.steps[4]!.applied.result).toEqual({ kind: 'value', value: 4 });
  });
});
