import { describe, expect, it } from 'vitest';
import { mmId, vpn as asVpn } from '../models/machine/ids';
import { folioAt } from '../models/machine/frames';
import { pteAt } from '../models/machine/pgtable';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { OpResult } from '../models/result';
import type { Op } from '../src/ops/op';
import { runDifferential } from '../src/run/differential';
import { Bench, SMALL } from './__helpers__/bench';
import { op } from './__helpers__/ops';

/**
 * Reclaim, swap and MADV_FREE on fixed scenarios (docs/fidelity/reclaim.md), on both kernels
 * with the ledger audited after every op, and differentially: what a swap-out and swap-in give
 * back, when a lazyfree page may be dropped, how MADV_PAGEOUT treats a large folio, and the
 * fallback when no run of swap slots fits a large folio.
 */
const KERNELS = [() => new ReferenceKernel(), () => new BatchedKernel()] as const;

/** Runs `ops` on each kernel (ledger audited); returns each kernel's bench and results. */
function onBoth(ops: readonly Op[]): Array<{ bench: Bench; results: OpResult[] }> {
  expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, ops).ok).toBe(true);
  return KERNELS.map((make) => {
    const bench = new Bench(make(), true);
    return { bench, results: bench.run(ops).map((a) => a.result) };
  });
}

const value = (r: OpResult | undefined): number | null => (r?.kind === 'value' ? r.value : null);

describe('swap-out and swap-in', () => {
  it('a stored page is swapped out by reclaim (its PTE a swap entry, the folio freed) and a load brings the value back', () => {
    for (const { bench, results } of onBoth([op.write(0, 0, 21), op.reclaim(0, 21, 1), op.read(1, 0, 21)])) {
      expect(results[1]).toEqual({ kind: 'reclaimed', folios: 1 });
      expect(value(results[2])).toBe(1);
      expect(bench.m.marks['reclaim swapped a folio out']).toBe(1);
    }
  });

  it('a read swap-in keeps the page in the swap cache, mapped writable (the entry was exclusive); a store swap-in frees the swap cache (should_try_to_free_swap())', () => {
    for (const { bench } of onBoth([op.write(0, 0, 21), op.reclaim(0, 21, 1), op.read(1, 0, 21)])) {
      expect(bench.m.marks['swap-in mapped a swap-cache page']).toBe(1);
      const pte = pteAt(bench.m, mmId(0), asVpn(21));
      expect(pte?.kind === 'present' && pte.writable).toBe(true);
      if (pte?.kind === 'present') expect(folioAt(bench.m, pte.pfn).swap).not.toBeNull();
    }
    for (const { bench } of onBoth([op.write(0, 0, 21), op.reclaim(0, 21, 1), op.write(1, 0, 21)])) {
      expect(bench.m.marks['swap-in freed the swap cache']).toBe(1);
      const pte = pteAt(bench.m, mmId(0), asVpn(21));
      expect(pte?.kind === 'present' && pte.writable && pte.dirty).toBe(true);
      if (pte?.kind === 'present') expect(folioAt(bench.m, pte.pfn).swap).toBeNull();
    }
  });
});

describe('MADV_FREE (lazyfree)', () => {
  it('a clean lazyfree page is discarded by reclaim: it reads 0 afterwards', () => {
    for (const { bench, results } of onBoth([op.write(0, 0, 21), op.madvise(0, 21, 1, 'free'), op.reclaim(0, 21, 1), op.read(0, 0, 21)])) {
      expect(bench.m.marks['reclaim discarded a clean lazyfree folio']).toBe(1);
      expect(value(results[3])).toBe(0);
    }
  });

  it('a page stored to after MADV_FREE keeps its data: reclaim swaps it out instead of discarding it', () => {
    for (const { bench, results } of onBoth([op.write(0, 0, 21), op.madvise(0, 21, 1, 'free'), op.write(1, 0, 21), op.reclaim(0, 21, 1), op.read(0, 0, 21)])) {
      expect(bench.m.marks['reclaim found a lazyfree folio redirtied']).toBe(1);
      expect(bench.m.marks['reclaim discarded a clean lazyfree folio']).toBeUndefined();
      expect(value(results[4])).toBe(3);
    }
  });
});

describe('MADV_PAGEOUT on a PTE-mapped large folio (seed 001)', () => {
  it('a folio the range maps whole is paged out whole: no split', () => {
    for (const { bench, results } of onBoth([op.map(0, 16, 4), op.madvise(0, 16, 16, 'pageout')])) {
      expect(results[1]).toEqual({ kind: 'reclaimed', folios: 1 });
      expect(bench.m.marks['madvise split a large folio']).toBeUndefined();
      expect(pteAt(bench.m, mmId(0), asVpn(16))?.kind).toBe('swap');
    }
  });

  it('a folio the range covers only in part is split first, and only the pages in range are paged out', () => {
    for (const { bench } of onBoth([op.map(0, 16, 4), op.madvise(0, 18, 2, 'pageout')])) {
      expect(bench.m.marks['madvise split a large folio']).toBe(1);
      expect(pteAt(bench.m, mmId(0), asVpn(18))?.kind).toBe('swap');
      expect(pteAt(bench.m, mmId(0), asVpn(17))?.kind).toBe('present');
    }
  });

  it('a folio fork shares is mapped elsewhere (folio_mapcount() != folio_nr_pages()): left alone', () => {
    for (const { bench, results } of onBoth([op.map(0, 16, 4), op.fork(0), op.madvise(0, 16, 16, 'pageout')])) {
      expect(results[2]).toEqual({ kind: 'reclaimed', folios: 0 });
      expect(pteAt(bench.m, mmId(0), asVpn(16))?.kind).toBe('present');
    }
  });
});

describe('no run of free swap slots fits a large folio', () => {
  // Each round swaps a 16-page folio out to the next wholly free 16-slot block, keeps one of its
  // swap entries (moved by mremap to a parking page) and zaps the other 15, so the block stays in
  // use. After 32 rounds (512 slots) every block has a slot in use: a large folio's add_to_swap()
  // fails, and shrink_folio_list() splits it and swaps the pieces out one slot at a time.
  const rounds: Op[] = [];
  for (let r = 0; r < 32; r++) {
    const mm = r < 16 ? 0 : 1;
    if (r === 16) rounds.push(op.fork(0));
    const park = (mm === 0 ? 48 : 32) + (r % 16);
    rounds.push(op.map(mm, 0, 4), op.reclaim(mm, 0, 1), op.mremap(mm, 0, park, 1), op.zap(mm, 0, 16));
  }
  const ops = [...rounds, op.map(0, 0, 4), op.write(0, 0, 5), op.reclaim(0, 0, 1), op.read(1, 0, 5)];

  it('reclaim marks the failure, splits the folio and swaps its 16 pages out as order-0 folios; the stored value comes back', () => {
    for (const { bench, results } of onBoth(ops)) {
      expect(bench.m.marks['add_to_swap found no free slot run']).toBe(1);
      expect(bench.m.marks['reclaim split a large folio']).toBe(1);
      expect(results[results.length - 2]).toEqual({ kind: 'reclaimed', folios: 16 });
      expect(value(results[results.length - 1])).toBe(rounds.length + 2);
    }
  });
});
