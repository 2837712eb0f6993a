import { describe, expect, it } from 'vitest';
import type { MmId, Vpn } from '../models/machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import type { Violation } from '../models/machine/violation';
import { ModelViolationError } from '../models/machine/violation';
import { createMachine } from '../models/machine/create';
import { asHardware, lockAcquire, lockRelease } from '../models/machine/locks';
import { folioLockOf, underPtl, withLock } from '../models/machine/lockedCall';
import { mmAt, pmdAt, pmdStart, pteAt, ptlOf, setPmd, setPte } from '../models/machine/pgtable';
import type { KernelSteps } from '../models/machine/tasks';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import type { Op } from '../src/ops/op';
import { CheckedRun } from '../src/run/checkedRun';
import type { TaskNote } from '../src/run/tasks';
import { G, HOT, mm0, cpu, map, store, load, zap, preempt } from './__helpers__/taskOps';

/**
 * The locks the kernel paths take (models/machine/locks.ts, docs/concurrency.md "Locks"): what a
 * task holds at its points, who waits because of it, and the checks that report a model path
 * breaking the locking — each shown failing on a variant twin that breaks it.
 */

/** Run ops on one kernel, every oracle on; the first violation, or null. */
function firstViolation(kernel: ReferenceKernel, ops: readonly Op[]): Violation | null {
  const run = new CheckedRun(kernel, G);
  for (const [i, op] of ops.entries()) {
    const r = run.step(op, i);
    if ('violation' in r) return r.violation;
  }
  return null;
}

/** Run ops and return the run (throws on a violation). */
function runAll(kernel: ReferenceKernel, ops: readonly Op[]): { run: CheckedRun; notes: TaskNote[] } {
  const run = new CheckedRun(kernel, G);
  const notes: TaskNote[] = [];
  for (const [i, op] of ops.entries()) {
    const r = run.step(op, i);
    if ('violation' in r) throw new Error(`step ${i}: ${JSON.stringify(r.violation)}`);
    notes.push(...(r.applied.tasks ?? []));
  }
  return { run, notes };
}

const zapHot = [map(HOT), store(0)];

/** The reference zap's per-slot loop, with `slot` doing one PMD slot's table work (no split, no leaf). */
function* zapSlots(m: Machine, mm: MmId, start: Vpn, end: Vpn, slot: (i: number, lo: Vpn, hi: Vpn) => KernelSteps): KernelSteps {
  const state = mmAt(m, mm);
  state.tlbFlushPending++;
  const ppt = m.geometry.ptrsPerPte;
  for (let i = Math.floor(start / ppt); i * ppt < end; i++) {
    const lo = asVpn(Math.max(start, pmdStart(m, i)));
    const hi = asVpn(Math.min(end, pmdStart(m, i) + ppt));
    if (pmdAt(m, mm, i).kind !== 'table') continue;
    yield* slot(i, lo, hi);
  }
  yield 'zap: before tlb_finish_mmu()';
  state.tlbFlushPending--;
}

/** A zap twin that forgets `pte_offset_map_lock()`: it clears PTEs without the PTL. */
class ZapWithoutPtl extends ReferenceKernel {
  override *zapPageRangeSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    const self = this;
    yield* zapSlots(m, mm, start, end, function* (_i, lo, hi) {
      self.zapPteRange(m, mm, lo, hi);
      yield 'zap: table done, PTL dropped';
    });
  }
}

/** A zap twin that takes the PTL, then the lock of the folio it unmaps: against mm/rmap.c's order. */
class ZapPtlThenFolioLock extends ReferenceKernel {
  override *zapPageRangeSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    const self = this;
    yield* zapSlots(m, mm, start, end, function* (i, lo, hi) {
      underPtl(m, mm, i, () => {
        const p = pteAt(m, mm, lo);
        const head = p !== null && p.kind === 'present' ? p.pfn : asPfn(0);
        withLock(m, folioLockOf(head), () => self.zapPteRange(m, mm, lo, hi));
      });
      yield 'zap: table done, PTL dropped';
    });
  }
}

