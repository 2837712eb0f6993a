import { describe, expect, it } from 'vitest';
import { cpuId, mmId, vpn as asVpn } from '../models/machine/ids';
import type { Pfn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { tlbLookup } from '../models/machine/tlb';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { runCheck } from '../src/check/runCheck';
import { Bench } from './__helpers__/bench';
import { GET_RO, PIN_RO, op } from './__helpers__/ops';

/**
 * Migration as 6.12 (review rows 5 and 13): a move can fail after the folio was unmapped, and is
 * undone; an exclusive page is shared (`folio_try_share_anon_rmap_pte()`) before its migration
 * entry is installed, which backs off for a maybe-pinned folio. Both are visible in the TLBs:
 * the kernel clears and flushes a PTE before it knows whether the migration will go through.
 */

const mm0 = mmId(0);
const cpu1 = cpuId(1);

const KERNELS = [
  ['reference', (): ReferenceKernel => new ReferenceKernel()],
  ['batched', (): ReferenceKernel => new BatchedKernel()],
] as const;

function cached(m: Machine, v: number): boolean {
  return tlbLookup(m, cpu1, mm0, asVpn(v)) !== undefined;
}

describe('__migrate_folio() finds an extra reference after unmapping: migrate_folio_undo_src()', () => {
  it.each(KERNELS)('%s: a GUP reference makes the move fail; the PTE comes back with its write, dirty, young and exclusive bits', (_n, make) => {
    const b = new Bench(make(), true);
    b.apply(op.write(0, 0, 5)); // an exclusive, writable, dirty page
    b.apply(op.read(1, 0, 5)); // CPU 1 caches it
    b.apply(op.gup(0, 0, 5, 1, GET_RO)); // FOLL_GET: a reference, not a pin
    const before = b.pte(0, 5);
    const r = b.apply(op.migrate(0, 5, 1));
    expect(r.result).toEqual({ kind: 'migrated', folios: 0 });
    expect(b.pte(0, 5)).toEqual(before);
    expect(b.frame(before.pfn).anonExclusive).toBe(true);
    // try_to_migrate() cleared and flushed the PTE before __migrate_folio() saw the reference.
    expect(cached(b.m, 5)).toBe(false);
  });

  it('batched: the failed move is undone after the batch flush (the cleanup of migrate_pages_batch())', () => {
    const b = new Bench(new BatchedKernel(), true);
    b.apply(op.write(0, 0, 5));
    b.apply(op.gup(0, 0, 5, 1, GET_RO));
    b.apply(op.migrate(0, 5, 1));
    expect(b.m.marks['migration undone after the move failed']).toBe(1);
    expect(b.m.marks['migration backed off: the folio may be pinned']).toBeUndefined();
  });
});

describe('try_to_migrate_one() → folio_try_share_anon_rmap_pte(): a maybe-pinned exclusive page backs off', () => {
  it('reference: the first PTE is cleared, flushed and restored; the rmap walk stops there', () => {
    const b = new Bench(new ReferenceKernel(), true);
    b.apply(op.map(0, 0, 2)); // one order-2 folio, exclusive, writable, PTE-mapped at vpn 0..3
    b.apply(op.read(1, 0, 0));
    b.apply(op.read(1, 0, 2));
    b.apply(op.gup(0, 0, 2, 1, PIN_RO)); // a pin: folio_maybe_dma_pinned()
    const before = [0, 1, 2, 3].map((v) => b.pte(0, v));
    const r = b.apply(op.migrate(0, 0, 1));
    expect(r.result).toEqual({ kind: 'migrated', folios: 0 });
    expect([0, 1, 2, 3].map((v) => b.pte(0, v))).toEqual(before);
    expect([0, 1, 2, 3].every((v) => b.frame(b.pte(0, v).pfn).anonExclusive)).toBe(true);
    expect(cached(b.m, 0)).toBe(false); // A1: ptep_clear_flush() before the share test
    expect(cached(b.m, 2)).toBe(true); // never reached: the walk stopped at vpn 0
  });

  it('batched: the deferred flush is still owed, the folio is put back at once', () => {
    const b = new Bench(new BatchedKernel(), true);
    b.apply(op.write(0, 0, 5));
    b.apply(op.read(1, 0, 5));
    b.apply(op.gup(0, 0, 5, 1, PIN_RO));
    const before = b.pte(0, 5);
    b.apply(op.migrate(0, 5, 1));
    expect(b.pte(0, 5)).toEqual(before);
    expect(b.m.marks['migration backed off: the folio may be pinned']).toBe(1);
    expect(cached(b.m, 5)).toBe(false); // set_tlb_ubc_flush_pending() ran, try_to_unmap_flush() flushed
  });

  it('a PMD-mapped folio: folio_try_share_anon_rmap_pmd() backs off after pmdp_invalidate() and the leaf is restored', () => {
    const b = new Bench(new ReferenceKernel(), true);
    b.apply(op.map(0, 16, 4, { pmd: true }));
    b.apply(op.read(1, 0, 17));
    b.apply(op.gup(0, 0, 17, 1, PIN_RO));
    const pmdBefore = b.m.mms[0]?.pmds[1];
    const r = b.apply(op.migrate(0, 16, 1));
    expect(r.result).toEqual({ kind: 'migrated', folios: 0 });
    expect(b.m.mms[0]?.pmds[1]).toEqual(pmdBefore);
    expect(cached(b.m, 17)).toBe(false); // pmdp_invalidate() flushed before the share test
  });
});

describe('GUP-fast against migration (the A1–A4 / B1–B5 ordering of include/linux/rmap.h)', () => {
  it.each(KERNELS)('%s: a GUP-fast pin taken before the migration makes it back off; the walk keeps its page', (_n, make) => {
    const b = new Bench(make(), true);
    b.apply(op.write(0, 0, 5));
    b.apply(op.read(1, 0, 5));
    b.apply(op.walkBegin(2, 0, 5, 'gupFast', true, false)); // B1–B3: read the PTE, pin
    const before = b.pte(0, 5);
    expect(b.apply(op.migrate(0, 5, 1)).result).toEqual({ kind: 'migrated', folios: 0 }); // A2 sees the pin
    expect(cached(b.m, 5)).toBe(false);
    const r = b.apply(op.walkEnd(2)); // B4: the PTE is the same value again; B5: still exclusive
    expect(r.result).toEqual({ kind: 'handle', handle: 0, pages: 1 });
    expect(b.m.handles[0]?.pages[0]?.pfn).toBe(before.pfn);
    expect(b.frame(before.pfn).anonExclusive).toBe(true);
  });

  it.each(KERNELS)('%s: a GUP-fast reference (FOLL_GET) does not stop the unmap but fails the move; the recheck still passes', (_n, make) => {
    const b = new Bench(make(), true);
    b.apply(op.write(0, 0, 5));
    b.apply(op.read(1, 0, 5));
    b.apply(op.walkBegin(2, 0, 5, 'gupFast', false, false));
    const before = b.pte(0, 5);
    expect(b.apply(op.migrate(0, 5, 1)).result).toEqual({ kind: 'migrated', folios: 0 });
    expect(cached(b.m, 5)).toBe(false); // unmapped (and flushed) before the move failed
    expect(b.apply(op.walkEnd(2)).result).toEqual({ kind: 'handle', handle: 0, pages: 1 });
    expect(b.pte(0, 5)).toEqual(before);
  });
});

/**
 * The limit (a deliberate consequence of atomic ops, review row 1): without
 * `folio_try_share_anon_rmap_pte()`, a pinned folio is unmapped and then fails the move's
 * reference count check instead, and the undo restores PageAnonExclusive from the
 * readable-exclusive entries; the only difference is how many TLB entries were flushed, which no
 * oracle compares. So "no share protocol" cannot be a mutant here: it is indistinguishable.
 */
class NoAnonShare extends BatchedKernel {
  override readonly name: string = 'no-anon-share-before-migration';
  override folioTryShareAnonRmapPte(_m: Machine, _src: Pfn, _page: Pfn): boolean {
    return true;
  }
  override folioTryShareAnonRmapPmd(_m: Machine, _head: Pfn): boolean {
    return true;
  }
}

describe('limit: dropping the share protocol is not observable with atomic ops', () => {
  it('the variant unmaps a pinned folio and undoes it, ending where the kernel ends', () => {
    const b = new Bench(new NoAnonShare(), true);
    b.apply(op.write(0, 0, 5));
    b.apply(op.gup(0, 0, 5, 1, PIN_RO));
    const before = b.pte(0, 5);
    b.apply(op.migrate(0, 5, 1));
    expect(b.m.marks['migration undone after the move failed']).toBe(1); // not "backed off"
    expect(b.pte(0, 5)).toEqual(before);
    expect(b.frame(before.pfn).anonExclusive).toBe(true);
  });

  it('a random check without reclaim finds no difference from the reference', () => {
    // Reclaim shares the protocol (try_to_unmap_one() → folio_try_share_anon_rmap_pte()): there
    // a page left PageAnonExclusive in the swap cache is visible to the differential check, so
    // the limit is migration's only.
    const generation = { mode: 'uniform' as const, focus: [], weights: { reclaim: 0, madvise: 0 } };
    const r = runCheck({ kernel: () => new NoAnonShare(), reference: () => new ReferenceKernel(), geometry: geometry('small'), runs: 150, seed: 9, maxOps: 60, generation });
    expect(r.failure).toBeNull();
    expect(r.coverage['mark:migration undone after the move failed'] ?? 0).toBeGreaterThan(0);
  });
});
