import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import type { MmId, Pfn, Vpn } from '../models/machine/ids';
import { folioAt, folioHead, frameAt } from '../models/machine/frames';
import { fileAt } from '../models/machine/files';
import { pteAt } from '../models/machine/pgtable';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { ZapFileRmapBeforeFlush } from '../models/mutants/race/zapFileRmapBeforeFlush';
import type { Op } from '../src/ops/op';
import { runAll } from './__helpers__/taskOps';
import { CheckedRun } from '../src/run/checkedRun';
import { runDifferential } from '../src/run/differential';

/**
 * MAP_SHARED file mappings, dirty tracking, writeback and zap's delayed rmap (issue 14,
 * docs/fidelity/files.md). Small geometry: file 0 has order-0 folios, file 1 order-2 ones; page
 * 21 is in the second table. A store stores its step number plus one.
 */
const G = geometry('small');
const HOT = 21;
const mmap = (file: number, vpn = HOT, nr = 2, pgoff = 0, shared = true): Op => ({ kind: 'mmapFile', mm: 0, vpn, nr, file, pgoff, shared });
const store = (c: number, vpn = HOT, mm = 0): Op => ({ kind: 'access', cpu: c, mm, vpn, write: true });
const load = (c: number, vpn = HOT, mm = 0): Op => ({ kind: 'access', cpu: c, mm, vpn, write: false });
const writeback = (file: number): Op => ({ kind: 'writeback', file });
const fileRead = (file: number, index: number): Op => ({ kind: 'fileRead', file, index });

const KERNELS = (): ReferenceKernel[] => [new ReferenceKernel(), new BatchedKernel(), new BatchedNoMigrc()];

const present = (run: CheckedRun, mm: number, vpn: number) => {
  const pte = pteAt(run.machine, mm as MmId, vpn as Vpn);
  return pte !== null && pte.kind === 'present' ? pte : null;
};

describe('MAP_SHARED file mappings', () => {
  it('every mapping, the child of a fork and pread() see one value; fork copies no PTE of the mapping', () => {
    const ops = [mmap(1), store(0), { kind: 'fork', mm: 0 } as Op, load(1, HOT, 1), store(2, HOT, 1), load(0), fileRead(1, 0)];
    for (const k of KERNELS()) {
      const { bad, values, run } = runAll(k, ops.slice(0, 3));
      expect(bad, k.name).toBeNull();
      expect(present(run, 1, HOT), k.name).toBeNull(); // vma_needs_copy(): nothing copied
      const all = runAll(k, ops);
      expect(all.bad, k.name).toBeNull();
      expect(all.values.slice(3), k.name).toEqual([2, 5, 5, 5]);
      expect(values[1], k.name).toBe(2);
    }
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });

  it('a read fault maps the page read-only and clean; the first store faults (page_mkwrite) and dirties the folio', () => {
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [mmap(0), load(0)]);
      expect(bad, k.name).toBeNull();
      const pte = present(run, 0, HOT)!;
      expect([pte.writable, pte.dirty], k.name).toEqual([false, false]);
      expect(folioAt(run.machine, folioHead(run.machine, pte.pfn)).dirty, k.name).toBe(false);
      const after = runAll(k, [mmap(0), load(0), store(0)]);
      const w = present(after.run, 0, HOT)!;
      expect([w.writable, w.dirty], k.name).toEqual([true, true]);
      expect(folioAt(after.run.machine, folioHead(after.run.machine, w.pfn)).dirty, k.name).toBe(true);
      expect(after.run.machine.marks['page_mkwrite on a clean shared file page'], k.name).toBe(1);
    }
  });

  it('writeback writes the data to the disk, write-protects and cleans every mapping, and cleans the folio', () => {
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [mmap(1, HOT, 2, 4), store(0), store(1, HOT + 1), writeback(1)]);
      expect(bad, k.name).toBeNull();
      const m = run.machine;
      expect(fileAt(m, 1).store.slice(4, 6), k.name).toEqual([2, 3]);
      for (const v of [HOT, HOT + 1]) {
        const pte = present(run, 0, v)!;
        expect([pte.writable, pte.dirty], k.name).toEqual([false, false]);
      }
      expect(folioAt(m, folioHead(m, present(run, 0, HOT)!.pfn)).dirty, k.name).toBe(false);
      expect(m.marks['writeback write-protected a mapped file page'], k.name).toBe(1);
      // No CPU keeps the writable translation: a store after writeback faults again.
      const again = runAll(k, [mmap(1, HOT, 2, 4), store(0), writeback(1), store(0), writeback(1), fileRead(1, 4)]);
      expect(again.bad, k.name).toBeNull();
      expect(fileAt(again.run.machine, 1).store[4], k.name).toBe(4);
      expect(again.values[5], k.name).toBe(4);
    }
  });

  it('zap keeps the page cache: the folio stays cached and dirty with only the page cache referencing it', () => {
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [mmap(0), store(0), { kind: 'zap', mm: 0, vpn: HOT, nr: 1 }, fileRead(0, 0), load(1)]);
      expect(bad, k.name).toBeNull();
      const m = run.machine;
      const page = fileAt(m, 0).cache[0] as Pfn;
      const f = folioAt(m, folioHead(m, page));
      expect(f.dirty, k.name).toBe(true);
      expect(frameAt(m, page).content, k.name).toBe(2);
    }
  });
});

