import { describe, expect, it } from 'vitest';
import type { MmId, Pfn } from '../models/machine/ids';
import { cpuId, mmId, pfn as asPfn, vpn as asVpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import type { PresentPte } from '../models/machine/pte';
import { createMachine } from '../models/machine/create';
import { folioAt, folioHead } from '../models/machine/frames';
import { pteAt, setPte } from '../models/machine/pgtable';
import { describeViolation } from '../models/machine/violation';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedGupRuns } from '../models/batched/gupRuns';
import type { MmuGather } from '../models/batched/mmuGather';
import { folioPteBatch } from '../models/batched/folioPteBatch';
import { recordSubpages } from '../models/batched/recordSubpages';
import type { Applied } from '../src/ops/apply';
import { applyOp } from '../src/ops/apply';
import type { Op } from '../src/ops/op';
import { formatOp } from '../src/ops/op';
import { CheckedRun } from '../src/run/checkedRun';
import { firstDifference, observe } from '../src/oracles/observe';
import { GET_RO, PIN_RO, PIN_RO_FAST, op } from './__helpers__/ops';
import { SMALL } from './__helpers__/bench';

/**
 * The batched kernel on hand-written sequences, one per batched path: each runs in lockstep with
 * the reference (every oracle on, observations compared after every op, as the differential
 * check does) and then asserts that the path was really taken.
 */

/** The reference and a batched kernel stepping together; `m` is the batched machine, open for inspection. */
class Lockstep {
  private readonly ref = new CheckedRun(new ReferenceKernel(), SMALL);
  private readonly bat: CheckedRun;
  private step = 0;

  constructor(kernel: ReferenceKernel = new BatchedKernel()) {
    this.bat = new CheckedRun(kernel, SMALL);
  }

  get m(): Machine {
    return this.bat.machine;
  }

  run(...ops: Op[]): Applied[] {
    return ops.map((o) => {
      const i = this.step++;
      const a = this.ref.step(o, i);
      const b = this.bat.step(o, i);
      const where = `step ${i} (${formatOp(o)})`;
      if ('violation' in a) throw new Error(`reference: ${where}: ${describeViolation(a.violation)}`);
      if ('violation' in b) throw new Error(`batched: ${where}: ${describeViolation(b.violation)}`);
      const quiescent = o.kind === 'drain';
      const d =
        firstDifference(a.applied.result, b.applied.result, 'result') ??
        firstDifference(observe(this.ref.machine, quiescent), observe(this.bat.machine, quiescent), 'state');
      if (d !== null) throw new Error(`divergence at ${where}: ${d.path}: ${JSON.stringify(d.a)} vs ${JSON.stringify(d.b)}`);
      return b.applied;
    });
  }

  pte(mm: number, v: number): PresentPte {
    const p = pteAt(this.m, mmId(mm), asVpn(v));
    if (p === null || p.kind !== 'present') throw new Error(`no present PTE at mm ${mm} vpn ${v}`);
    return p;
  }

  marks(name: string): number {
    return this.m.marks[name] ?? 0;
  }
}

const PPT = SMALL.ptrsPerPte;

