import { describe, expect, it } from 'vitest';
import type { MmId, Vpn } from '../models/machine/ids';
import { cpuId, mmId, vpn as asVpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import type { PmdEntry, Pte } from '../models/machine/pte';
import { folioAt, frameAt } from '../models/machine/frames';
import { pmdAt, pteAt, setPte } from '../models/machine/pgtable';
import { tlbLookup } from '../models/machine/tlb';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { pteFlagsNeedFlush, x86HugePmdNeedsFlush, x86PteNeedsFlush } from '../models/reference/pteNeedsFlush';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { MmuGather } from '../models/batched/mmuGather';
import fc from 'fast-check';
import { opArb } from '../src/arbitraries/ops';
import type { Op } from '../src/ops/op';
import { runDifferential } from '../src/run/differential';
import { Bench, SMALL, violationOf } from './__helpers__/bench';
import { op } from './__helpers__/ops';

/**
 * mprotect() and mremap() as Linux 6.12 does them on x86 (issue 9 item 5, review rows 10 and 11):
 * x86's `pte_needs_flush()` rules, `change_pte_range()` through an mmu_gather with one flush at
 * `tlb_finish_mmu()`, `move_ptes()` flushing the old range once under the PTL, and the PMD-level
 * moves `move_normal_pmd()` / `move_huge_pmd()`.
 */

const PPT = SMALL.ptrsPerPte;
const THP = SMALL.maxFolioOrder;
const MM0 = mmId(0);

const present = (o: Partial<Extract<Pte, { kind: 'present' }>> = {}): Pte => ({ kind: 'present', pfn: 7 as never, writable: true, dirty: true, young: true, ...o });
const leaf = (o: Partial<Extract<PmdEntry, { kind: 'leaf' }>> = {}): PmdEntry => ({ kind: 'leaf', pfn: 16 as never, writable: true, dirty: true, young: true, ...o });

/** Flush calls an op made. */
function flushesOf(b: Bench, o: Op): number {
  const before = b.m.stats.tlbFlushCalls;
  b.apply(o);
  return b.m.stats.tlbFlushCalls - before;
}

describe("x86 pte_needs_flush() / huge_pmd_needs_flush() (arch/x86/include/asm/tlbflush.h, 6.12)", () => {
  it('flushes when RW changes in either direction (_PAGE_RW is in flush_on_change)', () => {
    expect(x86PteNeedsFlush(present(), present({ writable: false }))).toBe(true);
    expect(x86PteNeedsFlush(present({ writable: false }), present())).toBe(true);
  });

  it('flushes a cleared dirty bit, not a set one; ignores the accessed bit for PTEs only', () => {
    expect(x86PteNeedsFlush(present(), present({ dirty: false }))).toBe(true);
    expect(x86PteNeedsFlush(present({ dirty: false }), present())).toBe(false);
    expect(x86PteNeedsFlush(present(), present({ young: false }))).toBe(false);
    expect(x86HugePmdNeedsFlush(leaf(), leaf({ young: false }))).toBe(true);
    expect(pteFlagsNeedFlush({ present: true, writable: true, dirty: true, young: true }, { present: true, writable: true, dirty: true, young: false }, true)).toBe(false);
  });

  it('never flushes a non-present old entry, always a changed PFN or a cleared one', () => {
    expect(x86PteNeedsFlush({ kind: 'none' }, present())).toBe(false);
    expect(x86PteNeedsFlush(present(), present({ pfn: 8 as never }))).toBe(true);
    expect(x86PteNeedsFlush(present(), { kind: 'none' })).toBe(true);
    expect(x86PteNeedsFlush(present(), present())).toBe(false);
    expect(x86HugePmdNeedsFlush({ kind: 'none' }, leaf())).toBe(false);
  });
});

describe('mprotect: change_pte_range() (mm/mprotect.c, 6.12)', () => {
  it('flushes an RW upgrade too, so no CPU keeps the read-only entry (reference and batched)', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const b = new Bench(k);
      b.run([op.map(0, 0, 0), op.mprotect(0, 0, 1, false), op.read(1, 0, 0)]);
      expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(0))).toMatchObject({ writable: false });
      b.apply(op.mprotect(0, 0, 1, true));
      expect(b.pte(0, 0).writable).toBe(true);
      expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(0))).toBeUndefined();
    }
  });

  it('the reference flushes each downgraded PTE at once; batched flushes the gathered range once at tlb_finish_mmu()', () => {
    const ref = new Bench(new ReferenceKernel());
    ref.apply(op.map(0, 0, 2));
    expect(flushesOf(ref, op.mprotect(0, 0, 4, false))).toBe(4);
    const bat = new Bench(new BatchedKernel());
    bat.apply(op.map(0, 0, 2));
    expect(flushesOf(bat, op.mprotect(0, 0, 4, false))).toBe(1);
    expect(bat.m.marks['mprotect left a flush to tlb_finish_mmu']).toBe(1);
    // mprotect of PTEs already read-only changes nothing and flushes nothing
    expect(flushesOf(bat, op.mprotect(0, 0, 4, false))).toBe(0);
  });

  it('the window: after the PTL is dropped the PTE is read-only, the TLB still writable, and the flush is owed in the gather', () => {
    class Watch extends BatchedKernel {
      seen: { pteWritable: boolean; tlbWritable: boolean | undefined; owed: boolean; start: number; end: number } | null = null;
      override tlbFinishMmu(m: Machine, tlb: MmuGather): void {
        const pte = pteAt(m, tlb.mm, asVpn(2));
        this.seen ??= {
          pteWritable: pte !== null && pte.kind === 'present' && pte.writable,
          tlbWritable: tlbLookup(m, cpuId(1), tlb.mm, asVpn(2))?.writable,
          owed: tlb.clearedPtes,
          start: tlb.start,
          end: tlb.end,
        };
        super.tlbFinishMmu(m, tlb);
      }
    }
    const k = new Watch();
    const b = new Bench(k);
    b.run([op.map(0, 0, 2), op.write(1, 0, 2)]);
    b.apply(op.mprotect(0, 1, 2, false));
    expect(k.seen).toEqual({ pteWritable: false, tlbWritable: true, owed: true, start: 1, end: 3 });
    expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(2))).toBeUndefined();
  });

  it('change_huge_pmd(): a PMD leaf downgrade is recorded with tlb_flush_pmd_range() and flushed at tlb_finish_mmu()', () => {
    class Watch extends BatchedKernel {
      pmdOwed: boolean | null = null;
      override tlbFinishMmu(m: Machine, tlb: MmuGather): void {
        this.pmdOwed ??= tlb.clearedPmds && tlb.start === 0 && tlb.end === PPT;
        super.tlbFinishMmu(m, tlb);
      }
    }
    const k = new Watch();
    const b = new Bench(k);
    b.run([op.map(0, 0, THP, { pmd: true }), op.write(1, 0, 3)]);
    expect(flushesOf(b, op.mprotect(0, 0, PPT, false))).toBe(1);
    expect(k.pmdOwed).toBe(true);
    expect(pmdAt(b.m, MM0, 0)).toMatchObject({ kind: 'leaf', writable: false });
    expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(3))).toBeUndefined();
  });
});