/** A zap twin that passes its 'PTL dropped' point before it drops the PTL. */
class ZapYieldsUnderPtl extends ReferenceKernel {
  override *zapPageRangeSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    const self = this;
    yield* zapSlots(m, mm, start, end, function* (i, lo, hi) {
      const ptl = ptlOf(m, mm, i);
      if (ptl === null) return;
      lockAcquire(m, ptl);
      self.zapPteRange(m, mm, lo, hi);
      yield 'zap: table done, PTL dropped';
      lockRelease(m, ptl);
    });
  }
}

/** MADV_DONTNEED as if it needed `mmap_lock` for write (it takes it for read). */
class DontneedTakesWrite extends BatchedKernel {
  override *madviseDontneedSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    lockAcquire(m, { kind: 'mmap_lock', mm, mode: 'write' });
    yield* this.zapPageRangeSteps(m, mm, start, end);
    lockRelease(m, { kind: 'mmap_lock', mm, mode: 'write' });
  }
}

describe('what a task holds at its points', () => {
  it('a zap holds mmap_lock for read only: the PTL is dropped at "table done"', () => {
    const { run } = runAll(new BatchedKernel(), [...zapHot, preempt(1, 1), zap()]);
    expect(run.machine.cpus[1]!.locks).toEqual([{ kind: 'mmap_lock', mm: 0, mode: 'read' }]);
  });

  it("fork stopped at 'page shared' holds both mmap_locks and both PTLs, child's first, and raises nothing", () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const { run } = runAll(k, [...zapHot, preempt(1, 1), { kind: 'fork', mm: 0 }]);
      const m = run.machine;
      expect(m.cpus[1]!.task?.point).toBe('fork: page shared, parent PTE not yet write-protected');
      const parentPtl = ptlOf(m, mm0, 1);
      const childPtl = ptlOf(m, 1 as MmId, 1);
      expect(m.cpus[1]!.locks).toEqual([
        { kind: 'mmap_lock', mm: 0, mode: 'write' },
        { kind: 'mmap_lock', mm: 1, mode: 'write' },
        childPtl,
        parentPtl,
      ]);
    }
  });

  it('a migration holds the folio lock across its points; a store fault its mmap_lock for read', () => {
    const mig = runAll(new BatchedKernel(), [...zapHot, preempt(1, 1), { kind: 'migrate', mm: 0, vpn: HOT, count: 1 }]).run.machine;
    expect(mig.cpus[1]!.locks.map((l) => l.kind)).toEqual(['folio_lock']);
    const flt = runAll(new ReferenceKernel(), [preempt(1, 1), store(0)]).run.machine;
    expect(flt.cpus[1]!.locks).toEqual([{ kind: 'mmap_lock', mm: 0, mode: 'read' }]);
  });

  it('every lock is released when the tasks complete', () => {
    const { run } = runAll(new BatchedKernel(), [...zapHot, preempt(1, 1), { kind: 'fork', mm: 0 }, { kind: 'drain' }]);
    expect(run.machine.cpus.every((c) => c.locks.length === 0)).toBe(true);
    expect(run.machine.locks.taskHeld).toBe(0);
  });
});

describe('pte_without_ptl', () => {
  it('a zap task that clears a PTE without the PTL is reported', () => {
    const v = firstViolation(new ZapWithoutPtl(), [...zapHot, preempt(1, 1), zap()]);
    expect(v?.code).toBe('pte_without_ptl');
    expect(v).toMatchObject({ cpu: 1, mm: 0, vpn: HOT, holder: null });
  });

  it('run whole (atomic), the same zap is simplified as holding what it needs: nothing is reported', () => {
    expect(firstViolation(new ZapWithoutPtl(), [...zapHot, zap()])).toBeNull();
  });

  it('a write into a table whose PTL another task holds is reported, even from an atomic context', () => {
    const m = createMachine(G);
    const k = new ReferenceKernel();
    k.mapAnonFolio(m, mm0, asVpn(HOT), 0, false, 0, 1);
    lockAcquire(m, ptlOf(m, mm0, 1)!, {}, cpu(1));
    expect(() => setPte(m, mm0, asVpn(HOT), { kind: 'none' })).toThrow(ModelViolationError);
    try {
      setPte(m, mm0, asVpn(HOT), { kind: 'none' });
    } catch (e) {
      expect((e as ModelViolationError).violation).toMatchObject({ code: 'pte_without_ptl', cpu: null, holder: 1 });
    }
    // The MMU setting accessed/dirty bits takes no lock: never reported.
    const pte = pteAt(m, mm0, asVpn(HOT))!;
    expect(() => asHardware(m, () => setPte(m, mm0, asVpn(HOT), pte))).not.toThrow();
  });
});