describe('folioPteBatch', () => {
  /** A machine with the batched kernel and some ops applied, for looking at PTEs directly. */
  function setUp(...ops: Op[]): { m: Machine; pte: (v: number) => PresentPte } {
    const m = createMachine(SMALL);
    const k = new BatchedKernel();
    ops.forEach((o, i) => applyOp(k, m, o, i));
    const pte = (v: number): PresentPte => {
      const p = pteAt(m, mmId(0), asVpn(v));
      if (p === null || p.kind !== 'present') throw new Error(`no PTE at ${v}`);
      return p;
    };
    return { m, pte };
  }
  const batch = (m: Machine, v: number, pte: PresentPte, maxNr: number, ignoreDirty = true) => folioPteBatch(m, mmId(0), asVpn(v), pte, maxNr, { ignoreDirty });

  it('covers a whole PTE-mapped folio and stops at maxNr', () => {
    const { m, pte } = setUp(op.map(0, 0, 4));
    expect(batch(m, 0, pte(0), PPT).nr).toBe(16);
    expect(batch(m, 0, pte(0), 5).nr).toBe(5);
    expect(batch(m, 3, pte(3), PPT - 3).nr).toBe(13);
    expect(batch(m, 0, pte(0), 1).nr).toBe(1);
  });

  it('never crosses into the next folio even when the PFNs continue', () => {
    const { m, pte } = setUp(op.map(0, 0, 2), op.map(0, 4, 2));
    // First fit gives the two folios adjacent frames: only the folio clamp separates them.
    expect(pte(4).pfn).toBe(pte(3).pfn + 1);
    expect(folioHead(m, pte(4).pfn)).not.toBe(folioHead(m, pte(3).pfn));
    expect(batch(m, 0, pte(0), 8).nr).toBe(4);
    expect(batch(m, 2, pte(2), 6).nr).toBe(2);
  });

  it('stops at a none PTE and at a PFN gap', () => {
    const hole = setUp(op.map(0, 0, 3), op.zap(0, 5, 1));
    expect(batch(hole.m, 0, hole.pte(0), 8).nr).toBe(5);
    // Pages 0-3 moved to 20-23 and 4-7 to 16-19: PFNs run backwards across vpn 19/20.
    const swapped = setUp(op.map(0, 0, 3), op.mremap(0, 4, 16, 4), op.mremap(0, 0, 20, 4));
    expect(batch(swapped.m, 16, swapped.pte(16), 8).nr).toBe(4);
  });

  it('ignores the write bit but reports it for the entries after the first', () => {
    const { m, pte } = setUp(op.map(0, 0, 2), op.mprotect(0, 0, 1, false));
    expect(pte(0).writable).toBe(false);
    expect(batch(m, 0, pte(0), 4)).toEqual({ nr: 4, anyWritable: true });
    const ro = setUp(op.map(0, 0, 2), op.mprotect(0, 1, 3, false));
    expect(batch(ro.m, 0, ro.pte(0), 4)).toEqual({ nr: 4, anyWritable: false });
  });
});

describe('folioPteBatch and the dirty bit (FPB_IGNORE_DIRTY)', () => {
  it('zap ignores the dirty bit; fork of a private mapping ends the batch where it changes', () => {
    const m = createMachine(SMALL);
    const k = new BatchedKernel();
    [op.map(0, 0, 2), op.read(0, 0, 2)].forEach((o, i) => applyOp(k, m, o, i));
    // map() populates dirty PTEs; make page 2 clean as a read-faulted page would be.
    const p2 = pteAt(m, mmId(0), asVpn(2));
    if (p2 === null || p2.kind !== 'present') throw new Error('no PTE');
    setPte(m, mmId(0), asVpn(2), { ...p2, dirty: false });
    const first = pteAt(m, mmId(0), asVpn(0)) as PresentPte;
    expect(folioPteBatch(m, mmId(0), asVpn(0), first, 4, { ignoreDirty: true }).nr).toBe(4);
    expect(folioPteBatch(m, mmId(0), asVpn(0), first, 4, { ignoreDirty: false }).nr).toBe(2);
  });

  it("fork gives the child every page's own dirty bit, as the per-page reference does", () => {
    const run = (k: ReferenceKernel): boolean[] => {
      const m = createMachine(SMALL);
      [op.map(0, 0, 2), op.read(0, 0, 2)].forEach((o, i) => applyOp(k, m, o, i));
      const p2 = pteAt(m, mmId(0), asVpn(2)) as PresentPte;
      setPte(m, mmId(0), asVpn(2), { ...p2, dirty: false });
      applyOp(k, m, op.fork(0), 2);
      return [0, 1, 2, 3].map((v) => (pteAt(m, mmId(1), asVpn(v)) as PresentPte).dirty);
    };
    expect(run(new BatchedKernel())).toEqual([true, true, false, true]);
    expect(run(new BatchedKernel())).toEqual(run(new ReferenceKernel()));
  });
});

describe('recordSubpages', () => {
  it('starts at the offset of addr inside the leaf, in pages', () => {
    const head = asPfn(64);
    expect(recordSubpages(head, 16, asVpn(18), asVpn(21))).toEqual([66, 67, 68]);
    expect(recordSubpages(head, 16, asVpn(16), asVpn(32))).toHaveLength(16);
  });
});