/** Records what each flush saw and when the PTL was dropped. */
class MoveWatch extends BatchedKernel {
  readonly events: string[] = [];
  override flushTlbRange(m: Machine, mm: MmId, start: number, end: number): void {
    this.events.push(`flush ${start}-${end}`);
    super.flushTlbRange(m, mm, start, end);
  }
  override movePtesUnlock(m: Machine, mm: MmId, old: Vpn): void {
    this.events.push('unlock');
    super.movePtesUnlock(m, mm, old);
  }
}

describe('mremap: move_ptes() (mm/mremap.c, 6.12)', () => {
  it('sets every new PTE, then flushes the old range once, then drops the PTL (the CVE-2018-18281 order)', () => {
    class SetBeforeFlush extends MoveWatch {
      override flushTlbRange(m: Machine, mm: MmId, start: number, end: number): void {
        const moved = [0, 1, 2, 3].every((k) => pteAt(m, mm, asVpn(k))?.kind === 'none' && pteAt(m, mm, asVpn(20 + k))?.kind === 'present');
        this.events.push(moved ? 'all new PTEs set' : 'flush before the new PTEs were set');
        super.flushTlbRange(m, mm, start, end);
      }
    }
    const k = new SetBeforeFlush();
    const b = new Bench(k);
    b.run([op.map(0, 0, 2), op.read(1, 0, 1)]);
    k.events.length = 0;
    b.apply(op.mremap(0, 0, 20, 4));
    expect(k.events).toEqual(['all new PTEs set', 'flush 0-4', 'unlock']);
    expect(b.m.marks['mremap flushed a PTE table once']).toBe(1);
    expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(1))).toBeUndefined();
  });

  it('the reference flushes each moved PTE at once', () => {
    const ref = new Bench(new ReferenceKernel());
    ref.apply(op.map(0, 0, 2));
    expect(flushesOf(ref, op.mremap(0, 0, 20, 4))).toBe(4);
  });

  it('limit: flushing after the PTL is dropped is invisible to the oracles while ops are atomic; only the order test sees it', () => {
    class FlushAfterUnlock extends MoveWatch {
      override readonly name: string = 'flush-after-unlock';
      override movePtes(m: Machine, mm: MmId, old: Vpn, oldEnd: Vpn, nu: Vpn): void {
        for (let k = 0; old + k < oldEnd; k++) {
          const pte = pteAt(m, mm, asVpn(old + k));
          if (pte === null || pte.kind === 'none') continue;
          setPte(m, mm, asVpn(old + k), { kind: 'none' });
          setPte(m, mm, asVpn(nu + k), pte);
        }
        this.movePtesUnlock(m, mm, old);
        this.flushTlbRange(m, mm, old, oldEnd);
      }
    }
    const ops = [op.map(0, 0, 2), op.read(1, 0, 1), op.mremap(0, 0, 20, 4), op.write(2, 0, 21), op.read(1, 0, 1), op.zap(0, 20, 4)];
    const k = new FlushAfterUnlock();
    expect(violationOf(runDifferential(new ReferenceKernel(), k, SMALL, ops))).toBeNull();
    expect(k.events.filter((e) => e === 'unlock' || e.startsWith('flush 0-'))).toEqual(['unlock', 'flush 0-4']);
  });
});