const priv = (file: number, vpn = HOT, nr = 2, pgoff = 0): Op => mmap(file, vpn, nr, pgoff, false);
const fileWrite = (file: number, index: number): Op => ({ kind: 'fileWrite', file, index });
const truncate = (file: number, from: number): Op => ({ kind: 'truncate', file, from });
const isAnonAt = (run: CheckedRun, mm: number, vpn: number): boolean => {
  const pte = present(run, mm, vpn);
  return pte !== null && folioAt(run.machine, folioHead(run.machine, pte.pfn)).mapping === undefined;
};

describe('MAP_PRIVATE file mappings', () => {
  it('a load maps the page-cache page read-only; a store copies it (do_cow_fault, or wp_page_copy after a load): the file and pread() keep the old value', () => {
    for (const k of KERNELS()) {
      // store first (no PTE: do_cow_fault), and load then store (a read-only page-cache PTE: wp_page_copy)
      for (const ops of [[fileWrite(0, 0), priv(0), store(0), fileRead(0, 0), load(1)], [fileWrite(0, 0), priv(0), load(0), store(0), fileRead(0, 0), load(1)]]) {
        const { bad, run, values } = runAll(k, ops);
        expect(bad, k.name).toBeNull();
        const n = ops.length;
        expect(values[n - 2], k.name).toBe(1); // pread(): what pwrite() wrote
        expect(values[n - 1], k.name).toBe(n - 2); // the private copy: the store's value
        expect(isAnonAt(run, 0, HOT), k.name).toBe(true);
        const page = fileAt(run.machine, 0).cache[0] as Pfn;
        expect(folioAt(run.machine, folioHead(run.machine, page)).dirty, k.name).toBe(true); // pwrite() dirtied it, the store did not
      }
      const cow = runAll(k, [priv(0), store(0)]).run.machine.marks['do_cow_fault copied a page-cache page'];
      expect(cow, k.name).toBe(1);
    }
  });

  it('a page not yet copied sees later writes to the file; a copied one does not', () => {
    for (const k of KERNELS()) {
      const { bad, values } = runAll(k, [priv(0, HOT, 2, 0), load(0, HOT), store(0, HOT + 1), fileWrite(0, 0), fileWrite(0, 1), load(1, HOT), load(1, HOT + 1)]);
      expect(bad, k.name).toBeNull();
      expect(values.slice(5), k.name).toEqual([4, 3]);
    }
  });

  it("fork shares the page-cache pages read-only and the parent's copies COW: each side's later stores stay its own", () => {
    for (const k of KERNELS()) {
      const ops = [priv(1, HOT, 2, 0), load(0, HOT), store(0, HOT + 1), { kind: 'fork', mm: 0 } as Op, load(1, HOT, 1), load(1, HOT + 1, 1), store(1, HOT + 1, 1), load(0, HOT + 1), fileRead(1, 1)];
      const { bad, run, values } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(values.slice(4), k.name).toEqual([0, 3, 7, 3, 0]);
      expect(run.machine.marks['fork shared a page-cache page of a private mapping'], k.name).toBeGreaterThan(0);
    }
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, [priv(1, HOT, 2, 0), load(0, HOT), load(0, HOT + 1), { kind: 'fork', mm: 0 } as Op]).ok).toBe(true);
  });

  it("a PTE batch never crosses from a private mapping into a shared one of the same large folio: fork copies only the private half", () => {
    // File 1's folio 0 (pages 0-3) mapped private at 20-21 and shared at 22-23: batched fork's
    // folio_pte_batch() would take all four without the per-VMA limit.
    const ops = [priv(1, 20, 2, 0), mmap(1, 22, 2, 2), ...[20, 21, 22, 23].map((v) => load(0, v)), { kind: 'fork', mm: 0 } as Op];
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect([20, 21, 22, 23].map((v) => present(run, 1, v) !== null), k.name).toEqual([true, true, false, false]);
    }
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });

  it('MADV_FREE stops at the first file VMA (-EINVAL there): the anonymous pages before it are freed, none after', () => {
    for (const k of KERNELS()) {
      const ops = [store(0, HOT - 2), store(0, HOT + 2), priv(0, HOT, 1), { kind: 'madvise', mm: 0, vpn: HOT - 2, nr: 5, advice: 'free' } as Op];
      const { bad, run, values } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(values[3], k.name).toBeNull();
      const lazy = (v: number): boolean => folioAt(run.machine, folioHead(run.machine, present(run, 0, v)!.pfn)).swapbacked === false;
      expect([lazy(HOT - 2), lazy(HOT + 2)], k.name).toEqual([true, false]);
      // Starting in the file VMA, it fails at once: the anonymous page after it is not freed.
      const fails = runAll(k, [store(0, HOT + 1), priv(0, HOT, 1), { kind: 'madvise', mm: 0, vpn: HOT, nr: 3, advice: 'free' } as Op]);
      expect(folioAt(fails.run.machine, folioHead(fails.run.machine, present(fails.run, 0, HOT + 1)!.pfn)).swapbacked, k.name).toBe(true);
    }
  });
});