describe('batched zap through the mmu_gather', () => {
  it('fills the gather (2 + 3x6 slots), forces a flush and continues the table', () => {
    const t = new Lockstep();
    t.run(...Array.from({ length: PPT }, (_, v) => op.write(v % 3, 0, v)));
    const slots = t.m.stats.gatherSlots;
    t.run(op.zap(0, 0, PPT));
    // One slot per small page; the 13th entry fills local (1) + six batch pages (2 each).
    expect(t.m.stats.gatherSlots - slots).toBe(PPT);
    expect(t.marks('gather full')).toBe(1);
    t.run(op.drain());
  });

  it('zaps a large folio as one "page + nr_pages" entry and drops the references only after the flush', () => {
    const t = new Lockstep();
    t.run(op.map(0, 0, 4), op.read(1, 0, 3), op.gup(0, 0, 2, 2, GET_RO));
    const { rmapCalls, gatherSlots } = t.m.stats;
    const head = folioHead(t.m, t.pte(0, 0).pfn);
    t.run(op.zap(0, 0, PPT));
    expect(t.m.stats.rmapCalls - rmapCalls).toBe(1);
    expect(t.m.stats.gatherSlots - gatherSlots).toBe(2);
    // Only the GUP references are left, and nothing translates to the folio any more.
    expect(folioAt(t.m, head).refcount).toBe(2);
    t.run(op.unpin(0), op.drain());
  });

  it('cuts a batch at the folio end', () => {
    const t = new Lockstep();
    t.run(op.map(0, 0, 2), op.map(0, 4, 2));
    const slots = t.m.stats.gatherSlots;
    t.run(op.zap(0, 0, 8));
    expect(t.m.stats.gatherSlots - slots).toBe(4);
    expect(t.marks('pte batch cut at folio end')).toBeGreaterThanOrEqual(2);
    t.run(op.drain());
  });

  it('cuts a batch at the table end when a folio straddles two tables', () => {
    const t = new Lockstep();
    t.run(op.map(0, 0, 4), op.mremap(0, 0, 40, PPT));
    // fork copies the folio in two batches, one per table: two folio_ref_add() calls.
    const refs = t.m.stats.atomicRefUpdates;
    t.run(op.fork(0));
    expect(t.m.stats.atomicRefUpdates - refs).toBe(2);
    const slots = t.m.stats.gatherSlots;
    t.run(op.zap(0, 40, PPT));
    expect(t.marks('pte batch cut at table end')).toBe(1);
    expect(t.m.stats.gatherSlots - slots).toBe(4);
    t.run(op.exit(1), op.drain());
  });

  it('zaps a PMD mapping as one entry, and exits on a fullmm gather with the tables freed by RCU', () => {
    const t = new Lockstep();
    t.run(op.map(0, 16, 4, { pmd: true }), op.map(0, 0, 4), op.fork(0));
    const slots = t.m.stats.gatherSlots;
    t.run(op.zap(1, 16, PPT));
    expect(t.m.stats.gatherSlots - slots).toBe(1);
    t.run(op.exit(1), op.tick(), op.drain());
    expect(t.m.stats.tableSyncIpis).toBe(0);
  });
});

describe('batched fork', () => {
  it('copies a large folio as one batch', () => {
    const t = new Lockstep();
    t.run(op.map(0, 0, 4));
    const refs = t.m.stats.atomicRefUpdates;
    t.run(op.fork(0));
    expect(t.marks('fork copied a PTE batch')).toBe(1);
    // folio_ref_add(16) once (the child's table allocation is not a folio).
    expect(t.m.stats.atomicRefUpdates - refs).toBe(1);
    expect(t.pte(0, 5).writable).toBe(false);
    t.run(op.drain());
  });

  it('falls back per PTE for a pinned folio: its exclusive pages are copied for the child one by one', () => {
    const t = new Lockstep();
    t.run(op.map(0, 0, 4), op.gup(0, 0, 3, 1, PIN_RO), op.mprotect(0, 8, 1, false));
    const copied = t.m.stats.pagesCopied;
    t.run(op.fork(0));
    expect(t.marks('fork batch fell back for a pinned page')).toBeGreaterThanOrEqual(1);
    // All 16 pages are exclusive and the folio is pinned: every page is copied, one at a time.
    expect(t.m.stats.pagesCopied - copied).toBe(PPT);
    expect(folioHead(t.m, t.pte(1, 3).pfn)).not.toBe(folioHead(t.m, t.pte(0, 3).pfn));
    t.run(op.write(1, 1, 3), op.gupRead(0, 0), op.unpin(0), op.drain());
  });

  it('copies a pinned small page on the single-PTE path (-EAGAIN, preallocate, retry) and still batches its neighbour', () => {
    const t = new Lockstep();
    t.run(op.write(0, 0, 0), op.map(0, 4, 2), op.gup(0, 0, 0, 1, PIN_RO));
    const copied = t.m.stats.pagesCopied;
    t.run(op.fork(0));
    expect(t.m.stats.pagesCopied - copied).toBe(1);
    expect(t.marks('fork copied a PTE batch')).toBe(1);
    expect(t.marks('fork batch fell back for a pinned page')).toBe(0);
    t.run(op.write(1, 1, 0), op.gupRead(0, 0), op.unpin(0), op.drain());
  });
});