describe('mremap: PMD-level moves (move_page_tables(), mm/mremap.c and mm/huge_memory.c, 6.12)', () => {
  it('move_normal_pmd(): a whole aligned PMD moves its PTE table, with one flush of the old PMD range', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const b = new Bench(k);
      b.run([op.map(0, 0, 2), op.map(0, 8, 1), op.read(1, 0, 9)]);
      const table = pmdAt(b.m, MM0, 0);
      expect(flushesOf(b, op.mremap(0, 0, 2 * PPT, PPT))).toBe(1);
      expect(pmdAt(b.m, MM0, 0)).toEqual({ kind: 'none' });
      expect(pmdAt(b.m, MM0, 2)).toEqual(table);
      expect(b.m.marks['mremap moved a PTE table']).toBe(1);
      expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(9))).toBeUndefined();
      expect(b.apply(op.read(1, 0, 2 * PPT + 9)).result).toEqual({ kind: 'value', value: 0 });
    }
  });

  it('move_normal_pmd() refuses a destination PMD that holds a table; move_ptes() moves the entries instead', () => {
    const b = new Bench(new BatchedKernel());
    b.run([op.map(0, PPT, 0), op.zap(0, PPT, 1), op.map(0, 0, 2)]);
    const dst = pmdAt(b.m, MM0, 1);
    b.apply(op.mremap(0, 0, PPT, PPT));
    expect(pmdAt(b.m, MM0, 1)).toEqual(dst);
    expect(pmdAt(b.m, MM0, 0).kind).toBe('table');
    expect(b.m.marks['mremap moved a PTE table']).toBeUndefined();
    expect(b.pte(0, PPT + 3).kind).toBe('present');
  });

  it('MREMAP_FIXED onto a populated destination unmaps it first (its folio is freed, a CPU\'s entry to it flushed), then moves; a table the hole only partly covers stays linked', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const b = new Bench(k);
      const stored = b.apply(op.write(0, 0, 3)).result;
      b.run([op.write(0, 0, PPT + 3), op.read(1, 0, PPT + 3)]);
      const old = b.pte(0, PPT + 3);
      if (old.kind !== 'present') throw new Error('destination not mapped');
      const dstTable = pmdAt(b.m, MM0, 1);
      expect(b.apply(op.mremap(0, 3, PPT + 3, 1)).result).toEqual({ kind: 'done' });
      // the moved page is now at the destination, the old one is gone from every TLB and freed
      expect(b.apply(op.read(1, 0, PPT + 3)).result).toEqual(stored);
      expect(pteAt(b.m, MM0, asVpn(3))?.kind ?? 'none').toBe('none');
      expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(PPT + 3))?.pfn).not.toBe(old.pfn);
      expect(frameAt(b.m, old.pfn).state).toBe('free');
      // free_pgtables() frees only tables wholly inside the hole, which here is one page of table 1
      expect(pmdAt(b.m, MM0, 1)).toEqual(dstTable);
    }
  });

  it('MREMAP_FIXED onto a whole populated PMD: unmap_region() frees its table, so the move takes the none PMD with move_normal_pmd()', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const b = new Bench(k);
      b.run([op.write(0, 0, 3), op.write(0, 0, 2 * PPT + 4)]);
      const src = pmdAt(b.m, MM0, 0);
      expect(b.apply(op.mremap(0, 0, 2 * PPT, PPT)).result).toEqual({ kind: 'done' });
      expect(pmdAt(b.m, MM0, 2)).toEqual(src);
      expect(b.m.marks['mremap moved a PTE table']).toBe(1);
    }
  });

  it('move_huge_pmd(): a PMD leaf moves whole — no split, the same entire mapping and references', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const b = new Bench(k);
      b.run([op.map(0, 0, THP, { pmd: true }), op.read(1, 0, 5)]);
      const before = pmdAt(b.m, MM0, 0);
      if (before.kind !== 'leaf') throw new Error('no PMD leaf');
      const { refcount, largeMapcount } = folioAt(b.m, before.pfn);
      expect(flushesOf(b, op.mremap(0, 0, 3 * PPT, PPT))).toBe(1);
      expect(pmdAt(b.m, MM0, 3)).toEqual(before);
      expect(pmdAt(b.m, MM0, 0)).toEqual({ kind: 'none' });
      expect(folioAt(b.m, before.pfn)).toMatchObject({ refcount, entireMapcount: 1, largeMapcount });
      expect(b.m.marks['mremap moved a PMD leaf']).toBe(1);
      expect(tlbLookup(b.m, cpuId(1), MM0, asVpn(5))).toBeUndefined();
    }
  });

  it('a PMD leaf whose extent is not a whole PMD is split and moved PTE by PTE', () => {
    const b = new Bench(new BatchedKernel());
    b.apply(op.map(0, 0, THP, { pmd: true }));
    b.apply(op.mremap(0, 0, 2 * PPT + 4, PPT));
    expect(pmdAt(b.m, MM0, 0).kind).toBe('table');
    expect(b.pte(0, 2 * PPT + 4).kind).toBe('present');
    expect(b.pte(0, 3 * PPT + 3).kind).toBe('present');
    expect(b.m.marks['mremap moved a PMD leaf']).toBeUndefined();
  });
});