/** A zap twin that clears a whole PMD leaf without `pmd_lock()` (`zap_huge_pmd()` takes it). */
class ZapHugeWithoutPmdLock extends ReferenceKernel {
  override *zapPageRangeSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    const ppt = m.geometry.ptrsPerPte;
    for (let i = Math.floor(start / ppt); i * ppt < end; i++) {
      if (pmdAt(m, mm, i).kind !== 'leaf') continue;
      this.zapHugePmd(m, mm, i);
      yield 'zap: table done, PTL dropped';
    }
    yield 'zap: before tlb_finish_mmu()';
  }
}

describe('pmd_without_lock', () => {
  const thp: Op = { kind: 'map', mm: 0, vpn: 16, order: 4, pmd: true, first: 0, count: 16 };

  it('a zap task that clears a PMD leaf without the PMD lock is reported; the kernels take it', () => {
    expect(firstViolation(new ZapHugeWithoutPmdLock(), [thp, preempt(1, 1), zap(16, 16)])).toMatchObject({ code: 'pmd_without_lock', cpu: 1, mm: 0, pmd: 1 });
    expect(firstViolation(new ReferenceKernel(), [thp, preempt(1, 1), zap(16, 16), { kind: 'drain' }])).toBeNull();
    expect(firstViolation(new BatchedKernel(), [thp, preempt(1, 1), zap(16, 16), { kind: 'drain' }])).toBeNull();
  });

  it('under mmap_lock for write (mprotect) a PMD may change without the PMD lock', () => {
    const m = createMachine(G);
    new ReferenceKernel().mapAnonFolio(m, mm0, asVpn(16), 4, true, 0, 16);
    const leaf = pmdAt(m, mm0, 1);
    m.locks.running = cpu(1);
    try {
      expect(() => setPmd(m, mm0, 1, leaf)).toThrow(/pmd_without_lock/);
      lockAcquire(m, { kind: 'mmap_lock', mm: mm0, mode: 'write' });
      expect(() => setPmd(m, mm0, 1, leaf)).not.toThrow();
    } finally {
      m.locks.running = null;
    }
  });
});

describe('lock_order', () => {
  it('a zap task that takes the folio lock under the PTL is reported', () => {
    const v = firstViolation(new ZapPtlThenFolioLock(), [...zapHot, preempt(1, 1), zap()]);
    expect(v).toMatchObject({ code: 'lock_order', cpu: 1 });
    expect(v?.code === 'lock_order' && v.held.startsWith('ptl') && v.taking.startsWith('folio_lock')).toBe(true);
  });

  it('so is the same path run whole: the order is checked in an atomic context too', () => {
    expect(firstViolation(new ZapPtlThenFolioLock(), [...zapHot, zap()])).toMatchObject({ code: 'lock_order', cpu: null });
  });

  it("two PTLs need fork's nesting annotation; with it they pass", () => {
    const m = createMachine(G);
    const a = { kind: 'ptl', table: asPfn(1) } as const;
    const b = { kind: 'ptl', table: asPfn(2) } as const;
    lockAcquire(m, a);
    lockAcquire(m, b, { nested: true });
    lockRelease(m, b);
    expect(() => lockAcquire(m, b)).toThrow(/lock_order/);
  });

  it('the hierarchy: mmap_lock → folio_lock → pmd_lock → ptl; a trylock may go against it', () => {
    const m = createMachine(G);
    lockAcquire(m, { kind: 'mmap_lock', mm: mm0, mode: 'read' });
    lockAcquire(m, folioLockOf(asPfn(3)));
    lockAcquire(m, { kind: 'pmd_lock', mm: mm0, pmd: 0 });
    lockAcquire(m, { kind: 'ptl', table: asPfn(1) });
    lockAcquire(m, folioLockOf(asPfn(4)), { trylock: true });
    expect(() => lockAcquire(m, { kind: 'mmap_lock', mm: 1 as MmId, mode: 'read' })).toThrow(/lock_order/);
  });
});