describe('batched GUP', () => {
  it('grabs PTE-mapped pages one at a time as 6.12 does (follow_page_pte(), gup_fast_pte_range()), and unpins the folio once', () => {
    for (const flags of [PIN_RO, PIN_RO_FAST]) {
      const t = new Lockstep();
      t.run(op.map(0, 0, 4));
      const refs = t.m.stats.atomicRefUpdates;
      t.run(op.gup(0, 0, 2, 8, flags));
      // try_grab_folio(folio, 1) / try_grab_folio_fast(page, 1) per PTE: a refcount and a pincount update each.
      expect(t.m.stats.atomicRefUpdates - refs).toBe(16);
      expect(folioAt(t.m, folioHead(t.m, t.pte(0, 2).pfn)).pincount).toBe(8);
      t.run(op.unpin(0));
      // unpin_user_pages() → gup_folio_next(): one gup_put_folio(folio, 8).
      expect(t.marks('unpin released a folio run once')).toBe(1);
      t.run(op.drain());
    }
  });

  it('batched-gup-runs (beyond 6.12) grabs a PTE-mapped folio once for a run of its pages', () => {
    for (const flags of [PIN_RO, PIN_RO_FAST]) {
      const t = new Lockstep(new BatchedGupRuns());
      t.run(op.map(0, 0, 4));
      const refs = t.m.stats.atomicRefUpdates;
      t.run(op.gup(0, 0, 2, 8, flags));
      // try_grab_folio(refs = 8) on a large folio: one refcount and one pincount update.
      expect(t.m.stats.atomicRefUpdates - refs).toBe(2);
      expect(folioAt(t.m, folioHead(t.m, t.pte(0, 2).pfn)).pincount).toBe(8);
      expect(t.m.marks['gup grabbed a folio run once']).toBe(1);
      t.run(op.unpin(0), op.drain());
    }
  });

  it('takes the rest of a PMD leaf with one more grab on the slow path (__get_user_pages() page_increm)', () => {
    const t = new Lockstep();
    t.run(op.map(0, 16, 4, { pmd: true }));
    const refs = t.m.stats.atomicRefUpdates;
    const [a] = t.run(op.gup(0, 0, 18, 20, PIN_RO));
    // 14 pages of the leaf (18..31), then the PMD slot after it is empty: a read fault maps a page.
    expect(a?.result).toEqual({ kind: 'handle', handle: 0, pages: 20 });
    const h = t.m.handles[0];
    const leaf = t.m.mms[0]?.pmds[1];
    if (h === undefined || leaf?.kind !== 'leaf') throw new Error('expected a handle and a PMD leaf');
    expect(h.pages.slice(0, 14).map((p) => p.pfn - leaf.pfn)).toEqual(Array.from({ length: 14 }, (_, j) => 2 + j));
    // follow_huge_pmd()'s try_grab_folio(folio, 1), then try_grab_folio(folio, 13): two grabs of
    // two updates each, then six order-0 pages of one update each (a small folio's pin is one add).
    expect(t.m.stats.atomicRefUpdates - refs).toBeGreaterThanOrEqual(4);
    expect(t.marks('gup grabbed the rest of a PMD leaf once')).toBe(1);
    expect(folioAt(t.m, leaf.pfn).pincount).toBe(14);
    t.run(op.gupRead(0, 13), op.unpin(0), op.drain());
  });

  it('takes the subpages of a PMD leaf at the right offset with one grab on the fast path', () => {
    const t = new Lockstep();
    t.run(op.map(0, 16, 4, { pmd: true }));
    const [a] = t.run(op.gup(0, 0, 18, 5, PIN_RO_FAST));
    expect(a?.result).toEqual({ kind: 'handle', handle: 0, pages: 5 });
    const h = t.m.handles[0];
    const leaf = t.m.mms[0]?.pmds[1];
    if (h === undefined || leaf?.kind !== 'leaf') throw new Error('expected a handle and a PMD leaf');
    expect(h.pages.map((p) => p.pfn - leaf.pfn)).toEqual([2, 3, 4, 5, 6]);
    expect(t.marks('gup-fast grabbed a PMD leaf once')).toBe(1);
    t.run(op.gupRead(0, 4), op.unpin(0), op.drain());
  });

  it('faults exactly as the reference when a run meets a page that needs unsharing', () => {
    const t = new Lockstep();
    t.run(op.map(0, 0, 4), op.fork(0), op.exit(1), op.gup(0, 0, 0, PPT, PIN_RO), op.gup(1, 0, 4, 8, GET_RO));
    t.run(op.unpin(0), op.unpin(0), op.drain());
  });
});

