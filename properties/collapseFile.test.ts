import { describe, expect, it } from 'vitest';
import type { Pfn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { folioAt, folioHead, freeTableFrame } from '../models/machine/frames';
import { fileAt } from '../models/machine/files';
import { pmdAt } from '../models/machine/pgtable';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import type { Op } from '../src/ops/op';
import { load, mm0, preempt, runAll, store } from './__helpers__/taskOps';

/**
 * khugepaged on a file mapping (issue 14, models/reference/collapseFile.ts): `collapse_file()`,
 * `retract_page_tables()`, `pte_free_defer()`, `collapse_pte_mapped_thp()` and the page-cache drop
 * of `do_dentry_open()`. Small geometry: 16 PTEs per table; file 0 (order-0 page cache, 32 pages)
 * mapped MAP_PRIVATE over PMD slot 1 (pages 16..31) from file page 16.
 */
const KERNELS = (): ReferenceKernel[] => [new ReferenceKernel(), new BatchedKernel(), new BatchedNoMigrc()];
const mapFile = (shared = false, mm = 0): Op => ({ kind: 'mmapFile', mm, vpn: 16, nr: 16, file: 0, pgoff: 16, shared });
const collapse = (mm = 0): Op => ({ kind: 'collapse', mm, pmd: 1 });
const pwrite = (index: number): Op => ({ kind: 'fileWrite', file: 0, index });
const writeback: Op = { kind: 'writeback', file: 0 };
const tick: Op = { kind: 'tick' };
/** The order of the folio file 0's page cache holds at `index` (null: none). */
const cachedOrder = (m: Machine, index: number): number | null => {
  const p = fileAt(m, 0).cache[index] ?? null;
  return p === null ? null : folioAt(m, folioHead(m, p)).order;
};

describe('collapse_file() and retract_page_tables()', () => {
  it('replaces the small page-cache folios of the range by one THP, reads in the missing pages, retracts the table, and the process reads the same data', () => {
    // pwrite 17 and 20 (steps 0, 1: values 1, 2), written back; the process maps the file and
    // reads pages 17 and 18 (page 18 is read in); khugepaged collapses; the process reads again.
    const ops = [pwrite(17), pwrite(20), writeback, mapFile(), load(0, 17), load(1, 18), collapse(), load(0, 17), load(1, 20), load(0, 31), tick, tick];
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect([values[4], values[5], values[7], values[8], values[9]], k.name).toEqual([1, 0, 1, 2, 0]);
      const m = run.machine;
      expect(m.marks['khugepaged collapsed a file range into a THP'], k.name).toBe(1);
      expect(m.marks['khugepaged retracted a page table of a file THP'], k.name).toBe(1);
      for (let index = 16; index < 32; index++) expect(cachedOrder(m, index), `${k.name} index ${index}`).toBe(4);
      expect(cachedOrder(m, 0), k.name).toBeNull();
      // the loads after the collapse faulted the THP's pages in through a new table
      expect(pmdAt(m, mm0, 1).kind, k.name).toBe('table');
    }
  });

  it('leaves the range alone while the file is open for write (a MAP_SHARED mapping), while a folio is dirty, and when the page cache holds large folios', () => {
    for (const k of KERNELS()) {
      const shared = runAll(k, [mapFile(true), load(0, 17), collapse()]);
      expect(shared.bad, k.name).toBeNull();
      expect(cachedOrder(shared.run.machine, 17), `${k.name} shared`).toBe(0);
      const dirty = runAll(k, [pwrite(3), mapFile(), load(0, 17), collapse()]);
      expect(dirty.bad, k.name).toBeNull();
      expect(cachedOrder(dirty.run.machine, 17), `${k.name} dirty`).toBe(0);
      const large = runAll(k, [{ ...mapFile(), file: 1 } as Op, load(0, 17), collapse()]);
      expect(large.bad, k.name).toBeNull();
      expect(folioAt(large.run.machine, folioHead(large.run.machine, fileAt(large.run.machine, 1).cache[17]!)).order, `${k.name} large`).toBe(2);
    }
  });

  it("keeps a MAP_PRIVATE mapping's table that holds an anonymous copy (its VMA has an anon_vma); the copy stays, the file pages refault from the THP", () => {
    const ops = [mapFile(), load(0, 17), store(0, 18), collapse(), load(0, 17), load(0, 18)];
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(values[5], k.name).toBe(3); // the store's value, in the anonymous copy
      expect(run.machine.marks['khugepaged retracted a page table of a file THP'] ?? 0, k.name).toBe(0);
      expect(cachedOrder(run.machine, 17), k.name).toBe(4);
    }
  });

  it('collapse_pte_mapped_thp(): a second pass clears the PTEs that map the THP and retracts the table', () => {
    const ops = [mapFile(), load(0, 17), collapse(), load(0, 17), load(1, 19), collapse(), load(0, 17), tick, tick];
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(run.machine.marks['khugepaged retracted a page table of a file THP'], k.name).toBe(2);
      // the last load faulted around the whole table again: 16 PTEs map the THP
      expect(folioAt(run.machine, folioHead(run.machine, fileAt(run.machine, 0).cache[16]!)).largeMapcount, k.name).toBe(16);
      expect(run.machine.frames.filter((f) => f.state === 'table').length, k.name).toBe(1);
    }
  });

  it('an open for write drops the page cache of a file with a THP (do_dentry_open()): the mappings of its pages go, the data stays on the disk', () => {
    const ops = [pwrite(17), writeback, mapFile(), load(0, 17), collapse(), load(0, 17), pwrite(5), load(0, 17), load(0, 21)];
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect([values[5], values[7], values[8]], k.name).toEqual([1, 1, 0]);
      expect(run.machine.marks['open for write dropped the page cache of a file with a THP'], k.name).toBe(1);
      expect(cachedOrder(run.machine, 17), k.name).toBe(0);
    }
  });

  /** `retract_page_tables()` that frees the table at once (`pte_free()`) instead of after a grace period. */
  class RetractFreesNow extends BatchedKernel {
    override readonly name: string = 'retract-frees-now';
    override pteFreeDefer(m: Machine, table: Pfn): void {
      freeTableFrame(m, table);
    }
  }

  it('a pte_offset_map() reader on the table holds off its free until it leaves; pte_free() at once is a use after free', () => {
    const reader: Op = { kind: 'walkBegin', cpu: 1, mm: 0, vpn: 17, walker: 'pteOffsetMap', pin: false, write: false };
    const ops = [mapFile(), load(0, 17), reader, collapse(), tick, { kind: 'walkEnd', cpu: 1 } as Op, tick, tick];
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(run.machine.frames.filter((f) => f.state === 'table').length, k.name).toBe(0);
    }
    expect(runAll(new RetractFreesNow(), ops).bad).not.toBeNull();
  });

  it("stops between the scan and collapse_file() with no lock held: a pwrite or a MAP_SHARED mmap there makes collapse_file() give up, a store's COW copy keeps its table; a resume completes the other tasks first", () => {
    const gap = [pwrite(20), writeback, mapFile(), load(0, 17), preempt(2, 1), collapse()];
    const resumeAll: Op = { kind: 'resume', cpu: 2, points: 1 };
    for (const k of KERNELS()) {
      const dirty = runAll(k, [...gap, pwrite(21), resumeAll]);
      expect(dirty.bad, k.name).toBeNull();
      expect(dirty.notes[5]?.map((n) => n.point), k.name).toEqual(['collapse_file: range scanned, no lock held']);
      expect(cachedOrder(dirty.run.machine, 17), `${k.name} dirty`).toBe(0);
      const opened = runAll(k, [...gap, mapFile(true, 1), resumeAll]);
      expect(opened.bad, k.name).toBeNull();
      expect(cachedOrder(opened.run.machine, 17), `${k.name} opened`).toBe(0);
      const cow = runAll(k, [...gap, store(1, 18), resumeAll, load(1, 18), load(0, 20)]);
      expect(cow.bad, k.name).toBeNull();
      expect(cachedOrder(cow.run.machine, 17), `${k.name} cow`).toBe(4);
      expect(cow.run.machine.marks['khugepaged retracted a page table of a file THP'] ?? 0, k.name).toBe(0);
      expect([cow.values[8], cow.values[9]], k.name).toEqual([7, 1]);
      // a zap preempted in the gap (it holds mmap_lock, no PTL) completes before collapse_file() resumes
      const zapTask = runAll(k, [store(0, 40, 1), ...gap, preempt(3, 1), { kind: 'zap', mm: 1, vpn: 40, nr: 1 }, resumeAll]);
      expect(zapTask.bad, k.name).toBeNull();
      expect(zapTask.notes[9]?.map((n) => [n.op, n.how, n.point]), k.name).toEqual([
        ['zap', 'wait', null],
        ['collapse', 'resume', null],
      ]);
    }
  });
});
