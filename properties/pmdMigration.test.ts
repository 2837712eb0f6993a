import { describe, expect, it } from 'vitest';
import { folioNrPages } from '../models/machine/geometry';
import type { MmId, Pfn, Vpn } from '../models/machine/ids';
import { cpuId, mmId, pfn as asPfn, vpn as asVpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import type { LeafPmd, PmdEntry } from '../models/machine/pte';
import { pmdAt, pmdIndexOf, setPmd } from '../models/machine/pgtable';
import { findTlbEntryFor, tlbLookup } from '../models/machine/tlb';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import type { UnmappedMapping } from '../models/reference/migrate';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import type { MigrateUbc } from '../models/batched/migrate';
import type { OpResult } from '../models/result';
import { observe } from '../src/oracles/observe';
import { auditLedger } from '../src/oracles/ledger';
import type { Applied } from '../src/ops/apply';
import type { Op } from '../src/ops/op';
import type { StepObserver } from '../src/run/checkedRun';
import { runDifferential } from '../src/run/differential';
import { Bench, SMALL, catchViolation, violationOf } from './__helpers__/bench';
import { op } from './__helpers__/ops';

/**
 * Fidelity review row 6: a PMD-mapped folio is migrated the 6.12 way. `set_pmd_migration_entry()`
 * (mm/huge_memory.c) flushes the PMD at once through `pmdp_invalidate()` and installs a PMD
 * migration entry remembering writable / readable-exclusive / readable; `remove_migration_pmd()`
 * restores a PMD leaf of the new folio from it. The PMD mapping never reaches `tlb_ubc`, so it is
 * never part of the batched flush, and MIGRC never defers a PMD-mapped source.
 */

const THP = SMALL.maxFolioOrder;
const PPT = SMALL.ptrsPerPte;
const MM0 = mmId(0);
const MM1 = mmId(1);

function leafAt(m: Machine, mm: MmId, v: number): LeafPmd {
  const pmd = pmdAt(m, mm, pmdIndexOf(m, asVpn(v)));
  if (pmd.kind !== 'leaf') throw new Error(`mm ${mm} vpn ${v}: expected a PMD leaf, found ${pmd.kind}`);
  return pmd;
}

/** Any TLB entry, on any CPU, translating into the folio headed at `head` (nr pages). */
function tlbEntryInto(m: Machine, head: Pfn, nr: number): boolean {
  for (let k = 0; k < nr; k++) if (findTlbEntryFor(m, asPfn(head + k)) !== undefined) return true;
  return false;
}

/** What the PMDs of a folio's PMD mappings hold, as the differential observation shows them. */
function pmdsOfMappings(m: Machine, unmapped: readonly UnmappedMapping[]): string[] {
  const o = observe(m, false);
  return unmapped.flatMap((u) => (u.mapping.kind === 'pmd' ? [String(o.mms[u.mapping.mm]?.pmds[u.mapping.pmdIndex])] : []));
}

/** The raw PMD entries of a folio's PMD mappings. */
function rawPmds(m: Machine, unmapped: readonly UnmappedMapping[]): PmdEntry[] {
  return unmapped.flatMap((u) => (u.mapping.kind === 'pmd' ? [pmdAt(m, u.mapping.mm, u.mapping.pmdIndex)] : []));
}

/** The reference, recording what the PMDs hold between unmap and remap (at `migrate_folio_move()`). */
class ReferenceSpy extends ReferenceKernel {
  readonly atRemap: PmdEntry[] = [];
  readonly shown: string[] = [];
  override migrateFolioMove(m: Machine, src: Pfn, dst: Pfn, unmapped: readonly UnmappedMapping[], srcQueued: boolean): boolean {
    this.atRemap.push(...rawPmds(m, unmapped));
    this.shown.push(...pmdsOfMappings(m, unmapped));
    return super.migrateFolioMove(m, src, dst, unmapped, srcQueued);
  }
}

/** The batched kernel, recording the same, and every mm handed to `set_tlb_ubc_flush_pending()`. */
class BatchedSpy extends BatchedKernel {
  readonly atRemap: PmdEntry[] = [];
  readonly shown: string[] = [];
  readonly deferred: MmId[] = [];
  override migrateFolioMove(m: Machine, src: Pfn, dst: Pfn, unmapped: readonly UnmappedMapping[], srcQueued: boolean): boolean {
    this.atRemap.push(...rawPmds(m, unmapped));
    this.shown.push(...pmdsOfMappings(m, unmapped));
    return super.migrateFolioMove(m, src, dst, unmapped, srcQueued);
  }
  override setTlbUbcFlushPending(m: Machine, batch: MigrateUbc, mm: MmId, writable: boolean, dirty: boolean): void {
    this.deferred.push(mm);
    super.setTlbUbcFlushPending(m, batch, mm, writable, dirty);
  }
}

/**
 * A THP on which MADV_FREE ran while it was exclusive: `madvise_free_huge_pmd()` (mm/huge_memory.c)
 * leaves the PMD clean and old. Anonymous PMDs the other ops create are always dirty, and only a
 * clean read-only mapping can go to MIGRC's `tlb_ubc_ro`; this is the state in which the old model
 * deferred a PMD's flush.
 */
function madvFreeThp(m: Machine, mm: MmId, v: Vpn): void {
  const i = pmdIndexOf(m, v);
  const pmd = pmdAt(m, mm, i);
  if (pmd.kind === 'leaf') setPmd(m, mm, i, { ...pmd, dirty: false, young: false });
}

class MadvFreeReference extends ReferenceKernel {
  override readonly name: string = 'reference+madv-free-thp';
  override mapAnonFolio(m: Machine, mm: MmId, v: Vpn, order: number, pmdMapped: boolean, first: number, count: number): OpResult {
    const r = super.mapAnonFolio(m, mm, v, order, pmdMapped, first, count);
    if (r.kind === 'done' && pmdMapped) madvFreeThp(m, mm, v);
    return r;
  }
}

class MadvFreeBatched extends BatchedKernel {
  override readonly name: string = 'batched+madv-free-thp';
  override mapAnonFolio(m: Machine, mm: MmId, v: Vpn, order: number, pmdMapped: boolean, first: number, count: number): OpResult {
    const r = super.mapAnonFolio(m, mm, v, order, pmdMapped, first, count);
    if (r.kind === 'done' && pmdMapped) madvFreeThp(m, mm, v);
    return r;
  }
}

describe('PMD migration (set_pmd_migration_entry / remove_migration_pmd, 6.12)', () => {
  it('flushes a PMD mapping at once: one range flush to every CPU in mm_cpumask, nothing through tlb_ubc', () => {
    const k = new BatchedSpy();
    const b = new Bench(k, true);
    b.run([op.map(0, 0, THP, { pmd: true }), op.map(0, PPT, 0), op.read(0, 0, 3), op.read(1, 0, 5), op.write(1, 0, PPT)]);
    const old = leafAt(b.m, MM0, 0).pfn;
    const stats = { ...b.m.stats };
    expect(b.apply(op.migrate(0, 0, 1)).result).toEqual({ kind: 'migrated', folios: 1 });
    // No stale entry to the old folio anywhere, and the PMD mapping owed the batch nothing.
    expect(tlbEntryInto(b.m, old, PPT)).toBe(false);
    expect(k.deferred).toEqual([]);
    expect(b.m.stats.tlbFlushCalls - stats.tlbFlushCalls).toBe(1);
    expect(b.m.stats.tlbFlushIpis - stats.tlbFlushIpis).toBe(2); // cpu0 and cpu1 ran mm0
    // A range flush, not arch_tlbbatch_flush(): CPU 1's entry for an unrelated page survives.
    expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(PPT))).toBeDefined();
  });

  it('MIGRC never defers a PMD-mapped source, even a read-only clean one', () => {
    for (const k of [new MadvFreeBatched(), new BatchedKernel()]) {
      const b = new Bench(k, true);
      b.run([op.map(0, 0, THP, { pmd: true }), op.fork(0), op.read(1, 0, 2), op.read(0, 1, 7)]);
      const old = leafAt(b.m, MM0, 0).pfn;
      expect(b.apply(op.migrate(0, 0, 1)).result).toEqual({ kind: 'migrated', folios: 1 });
      expect(b.m.migrc.pending).toEqual([]);
      expect(b.m.marks['migrc deferred a flush']).toBeUndefined();
      expect(tlbEntryInto(b.m, old, PPT)).toBe(false);
      // Both mms map the new folio by a read-only PMD leaf; it is shared, so not exclusive.
      const now = leafAt(b.m, MM0, 0);
      expect(leafAt(b.m, MM1, 0).pfn).toBe(now.pfn);
      expect([now.writable, leafAt(b.m, MM1, 0).writable]).toEqual([false, false]);
      expect(b.frame(now.pfn).anonExclusive).toBe(false);
      expect(b.folio(now.pfn)).toMatchObject({ refcount: 2, entireMapcount: 2, largeMapcount: 2 });
    }
  });

  const cases: ReadonlyArray<{ readonly name: string; readonly setup: readonly Op[]; readonly access: string; readonly writable: boolean; readonly exclusive: boolean }> = [
    { name: 'an exclusive writable PMD', setup: [op.map(0, 0, THP, { pmd: true }), op.write(1, 0, 4)], access: 'writable', writable: true, exclusive: true },
    {
      name: 'an exclusive PMD made read-only by mprotect',
      setup: [op.map(0, 0, THP, { pmd: true }), op.read(1, 0, 4), op.mprotect(0, 0, PPT, false)],
      access: 'readableExclusive',
      writable: false,
      exclusive: true,
    },
    { name: 'a PMD shared with a child', setup: [op.map(0, 0, THP, { pmd: true }), op.fork(0), op.read(1, 0, 4)], access: 'readable', writable: false, exclusive: false },
  ];
  for (const c of cases) {
    it(`${c.name}: a PMD migration entry between unmap and remap, then a PMD leaf of the new folio`, () => {
      for (const k of [new ReferenceSpy(), new BatchedSpy()]) {
        const b = new Bench(k, true);
        b.run(c.setup);
        const old = leafAt(b.m, MM0, 0);
        b.apply(op.migrate(0, 0, 1));
        // Inside the op: the entry names the old head with what the leaf allowed, and traces show it.
        expect(k.atRemap[0]).toEqual({ kind: 'migration', pfn: old.pfn, access: c.access });
        expect(k.shown[0]).toBe('migration s0.1/0');
        const now = leafAt(b.m, MM0, 0);
        expect(now.pfn).not.toBe(old.pfn);
        expect(now.writable).toBe(c.writable);
        expect(b.frame(now.pfn).anonExclusive).toBe(c.exclusive);
        expect(b.folio(now.pfn).entireMapcount).toBe(b.m.mms.filter((x) => x.alive).length);
        expect(tlbEntryInto(b.m, old.pfn, PPT)).toBe(false);
      }
    });
  }

  it('batched and batched-no-migrc equal the reference on PMD migrations, and no PMD translation outlives its migrate op', () => {
    const seqs: ReadonlyArray<readonly Op[]> = [
      [op.map(0, 0, THP, { pmd: true }), op.fork(0), op.read(1, 0, 2), op.read(0, 1, 9), op.migrate(0, 0, 1), op.read(1, 0, 2), op.read(2, 1, 9), op.write(0, 1, 3), op.migrate(1, 0, 1), op.read(1, 1, 3)],
      [op.map(0, 0, THP, { pmd: true }), op.map(0, PPT, 0), op.read(1, 0, PPT), op.read(1, 0, 1), op.fork(0), op.migrate(0, 0, 3), op.read(2, 1, 1), op.tick(), op.read(1, 0, 1)],
      [op.map(0, 0, THP, { pmd: true }), op.read(1, 0, 0), op.mprotect(0, 0, PPT, false), op.migrate(0, 0, 1), op.read(1, 0, 0), op.mprotect(0, 0, PPT, true), op.write(0, 0, 1), op.migrate(0, 0, 1)],
    ];
    const pairs: ReadonlyArray<readonly [() => ReferenceKernel, () => ReferenceKernel]> = [
      [() => new MadvFreeReference(), () => new MadvFreeBatched()],
      [() => new ReferenceKernel(), () => new BatchedKernel()],
      [() => new ReferenceKernel(), () => new BatchedNoMigrc()],
    ];
    for (const ops of seqs) {
      for (const [ref, other] of pairs) {
        const watch = new PendingPmdWatch();
        const outcome = runDifferential(ref(), other(), SMALL, ops, undefined, watch);
        expect(violationOf(outcome)).toBeNull();
        expect(watch.migrations).toBeGreaterThan(0);
        expect(watch.stalePmdTranslations).toEqual([]);
      }
    }
  });

  it('the ledger reports a PMD migration entry left at an op boundary', () => {
    const b = new Bench();
    b.apply(op.map(0, 0, THP, { pmd: true }));
    const leaf = leafAt(b.m, MM0, 0);
    setPmd(b.m, MM0, 0, { kind: 'migration', pfn: leaf.pfn, access: 'writable' });
    expect(catchViolation(() => auditLedger(b.m, 1))).toMatchObject({ code: 'kernel_warn', message: expect.stringContaining('migration entry left at pmd 0 of mm 0') });
  });

  it('a fault on a PMD migration entry is reported (the kernel would wait in pmd_migration_entry_wait())', () => {
    const b = new Bench();
    b.apply(op.map(0, 0, THP, { pmd: true }));
    const leaf = leafAt(b.m, MM0, 0);
    setPmd(b.m, MM0, 0, { kind: 'migration', pfn: leaf.pfn, access: 'writable' });
    const v = catchViolation(() => b.kernel.handleMmFault(b.m, cpuId(0), MM0, asVpn(1), 'read'));
    expect(v).toMatchObject({ code: 'kernel_warn', message: expect.stringContaining('PMD migration entry') });
    // Nothing was allocated over it.
    expect(pmdAt(b.m, MM0, 0)).toEqual({ kind: 'migration', pfn: leaf.pfn, access: 'writable' });
  });
});