describe('batched migration and MIGRC', () => {
  /** A clean read-only page at vpn 5 that CPUs 0 and 1 have cached: MIGRC's candidate. */
  const cleanReadOnly = [op.read(0, 0, 5), op.read(1, 0, 5)];
  // An mprotect(RW) upgrades a PTE only where the VMA was read-only (mprotect_fixup() does nothing
  // when the protection does not change), so the mprotect scenarios start with a read-only VMA.
  const readOnlyVma = [op.mprotect(0, 5, 1, false)];

  it('unmaps a batch of folios and flushes once', () => {
    const t = new Lockstep();
    t.run(op.map(0, 0, 2), op.map(0, 4, 0), op.map(0, 8, 3), op.read(1, 0, 4));
    const flushes = t.m.stats.tlbFlushCalls;
    const [a] = t.run(op.migrate(0, 0, 3));
    expect(a?.result).toEqual({ kind: 'migrated', folios: 3 });
    expect(t.m.stats.tlbFlushCalls - flushes).toBe(1);
    t.run(op.drain());
  });

  it('keeps a read-only source alive without a flush, then gives up on a write fault', () => {
    const t = new Lockstep();
    t.run(...cleanReadOnly);
    const src = folioHead(t.m, t.pte(0, 5).pfn);
    const flushes = t.m.stats.tlbFlushCalls;
    t.run(op.migrate(0, 5, 1));
    expect(t.m.stats.tlbFlushCalls).toBe(flushes);
    expect(t.m.migrc.pending).toEqual([src]);
    expect(folioAt(t.m, src)).toMatchObject({ migrcPending: true, refcount: 1 });
    // CPU 1 still reads through its stale entry to the source: same content as the destination.
    t.run(op.read(1, 0, 5));
    t.run(op.write(0, 0, 5));
    expect(t.m.migrc.pending).toEqual([]);
    expect(t.marks('migrc released by write fault')).toBe(1);
    t.run(op.read(1, 0, 5), op.drain());
  });

  it('mprotect: flush_tlb_batched_pending() flushes the mm before the destination becomes writable; the sources stay pending', () => {
    const t = new Lockstep();
    t.run(...readOnlyVma, ...cleanReadOnly, op.migrate(0, 5, 1));
    const pending = [...t.m.migrc.pending];
    t.run(op.mprotect(0, 5, 1, true));
    expect(t.marks('flush_tlb_batched_pending flushed an mm')).toBe(1);
    expect(t.m.migrc.pending).toEqual(pending);
    t.run(op.write(0, 0, 5), op.read(1, 0, 5), op.drain());
  });

  // x86 6.12 flushes an RW upgrade too (`pte_flags_need_flush()`: _PAGE_RW is in flush_on_change),
  // at `tlb_finish_mmu()`; before that, `change_pte_range()` calls `flush_tlb_batched_pending()`
  // under the PTL, which flushes the whole mm when a batched unmap (a migration, MIGRC's deferred
  // read-only entries included) left a flush owed. The hole Nadav Amit raised — one CPU with a
  // read-only entry to the source, another storing to the destination — would be the window between
  // the upgrade (PTL dropped) and `tlb_finish_mmu()`. Ops are atomic, so these kernels put a store
  // by CPU 0 inside that window themselves.
  class StoreInMprotectWindow extends BatchedKernel {
    override readonly name: string = 'store-in-mprotect-window';
    storeInWindow = false;
    override tlbFinishMmu(m: Machine, tlb: MmuGather): void {
      if (this.storeInWindow && tlb.clearedPtes) this.userAccess(m, cpuId(0), tlb.mm, asVpn(5), true, 77);
      super.tlbFinishMmu(m, tlb);
    }
  }
  /** Breaks the accounting of set_tlb_ubc_flush_pending() (mm/rmap.c, 6.12): mm->tlb_flush_batched is never bumped. */
  class UnmapNotPending extends StoreInMprotectWindow {
    override readonly name: string = 'batched-unmap-not-pending';
    override incTlbFlushBatched(_m: Machine, _mm: MmId): void {}
  }

  it("flush_tlb_batched_pending() in change_pte_range() flushes MIGRC's deferred entries before the upgrade: a store inside mprotect()'s window is safe", () => {
    const k = new StoreInMprotectWindow();
    const t = new Lockstep(k);
    t.run(...readOnlyVma, ...cleanReadOnly, op.migrate(0, 5, 1));
    k.storeInWindow = true;
    // The hazard check at the store passes: no CPU holds a translation to the source any more.
    // (The run stops here: the reference never made the window's store, so later loads differ.)
    t.run(op.mprotect(0, 5, 1, true));
  });

  it('a batched unmap that does not bump mm->tlb_flush_batched lets a store inside mprotect()\'s window race a stale entry to the source', () => {
    const k = new UnmapNotPending();
    const t = new Lockstep(k);
    t.run(...readOnlyVma, ...cleanReadOnly, op.migrate(0, 5, 1));
    k.storeInWindow = true;
    expect(() => t.run(op.mprotect(0, 5, 1, true))).toThrow(/stale_tlb_divergent_write/);
  });

  it('even without that accounting, a store after mprotect() returns is safe on x86: the upgrade was flushed at tlb_finish_mmu()', () => {
    const t = new Lockstep(new UnmapNotPending());
    t.run(...readOnlyVma, ...cleanReadOnly, op.migrate(0, 5, 1), op.mprotect(0, 5, 1, true), op.write(0, 0, 5), op.read(1, 0, 5), op.drain());
  });

  it('releases pending sources when an allocation finds free memory below the watermark', () => {
    const t = new Lockstep();
    // mm 1 holds 64 frames; mm 0 a clean page and 48 more: about 120 frames in use.
    t.run(op.fork(0), op.map(1, 0, 4), op.map(1, 16, 4), op.map(1, 32, 4), op.map(1, 48, 4));
    t.run(...cleanReadOnly, op.map(0, 16, 4), op.map(0, 32, 4), op.map(0, 48, 4));
    t.run(op.migrate(0, 5, 1));
    expect(t.m.migrc.pending).toHaveLength(1);
    t.run(op.zap(1, 0, 1), op.read(2, 1, 0));
    expect(t.m.migrc.pending).toEqual([]);
    expect(t.marks('migrc released by memory pressure')).toBe(1);
    t.run(op.drain());
  });

  it('drain leaves nothing pending', () => {
    const t = new Lockstep();
    t.run(...cleanReadOnly, op.migrate(0, 5, 1), op.drain());
    expect(t.m.migrc.pending).toEqual([]);
  });
});