describe('preempt_under_spinlock', () => {
  it('a zap task stopped under its PTL at a point that does not declare it is reported', () => {
    const v = firstViolation(new ZapYieldsUnderPtl(), [...zapHot, preempt(1, 1), zap()]);
    expect(v).toMatchObject({ code: 'preempt_under_spinlock', cpu: 1, point: 'zap: table done, PTL dropped' });
  });

  it('run whole, its points stop nothing: no report', () => {
    expect(firstViolation(new ZapYieldsUnderPtl(), [...zapHot, zap()])).toBeNull();
  });
});

/** MADV_DONTNEED that never drops its mmap_lock. */
class DontneedKeepsMmapLock extends ReferenceKernel {
  override *madviseDontneedSteps(m: Machine, mm: MmId, start: Vpn, end: Vpn): KernelSteps {
    lockAcquire(m, { kind: 'mmap_lock', mm, mode: 'read' });
    yield* this.zapPageRangeSteps(m, mm, start, end);
  }
}

describe('lock_imbalance', () => {
  it('a task that completes holding a lock is reported; so is a release of a lock not held', () => {
    expect(firstViolation(new DontneedKeepsMmapLock(), [...zapHot, preempt(1, 1), zap(), { kind: 'drain' }])).toMatchObject({ code: 'lock_imbalance', cpu: 1 });
    expect(() => lockRelease(createMachine(G), { kind: 'ptl', table: asPfn(1) })).toThrow(/lock_imbalance/);
  });
});

describe('who waits, from the locks a task holds', () => {
  it('a load that faults waits for a zap only when the zap holds mmap_lock for write (a variant), not for read', () => {
    const ops = [...zapHot, map(3), preempt(1, 1), zap(), load(2, 3)];
    const waitedRead = runAll(new BatchedKernel(), ops).notes.some((n) => n.how === 'wait');
    const waitedWrite = runAll(new DontneedTakesWrite(), ops).notes.some((n) => n.how === 'wait');
    expect(waitedRead).toBe(false);
    expect(waitedWrite).toBe(true);
  });

  it('GUP-fast beginning on a none PMD falls back to the slow path at once: it waits for mprotect; on a mapped one it runs inside the window', () => {
    const mprotectRo: Op = { kind: 'mprotect', mm: 0, vpn: HOT, nr: 1, writable: false };
    const walk = (vpn: number): Op => ({ kind: 'walkBegin', cpu: 2, mm: 0, vpn, walker: 'gupFast', pin: true, write: false });
    // vpn 100 lies in a PMD slot nothing mapped: gupFastWalk() falls back, taking mmap_lock for read.
    const fallback = runAll(new BatchedKernel(), [...zapHot, preempt(1, 1), mprotectRo, walk(100)]);
    expect(fallback.notes.some((n) => n.how === 'wait')).toBe(true);
    const inside = runAll(new BatchedKernel(), [...zapHot, preempt(1, 1), mprotectRo, walk(HOT)]);
    expect(inside.notes.some((n) => n.how === 'wait')).toBe(false);
  });

  it('lock_conflict: taking a lock another task holds exclusively (two readers share)', () => {
    const m = createMachine(G);
    lockAcquire(m, { kind: 'mmap_lock', mm: mm0, mode: 'read' }, {}, cpu(1));
    lockAcquire(m, { kind: 'mmap_lock', mm: mm0, mode: 'read' });
    expect(() => lockAcquire(m, { kind: 'mmap_lock', mm: mm0, mode: 'write' }, {}, cpu(2))).toThrow(/lock_conflict/);
    lockAcquire(m, { kind: 'ptl', table: asPfn(5) }, {}, cpu(1));
    expect(() => lockAcquire(m, { kind: 'ptl', table: asPfn(5) })).toThrow(/lock_conflict/);
  });
});