describe('truncate', () => {
  it('unmaps every mapping of the truncated pages, private copies too (even_cows), drops them from the page cache, and the file reads zeros there', () => {
    for (const k of KERNELS()) {
      const ops = [mmap(0, HOT, 2, 0), priv(0, HOT + 4, 2, 0), store(0, HOT + 1), store(1, HOT + 4), store(0, HOT + 5), truncate(0, 1), load(0, HOT), load(0, HOT + 1), load(1, HOT + 4), load(1, HOT + 5), fileRead(0, 1)];
      const { bad, run, values } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      // page 0 kept (the shared mapping reads the file: 0; the private copy of page 0 stays);
      // page 1 truncated: the shared store, the private copy and the disk all read 0 now.
      expect(values.slice(6), k.name).toEqual([0, 0, 4, 0, 0]);
      expect(run.machine.marks['truncate removed a folio from the page cache'], k.name).toBeGreaterThan(0);
    }
  });

  it('a large folio straddling the new size stays cached, its pages after it zeroed; the ones before keep their data', () => {
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, [mmap(1, HOT, 4, 0), store(0, HOT), store(0, HOT + 3), truncate(1, 2), load(0, HOT), load(0, HOT + 3), fileRead(1, 0)]);
      expect(bad, k.name).toBeNull();
      expect(values.slice(4), k.name).toEqual([2, 0, 2]);
      expect(fileAt(run.machine, 1).cache.slice(0, 4).every((p) => p !== null), k.name).toBe(true);
      expect(run.machine.marks['truncate zeroed the tail of a straddling folio'], k.name).toBe(1);
    }
  });
});

describe('mprotect of a shared file mapping', () => {
  it('mprotect(RW) makes a dirty PTE writable again, not a clean one (can_change_pte_writable)', () => {
    const rw = (writable: boolean): Op => ({ kind: 'mprotect', mm: 0, vpn: HOT, nr: 2, writable });
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [mmap(0), store(0, HOT), load(0, HOT + 1), rw(false), rw(true)]);
      expect(bad, k.name).toBeNull();
      expect([present(run, 0, HOT)!.writable, present(run, 0, HOT + 1)!.writable], k.name).toEqual([true, false]);
    }
  });
});

describe("zap's delayed rmap (rule R2)", () => {
  it('batched: a dirty file page delays its rmap removal and forces the flush under the PTL; the reference removes it after a per-page flush', () => {
    const ops = [mmap(0, HOT, 3), store(0), store(0, HOT + 1), load(0, HOT + 2), { kind: 'zap', mm: 0, vpn: HOT, nr: 3 } as Op];
    const batched = runAll(new BatchedKernel(), ops);
    const reference = runAll(new ReferenceKernel(), ops);
    expect(batched.bad).toBeNull();
    expect(reference.bad).toBeNull();
    // The two dirty pages delay, the clean one does not.
    expect(batched.run.machine.marks['zap delayed the rmap of a dirty file page']).toBe(2);
    expect(reference.run.machine.marks['zap delayed the rmap of a dirty file page']).toBeUndefined();
    // Cost: the reference flushes each of the three pages; the batched kernel once for the table.
    const flushes = (r: CheckedRun): number => r.machine.stats.tlbFlushCalls;
    expect(flushes(batched.run)).toBeLessThan(flushes(reference.run));
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });

  it('without it (zap-file-rmap-before-flush), writeback inside a preempted zap misses a dirty TLB entry: the store through it is lost', () => {
    // The 'preempted zap' chunk's file shape: CPU 2 holds a dirty writable entry for the page;
    // the zap, preempted after the first table, has cleared the PTE but owes the flush.
    const ops: Op[] = [
      mmap(1),
      store(2),
      { kind: 'preempt', cpu: 0, at: 1 },
      { kind: 'zap', mm: 0, vpn: 16, nr: 32 },
      writeback(1),
      store(2),
    ];
    expect(runAll(new ZapFileRmapBeforeFlush(), ops).bad).toBe('5:lost_dirty_data');
    for (const k of KERNELS()) expect(runAll(k, ops).bad, k.name).toBeNull();
    // Run whole (no schedule op), the mutant is the batched kernel: the zap flushed before writeback.
    expect(runAll(new ZapFileRmapBeforeFlush(), ops.filter((o) => o.kind !== 'preempt')).bad).toBeNull();
  });
});

