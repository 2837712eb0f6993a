import { describe, expect, it } from 'vitest';
import type { CpuId, Pfn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { folioAt, frameAt } from '../models/machine/frames';
import { pmdAt } from '../models/machine/pgtable';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { CollapseGupFastV60 } from '../models/mutants/race/collapseGupFastV60';
import { CollapseNoRestore } from '../models/mutants/race/collapseNoRestore';
import { RACE_MUTANTS } from '../models/mutants/race/index';
import type { Op } from '../src/ops/op';
import { HOT, load, mm0, preempt, runAll, store } from './__helpers__/taskOps';

/**
 * khugepaged's collapse of a PMD range of small anonymous pages into a THP (issue 14,
 * models/reference/collapse.ts). Small geometry: 16 PTEs per table, page 21 in PMD slot 1.
 */
const collapse = (pmd = 1): Op => ({ kind: 'collapse', mm: 0, pmd });
const tick: Op = { kind: 'tick' };
const KERNELS = (): ReferenceKernel[] => [new ReferenceKernel(), new BatchedKernel(), new BatchedNoMigrc()];
const walkBegin = (c: number, stop: 'grab' | 'recheck'): Op => ({ kind: 'walkBegin', cpu: c, mm: 0, vpn: HOT, walker: 'gupFast', pin: true, write: true, stop });
const walkEnd = (c: number): Op => ({ kind: 'walkEnd', cpu: c });
const resultOf = (k: ReferenceKernel, ops: readonly Op[]): string => {
  const { bad, run } = runAll(k, ops);
  if (bad !== null) return bad;
  const last = run.machine;
  return pmdAt(last, mm0, 1).kind;
};

describe('collapse_huge_page()', () => {
  it('copies every page into one PMD-mapped THP, keeps the values, and frees the small pages and (after a grace period) the table', () => {
    const ops = [store(0, 16), store(1, HOT), store(2, 31), collapse(), load(0, 16), load(1, HOT), load(2, 31), load(0, 17), tick, tick];
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      // the stores stored 1, 2, 3; the untouched page 17 reads 0 from the THP
      expect(values.slice(4, 8), k.name).toEqual([1, 2, 3, 0]);
      const pmd = pmdAt(run.machine, mm0, 1);
      expect(pmd.kind, k.name).toBe('leaf');
      if (pmd.kind !== 'leaf') continue;
      const f = folioAt(run.machine, pmd.pfn);
      expect(f.order, k.name).toBe(4);
      expect([f.refcount, f.entireMapcount, frameAt(run.machine, pmd.pfn).anonExclusive], k.name).toEqual([1, 1, true]);
      expect(pmd.writable && pmd.dirty, k.name).toBe(true);
      // three small pages + one table freed; the THP took 16 frames
      expect(run.machine.frames.filter((fr) => fr.state === 'table').length, k.name).toBe(0);
    }
  });

  it('leaves a range alone when a page has a reference beyond its mappings (a pin), when no entry is writable, and when one is swapped out', () => {
    const pin: Op = { kind: 'gup', cpu: 0, mm: 0, vpn: HOT, nr: 1, pin: true, write: true, fast: false };
    const ro: Op = { kind: 'mprotect', mm: 0, vpn: 16, nr: 16, writable: false };
    const swapOut: Op = { kind: 'reclaim', mm: 0, vpn: 16, count: 1 };
    for (const k of KERNELS()) {
      expect(resultOf(k, [store(0, 16), store(0, HOT), pin, collapse()]), `${k.name} pinned`).toBe('table');
      expect(resultOf(k, [store(0, 16), ro, collapse()]), `${k.name} read-only`).toBe('table');
      // Simplified (collapse.ts): khugepaged would swap the page in first (up to max_ptes_swap);
      // the model leaves the range alone, which this pins down
      expect(resultOf(k, [store(0, 16), store(0, HOT), swapOut, collapse()]), `${k.name} swapped`).toBe('table');
      expect(resultOf(k, [store(0, 16), store(0, HOT), collapse()]), `${k.name} plain`).toBe('leaf');
    }
  });

  it('a GUP-fast walk on the table when the collapse begins is waited for, grabs, fails its recheck and puts the page back before the isolation: the collapse goes through', () => {
    // The walk read the PTE but had not grabbed: the scan passes; pmdp_collapse_flush()'s flush IPI
    // (and tlb_remove_table_sync_one()) waits for its IRQs-off section, in which it grabs, sees the
    // PMD cleared, and puts the reference back (gup_fast_pte_range()) before the IPI is taken. The
    // isolation then finds every page as the scan did; walkEnd takes the THP's page the slow way.
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, [store(0), walkBegin(1, 'grab'), collapse(), walkEnd(1), { kind: 'gupWrite', handle: -1, index: 0 }, load(0)]);
      expect(bad, k.name).toBeNull();
      expect(pmdAt(run.machine, mm0, 1).kind, k.name).toBe('leaf');
      expect(values[5], k.name).toBe(5);
      expect(run.machine.marks['flush IPI waited for a GUP-fast walk'], k.name).toBeGreaterThan(0);
      expect(run.machine.marks['collapse put the table back (a page changed after the scan)'] ?? 0, k.name).toBe(0);
    }
  });

  it('a pin taken in the gap between the scan and mmap_write_lock() fails the isolation: the table is put back, and a kernel that skips pmd_populate() loses it', () => {
    // khugepaged stops after the scan with no lock held; CPU 1 pins the hot page through slow GUP;
    // khugepaged resumes, revalidates and clears the PMD, then the isolation sees the extra reference.
    const pin: Op = { kind: 'gup', cpu: 1, mm: 0, vpn: HOT, nr: 1, pin: true, write: true, fast: false };
    const ops = [store(0, HOT), preempt(2, 1), collapse(), pin, { kind: 'resume', cpu: 2, points: 2 } as Op, { kind: 'gupWrite', handle: -1, index: 0 } as Op, load(0)];
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(pmdAt(run.machine, mm0, 1).kind, k.name).toBe('table');
      expect(run.machine.marks['collapse put the table back (a page changed after the scan)'], k.name).toBe(1);
      expect(values[6], k.name).toBe(6); // what the device wrote through the pin
    }
    const broken = runAll(new CollapseNoRestore(), ops);
    expect(broken.bad).toMatch(/mapcount_mismatch/);
    expect(RACE_MUTANTS.some((mu) => mu.name === 'collapse-no-restore')).toBe(true);
  });

  it('a resumed collapse waits for the tasks holding mmap_lock (a zap preempted in the gap completes first), and a collapse in the gap finds the VMA gone after exit', () => {
    const zap: Op = { kind: 'zap', mm: 0, vpn: 16, nr: 2 };
    for (const k of KERNELS()) {
      const waited = runAll(k, [store(0, 16), store(0, HOT), preempt(2, 1), collapse(), preempt(3, 1), zap, { kind: 'resume', cpu: 2, points: 2 } as Op, load(0)]);
      expect(waited.bad, k.name).toBeNull();
      const notes = waited.notes[6] ?? [];
      expect(notes.map((n) => [n.op, n.how, n.point]), k.name).toEqual([['zap', 'wait', null], ['collapse', 'resume', null]]);
      expect(pmdAt(waited.run.machine, mm0, 1).kind, k.name).toBe('leaf');
      // A fork first (the last live mm does not exit), and a store that copies the page (a writable
      // entry: the range is worth collapsing). The THP khugepaged allocated goes back.
      const exited = runAll(k, [store(0, HOT), { kind: 'fork', mm: 0 }, store(0, HOT), preempt(2, 1), collapse(), { kind: 'exit', mm: 0 }, { kind: 'resume', cpu: 2, points: 2 } as Op]);
      expect(exited.bad, k.name).toBeNull();
      expect(exited.run.machine.mms[0]?.alive, k.name).toBe(false);
      expect(exited.notes[4]?.map((n) => n.point), k.name).toEqual(['collapse: THP allocated, no lock held']);
      expect(exited.notes[6]?.map((n) => [n.op, n.point]), k.name).toEqual([['collapse', null]]);
      expect(exited.run.machine.frames.some((f) => f.state === 'data' && f.folio !== null && f.folio.order === 4), k.name).toBe(false);
    }
  });

  /** 6.12 with neither the flush IPI (a paravirt or broadcast flush) nor `tlb_remove_table_sync_one()`: GUP-fast's PMD recheck alone. */
  class PmdRecheckOnly extends BatchedKernel {
    override readonly name: string = 'pmd-recheck-only';
    override tlbRemoveTableSyncOne(_m: Machine, _tables: readonly Pfn[]): void {}
    override flushIpiWaitsForIrqsOff(_m: Machine, _cpus: readonly CpuId[]): void {}
  }

  it("a walk that grabs inside the collapse window keeps its pin only without both of 6.1's fixes: the IPI and the PMD recheck each suffice", () => {
    // The collapse is preempted between the isolation and the copy; the walk ends inside that
    // window; after the collapse a device writes through the pin and the CPU loads the page.
    const ops = [store(0), walkBegin(1, 'grab'), preempt(2, 2), collapse(), walkEnd(1), store(0), { kind: 'gupWrite', handle: -1, index: 0 } as Op, load(0)];
    expect(runAll(new CollapseGupFastV60(), ops).bad).toBe('7:stale_read');
    const alone = runAll(new PmdRecheckOnly(), ops);
    expect(alone.bad).toBeNull();
    // the collapse went through (no IPI made the walk grab first), and the pin is the THP's page
    expect(pmdAt(alone.run.machine, mm0, 1).kind).toBe('leaf');
    expect(alone.values[7]).toBe(alone.values[6]);
    for (const k of KERNELS()) expect(runAll(k, ops).bad, k.name).toBeNull();
  });
});