/**
 * Along a differential run, after every migrate op of the kernel under test: no CPU still holds a
 * translation, cached through a PMD leaf, of a folio that PMD no longer maps. MIGRC may keep a
 * source alive for its read-only PTE mappings (the seed's rule), but a PMD mapping was flushed
 * inside the op whatever happened to the rest of the folio.
 */
class PendingPmdWatch implements StepObserver {
  migrations = 0;
  readonly stalePmdTranslations: string[] = [];
  private leaves: Array<{ readonly mm: MmId; readonly i: number; readonly head: Pfn }> = [];

  before(m: Machine, _op: Op | null): void {
    this.leaves = [];
    for (const mm of m.mms) {
      if (!mm.alive) continue;
      mm.pmds.forEach((pmd, i) => {
        if (pmd.kind === 'leaf') this.leaves.push({ mm: mm.id, i, head: pmd.pfn });
      });
    }
  }

  after(m: Machine, applied: Applied): void {
    if (applied.result.kind !== 'migrated') return;
    this.migrations += applied.result.folios;
    for (const { mm, i, head } of this.leaves) {
      const now = pmdAt(m, mm, i);
      if (now.kind === 'leaf' && now.pfn === head) continue;
      const nr = folioNrPages(SMALL.maxFolioOrder);
      for (const c of m.cpus) {
        for (const e of c.tlb.values()) {
          if (e.mm === mm && pmdIndexOf(m, e.vpn) === i && e.pfn >= head && e.pfn < head + nr) this.stalePmdTranslations.push(`cpu${c.id} mm${mm} vpn ${e.vpn}`);
        }
      }
    }
  }
}