describe('file pages in the differential and the window check', () => {
  // Interleaved soak seed 35005: a store through CPU 0's writable entry inside mprotect(RO)'s window
  // lands in the page cache on batched (the flush is owed to tlb_finish_mmu()) and faults on the
  // reference; the zap that ends the window unmaps the page on both. The kernels then agree on
  // every PTE and folio, but not on the file: a load faults the page-cache page in again.
  const ops: Op[] = [mmap(0), store(0), { kind: 'preempt', cpu: 1, at: 1 }, { kind: 'mprotect', mm: 0, vpn: HOT, nr: 1, writable: false }, store(0), { kind: 'zap', mm: 0, vpn: HOT, nr: 1 }, load(0)];

  it('the kernels are in step again only when the files agree too (what an unmapped file page would read)', () => {
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), new BatchedNoMigrc(), G, ops).ok).toBe(true);
  });

  it("a window's outcome leaves out the file page a store through a stale translation made unfixed", () => {
    const { bad } = runAll(new BatchedKernel(), [...ops.slice(0, 5), { kind: 'drain' }]);
    expect(bad).toBeNull();
  });
});

describe('file mappings: deliberate simplifications (docs/fidelity/files.md)', () => {
  it('GUP of a file mapping is not modelled: GUP stops at the first page of a file VMA', () => {
    for (const k of KERNELS()) {
      const { bad, run, values } = runAll(k, [mmap(0), store(0), { kind: 'gup', cpu: 0, mm: 0, vpn: HOT, nr: 1, pin: true, write: false, fast: false }]);
      expect(bad, k.name).toBeNull();
      expect(values[2], k.name).toBeNull();
      expect(run.machine.handles, k.name).toHaveLength(0);
    }
  });

  it('migration, reclaim and MADV_PAGEOUT leave file folios alone', () => {
    for (const k of KERNELS()) {
      for (const op of [{ kind: 'migrate', mm: 0, vpn: HOT, count: 1 }, { kind: 'reclaim', mm: 0, vpn: HOT, count: 1 }, { kind: 'madvise', mm: 0, vpn: HOT, nr: 1, advice: 'pageout' }] as Op[]) {
        const { bad, run } = runAll(k, [mmap(0), store(0), op]);
        expect(bad, `${k.name} ${op.kind}`).toBeNull();
        const page = fileAt(run.machine, 0).cache[0];
        expect(present(run, 0, HOT)?.pfn, `${k.name} ${op.kind}`).toBe(page);
      }
    }
  });

  it("fault-around: a read fault maps the page-cache pages around it, read-only and clean, within its table and its VMA; it reads nothing in", () => {
    // File 1's first folio (pages 0-3): pages 0-1 mapped MAP_SHARED at 21-22, pages 2-3 MAP_PRIVATE at 23-24.
    const ops = [mmap(1, HOT, 2, 0), priv(1, HOT + 2, 2, 2), load(0, HOT), load(0, HOT + 1), load(0, HOT + 3)];
    for (const k of KERNELS()) {
      const first = runAll(k, ops.slice(0, 3));
      // Nothing was cached: __do_fault() read the folio in and finish_fault() mapped one page.
      expect([0, 1, 2, 3].map((d) => present(first.run, 0, HOT + d) !== null), k.name).toEqual([true, false, false, false]);
      const { bad, run } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect([0, 1, 2, 3].map((d) => present(run, 0, HOT + d) !== null), k.name).toEqual([true, true, true, true]);
      const pte = present(run, 0, HOT + 2)!;
      expect([pte.writable, pte.dirty, pte.young], k.name).toEqual([false, false, false]); // mapped around HOT + 3, old
      expect(run.machine.marks['fault-around mapped a cached page'], k.name).toBe(1); // HOT + 2 only: HOT + 1 was the faulting page
      // The VMA bounds it: the load at HOT + 1 mapped nothing of the private VMA after it.
      const second = runAll(k, ops.slice(0, 4));
      expect([2, 3].map((d) => present(second.run, 0, HOT + d) !== null), k.name).toEqual([false, false]);
    }
  });
});

