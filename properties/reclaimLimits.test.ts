import { describe, expect, it } from 'vitest';
import { mmId, vpn as asVpn } from '../models/machine/ids';
import { folioAt } from '../models/machine/frames';
import { pmdAt, pteAt } from '../models/machine/pgtable';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { OpResult } from '../models/result';
import type { Op } from '../src/ops/op';
import { runDifferential } from '../src/run/differential';
import { Bench, SMALL } from './__helpers__/bench';
import { op } from './__helpers__/ops';

/**
 * Where the model of reclaim and swap stops short of 6.12 on purpose (docs/fidelity/reclaim.md,
 * "Deliberate simplifications"): each test shows what the model does where 6.12 may do more, so
 * a change that lifts a simplification has to change its test.
 */
function onBoth(ops: readonly Op[]): Array<{ bench: Bench; results: OpResult[] }> {
  expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, ops).ok).toBe(true);
  return [() => new ReferenceKernel(), () => new BatchedKernel()].map((make) => {
    const bench = new Bench(make(), true);
    return { bench, results: bench.run(ops).map((a) => a.result) };
  });
}

describe('deliberate simplifications of reclaim and swap, shown', () => {
  it('writeback is synchronous: a dirty page written out is freed by the same reclaim (with an asynchronous device 6.12 keeps it under writeback until a later pass)', () => {
    for (const { bench, results } of onBoth([op.write(0, 0, 21), op.reclaim(0, 21, 1)])) {
      expect(results[1]).toEqual({ kind: 'reclaimed', folios: 1 });
      const pte = pteAt(bench.m, mmId(0), asVpn(21));
      expect(pte?.kind).toBe('swap');
      // The slot holds the data and no page: the folio left the swap cache in the same pass.
      if (pte?.kind === 'swap') expect(bench.m.swap?.slots[pte.slot]).toMatchObject({ content: 1, cached: null, count: 1 });
    }
  });

  it('do_swap_page() brings back one order-0 page of a swapped-out large folio; its other pages stay swap entries (6.12 can swap in the whole folio)', () => {
    for (const { bench } of onBoth([op.map(0, 0, 4), op.reclaim(0, 0, 1), op.read(0, 0, 3)])) {
      const pte = pteAt(bench.m, mmId(0), asVpn(3));
      expect(pte?.kind).toBe('present');
      if (pte?.kind === 'present') expect(folioAt(bench.m, pte.pfn).order).toBe(0);
      for (const v of [0, 1, 2, 4, 15]) expect(pteAt(bench.m, mmId(0), asVpn(v))?.kind).toBe('swap');
    }
  });

  it('a PMD-mapped lazyfree THP: reclaim splits its PMD to PTEs and discards it through them, not at the PMD (unmap_huge_pmd_locked())', () => {
    const ops = [op.map(0, 16, 4, { pmd: true }), op.madvise(0, 16, 16, 'free'), op.reclaim(0, 16, 1)];
    for (const { bench, results } of onBoth(ops)) {
      expect(pmdAt(bench.m, mmId(0), 1).kind).toBe('table');
      expect(bench.m.marks['reclaim discarded a clean lazyfree folio']).toBeGreaterThan(0);
      expect(results[2]?.kind).toBe('reclaimed');
    }
  });
});
