import { describe, expect, it } from 'vitest';
import { cpuId, mmId, pfn as asPfn, vpn as asVpn } from '../models/machine/ids';
import type { ReferenceKernel as Kernel } from '../models/reference/ReferenceKernel';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { tlbLookup } from '../models/machine/tlb';
import { Bench } from './__helpers__/bench';
import { PIN_RO, op } from './__helpers__/ops';

/**
 * `migrate_pages_batch()` (mm/migrate.c, 6.12; review row 14) splits a partially mapped large
 * folio first — more than two pages, on the deferred split list, PG_partially_mapped — with
 * `try_split_folio()`, and `migrate_pages()` migrates the pieces as order-0 folios. A split that
 * fails (`can_split_folio()`: a pin) leaves the folio to be migrated whole, which the same pin
 * then stops.
 */

const KERNELS = [
  ['reference', (): Kernel => new ReferenceKernel()],
  ['batched', (): Kernel => new BatchedKernel()],
] as const;

/** An order-2 folio at vpn 0..3 with page 1 zapped: partially mapped, queued for deferred split. */
function partiallyMapped(b: Bench): void {
  b.apply(op.map(0, 0, 2));
  b.apply(op.write(0, 0, 0));
  b.apply(op.write(0, 0, 2));
  b.apply(op.zap(0, 1, 1));
}

describe('try_split_folio() before migrating a partially mapped folio', () => {
  it.each(KERNELS)('%s: the mapped pages are migrated as order-0 folios, with their contents; the unmapped page is freed', (_n, make) => {
    const b = new Bench(make(), true);
    partiallyMapped(b);
    const old = [0, 2, 3].map((v) => b.pte(0, v).pfn);
    expect(b.folio(old[0]!).deferredSplit).toBe(true);
    const values = [0, 2, 3].map((v) => b.frame(b.pte(0, v).pfn).content);
    const r = b.apply(op.migrate(0, 0, 1));
    expect(r.result).toEqual({ kind: 'migrated', folios: 3 });
    for (const [i, v] of [0, 2, 3].entries()) {
      const p = b.pte(0, v);
      expect(old).not.toContain(p.pfn);
      expect(b.folio(p.pfn).order).toBe(0);
      expect(b.frame(p.pfn).content).toBe(values[i]);
      expect(b.frame(p.pfn).anonExclusive).toBe(true);
    }
    expect(b.frame(asPfn(old[0]! + 1)).state).toBe('free');
  });

  it.each(KERNELS)('%s: a fully mapped large folio is migrated whole (control)', (_n, make) => {
    const b = new Bench(make(), true);
    b.apply(op.map(0, 0, 2));
    const r = b.apply(op.migrate(0, 0, 1));
    expect(r.result).toEqual({ kind: 'migrated', folios: 1 });
    expect(b.folio(b.pte(0, 0).pfn).order).toBe(2);
  });

  it.each(KERNELS)('%s: a pin makes can_split_folio() fail; the folio is then tried whole and the pin stops that too', (_n, make) => {
    const b = new Bench(make(), true);
    partiallyMapped(b);
    b.apply(op.read(1, 0, 0));
    b.apply(op.gup(0, 0, 2, 1, PIN_RO));
    const before = [0, 2, 3].map((v) => b.pte(0, v));
    const r = b.apply(op.migrate(0, 0, 1));
    expect(r.result).toEqual({ kind: 'migrated', folios: 0 });
    expect([0, 2, 3].map((v) => b.pte(0, v))).toEqual(before);
    expect(b.folio(before[0]!.pfn).order).toBe(2);
    expect(b.m.marks['migration split a partially mapped folio']).toBeUndefined();
    // The whole-folio attempt cleared and flushed the first PTE before folio_try_share_anon_rmap_pte() refused.
    expect(tlbLookup(b.m, cpuId(1), mmId(0), asVpn(0))).toBeUndefined();
  });
});