describe('page-table freeing by RCU', () => {
  const readerScenario = [
    op.write(0, 0, 3),
    op.walkBegin(1, 0, 3, 'pteOffsetMap'),
    op.zap(0, 0, PPT),
    op.freeTable(0, 0),
    op.tick(),
  ];

  function tableOfReader(m: Machine): Pfn {
    const w = m.cpus[1]?.walker;
    if (w === null || w === undefined) throw new Error('no walker on cpu 1');
    if (w.table === null) throw new Error('walker holds no table');
    return w.table;
  }

  it('frees a reclaimed table only after the pte_offset_map() reader leaves, with no IPI', () => {
    const t = new Lockstep();
    t.run(...readerScenario);
    const table = tableOfReader(t.m);
    expect(t.m.frames[table]?.state).toBe('table'); // the grace period waits for the reader
    t.run(op.walkEnd(1), op.tick());
    expect(t.m.frames[table]?.state).toBe('free');
    expect(t.m.stats.tableSyncIpis).toBe(0);
    expect(t.m.stats.rcuCallbacksQueued).toBeGreaterThanOrEqual(1);
    t.run(op.drain());
  });

  it('frees a single table by RCU too when no table batch can be had', () => {
    class NoTableBatch extends BatchedKernel {
      override readonly name: string = 'no-table-batch';
      override tlbTableBatchAlloc(_m: Machine): boolean {
        return false;
      }
    }
    const t = new Lockstep(new NoTableBatch());
    t.run(...readerScenario);
    expect(t.marks('single table freed by RCU')).toBe(1);
    const table = tableOfReader(t.m);
    expect(t.m.frames[table]?.state).toBe('table');
    t.run(op.walkEnd(1), op.exit(0), op.fork(0), op.drain());
    expect(t.m.stats.tableSyncIpis).toBe(0);
  });
});