describe('equivalence: moving a whole table vs moving PTEs', () => {
  const ops: Op[] = [
    op.map(0, 0, 2),
    op.map(0, 8, THP - 1),
    op.read(1, 0, 9),
    op.walkBegin(2, 0, 3, 'gupFast'),
    op.mremap(0, 0, 2 * PPT, PPT),
    op.walkEnd(2),
    op.walkBegin(2, 0, 1, 'pteOffsetMap'),
    op.freeTable(0, 0),
    op.walkEnd(2),
    op.read(1, 0, 2 * PPT + 9),
    op.mremap(0, 2 * PPT, 4, 12),
    op.zap(0, 4, 12),
  ];

  it('reference and batched keep the same layout and counts through table moves and PTE moves', () => {
    expect(violationOf(runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, ops))).toBeNull();
  });

  it('limit: a kernel without CONFIG_HAVE_MOVE_PMD (PTEs moved, the emptied table left) is reported: the table layout is compared state', () => {
    class NoMovePmd extends BatchedKernel {
      override readonly name: string = 'no-move-pmd';
      override moveNormalPmd(): boolean {
        return false;
      }
    }
    const v = violationOf(runDifferential(new ReferenceKernel(), new NoMovePmd(), SMALL, ops));
    expect(v).toMatchObject({ code: 'divergence', step: 4 });
  });
});

describe('the generator reaches the PMD-level moves', () => {
  it('produces whole-PMD, PMD-aligned mremaps (move_normal_pmd(), move_huge_pmd()) in more than 2% of ops', () => {
    const ops = fc.sample(opArb(SMALL), { numRuns: 5000, seed: 9 });
    const aligned = ops.filter((o) => o.kind === 'mremap' && o.from % PPT === 0 && o.to % PPT === 0 && o.nr % PPT === 0 && o.from !== o.to);
    expect(aligned.length / ops.length).toBeGreaterThan(0.02);
  });
});
