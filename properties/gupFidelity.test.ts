import { describe, expect, it } from 'vitest';
import type { Pfn } from '../models/machine/ids';
import { mmId, vpn as asVpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import type { PresentPte } from '../models/machine/pte';
import { describeViolation } from '../models/machine/violation';
import { geometry } from '../models/machine/geometry';
import { pteAt } from '../models/machine/pgtable';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { MmuGather } from '../models/batched/mmuGather';
import { addBatchPage } from '../models/batched/gatherLimits';
import type { Applied } from '../src/ops/apply';
import type { Op } from '../src/ops/op';
import { formatOp } from '../src/ops/op';
import { opSchema } from '../src/schema/op';
import { CheckedRun } from '../src/run/checkedRun';
import { firstDifference, observe } from '../src/oracles/observe';
import { runCheck } from '../src/check/runCheck';
import { stateView } from '../src/report/stateView';
import { PIN_RO, PIN_RO_FAST, op } from './__helpers__/ops';
import { Bench, SMALL, catchViolation, firstViolation } from './__helpers__/bench';
import { auditLedger } from '../src/oracles/ledger';

/**
 * GUP and the mmu_gather as Linux 6.12 has them (fidelity review rows 15, 16, 20, 21; see
 * docs/fidelity/gup-and-gather.md): what each path now does, and for each deliberate
 * simplification what the model can and cannot catch.
 */

/** The reference and `kernel` stepping together on `ops`; throws at a violation or divergence; returns the kernel's machine. */
function lockstep(kernel: ReferenceKernel, ops: readonly Op[]): Machine {
  const ref = new CheckedRun(new ReferenceKernel(), SMALL);
  const run = new CheckedRun(kernel, SMALL);
  ops.forEach((o, i) => {
    const a = ref.step(o, i);
    const b = run.step(o, i);
    const where = `step ${i} (${formatOp(o)})`;
    if ('violation' in a) throw new Error(`reference: ${where}: ${describeViolation(a.violation)}`);
    if ('violation' in b) throw new Error(`${kernel.name}: ${where}: ${describeViolation(b.violation)}`);
    const quiescent = o.kind === 'drain';
    const d =
      firstDifference(a.applied.result, b.applied.result, 'result') ??
      firstDifference(observe(ref.machine, quiescent), observe(run.machine, quiescent), 'state');
    if (d !== null) throw new Error(`divergence at ${where}: ${d.path}: ${JSON.stringify(d.a)} vs ${JSON.stringify(d.b)}`);
  });
  return run.machine;
}


const marks = (m: Machine, t: string): number => m.marks[t] ?? 0;
/** 16 order-0 pages written in the first table, then zapped in one go: local + batch pages fill. */
const sixteenDirtySingles: Op[] = [...Array.from({ length: 16 }, (_, v) => op.write(0, 0, v)), op.zap(0, 0, 16)];

describe('row 15: try_grab_folio_fast() and its page_folio() recheck (mm/gup.c, 6.12)', () => {
  /** try_get_folio() without the `page_folio(page) != folio` recheck. */
  class NoFolioRecheck extends BatchedKernel {
    override readonly name: string = 'no-folio-recheck';
    override gupFastFolioStillOwns(_m: Machine, _p: Pfn, _h: Pfn): boolean {
      return true;
    }
  }
  /** As if a split raced with every GUP-fast grab: the recheck always fails. */
  class EverySplitRaces extends BatchedKernel {
    override readonly name: string = 'every-split-races';
    override gupFastFolioStillOwns(_m: Machine, _p: Pfn, _h: Pfn): boolean {
      return false;
    }
  }

  it('a failed recheck puts the references back and leaves the pages to the slow path, which ends as the reference does', () => {
    const m = lockstep(new EverySplitRaces(), [op.map(0, 0, 4), op.map(0, 16, 4, { pmd: true }), op.gup(0, 0, 2, 20, PIN_RO_FAST), op.unpin(0), op.drain()]);
    expect(m.handles).toEqual([]);
  });

  it('the limit: a split cannot race with a grab inside one op, so a kernel without the recheck is not caught', () => {
    const r = runCheck({ kernel: () => new NoFolioRecheck(), reference: () => new ReferenceKernel(), geometry: SMALL, runs: 150, seed: 15, maxOps: 40 });
    expect(r.failure ?? r.flaky).toBeNull();
    expect(r.sequences).toBe(150);
  });
});

describe('row 21: the unshare test applies to read-only entries only (follow_page_pte(), gup_fast_pte_range(), 6.12)', () => {
  const k = new BatchedKernel();

  /** A written order-0 page at vpn 0 (writable, exclusive), then made non-exclusive by hand, as a kernel breaking the rmap invariant would. */
  function writableButShared(): { b: Bench; pte: PresentPte } {
    const b = new Bench(k);
    b.run([op.write(0, 0, 0)]);
    const pte = b.pte(0, 0);
    b.frame(pte.pfn).anonExclusive = false;
    return { b, pte };
  }

  it('a writable PTE is taken by an R/O pin without gup_must_unshare() (`!pte_write(pte) && gup_must_unshare()`)', () => {
    const { b, pte } = writableButShared();
    expect(pte.writable).toBe(true);
    expect(k.lookupPermitted(b.m, mmId(0), asVpn(0), PIN_RO)).toBe(pte.pfn);
  });

  it('a read-only PTE of a non-exclusive page still needs unsharing', () => {
    const b = new Bench(k);
    b.run([op.write(0, 0, 0), op.fork(0)]);
    const pte = b.pte(0, 0);
    expect(pte.writable).toBe(false);
    expect(b.frame(pte.pfn).anonExclusive).toBe(false);
    expect(k.lookupPermitted(b.m, mmId(0), asVpn(0), PIN_RO)).toBeNull();
  });

  it('a writable PMD leaf whose head is not exclusive is taken too (follow_huge_pmd(): `!pmd_write(pmdval) && gup_must_unshare()`)', () => {
    const b = new Bench(k);
    b.run([op.map(0, 16, 4, { pmd: true })]);
    const leaf = b.m.mms[0]?.pmds[1];
    if (leaf?.kind !== 'leaf') throw new Error('expected a PMD leaf');
    expect(leaf.writable).toBe(true);
    b.frame(leaf.pfn).anonExclusive = false;
    expect(k.lookupPermitted(b.m, mmId(0), asVpn(18), PIN_RO)).toBe(leaf.pfn + 2);
  });

  it('so such a broken kernel is not rescued by an unshare fault: the ledger reports the writable shared page', () => {
    const { b } = writableButShared();
    const a = b.apply(op.gup(0, 0, 0, 1, PIN_RO));
    expect(a.result).toMatchObject({ kind: 'handle', pages: 1 });
    // The pin went to the non-exclusive page as it is: no fault made it exclusive, and the
    // ledger names the broken invariant.
    expect(b.frame(b.pte(0, 0).pfn).anonExclusive).toBe(false);
    expect(catchViolation(() => auditLedger(b.m, b.step))?.code).toMatch(/not_exclusive/);
  });
});

describe('row 20: GFP_NOWAIT failures of the gather\'s pages, decided by the op sequence (tlb_next_batch(), tlb_remove_table())', () => {
  it('a failed batch-page allocation makes __tlb_remove_folio_pages() report the gather full, and the zap flushes early', () => {
    const plain = lockstep(new BatchedKernel(), sixteenDirtySingles);
    const failing = lockstep(new BatchedKernel(), [op.nowaitFail(1), ...sixteenDirtySingles]);
    expect(marks(plain, 'gather batch page allocation failed')).toBe(0);
    expect(marks(failing, 'gather batch page allocation failed')).toBe(1);
    expect(marks(failing, 'gather full')).toBeGreaterThan(marks(plain, 'gather full'));
    // The forced flush: one more TLB flush of the range before the gather goes on.
    expect(failing.stats.tlbFlushCalls).toBeGreaterThan(plain.stats.tlbFlushCalls);
    expect(failing.nowaitFailures).toBe(0);
  });

  it('a failed table-batch allocation frees the table on its own (tlb_table_invalidate() + tlb_remove_table_one())', () => {
    const ops: Op[] = [op.write(0, 0, 0), op.zap(0, 0, 1), op.nowaitFail(1), op.freeTable(0, 0), op.drain()];
    const m = lockstep(new BatchedKernel(), ops);
    expect(marks(m, 'table batch page allocation failed')).toBe(1);
    expect(marks(m, 'single table freed by RCU')).toBe(1);
    expect(marks(m, 'table batch freed by RCU')).toBe(0);
  });

  /** tlb_next_batch() that ignores the allocation failure and keeps appending to the full batch. */
  class IgnoresAllocFailure extends BatchedKernel {
    override readonly name: string = 'ignores-alloc-failure';
    override tlbNextBatch(m: Machine, tlb: MmuGather): boolean {
      if (tlb.active + 1 < tlb.batches.length || this.getFreePageNowait(m)) return super.tlbNextBatch(m, tlb);
      return true;
    }
  }

  it('a kernel that mishandles the failure is caught only when the generator makes the allocation fail', () => {
    expect(firstViolation(new IgnoresAllocFailure(), [...sixteenDirtySingles, op.drain()])).toBeNull();
    const v = firstViolation(new IgnoresAllocFailure(), [op.nowaitFail(3), ...sixteenDirtySingles]);
    expect(v?.code).toBe('kernel_warn');
  });

  it('the op is data: in the schema, formatted, and the random check reaches both failure paths', () => {
    expect(opSchema.parse({ kind: 'nowaitFail', nr: 2 })).toEqual({ kind: 'nowaitFail', nr: 2 });
    expect(() => opSchema.parse({ kind: 'nowaitFail', nr: 2, extra: 1 })).toThrow();
    expect(formatOp(op.nowaitFail(2))).toBe('nowaitFail next 2 GFP_NOWAIT allocations');
    const b = new Bench(new BatchedKernel());
    b.apply(op.nowaitFail(2));
    // A trace shows the failures still to come (explain, the HTML report).
    expect(stateView(b.m).get('nowaitFailures')).toBe('2');
    const r = runCheck({ kernel: () => new BatchedKernel(), reference: () => new ReferenceKernel(), geometry: SMALL, runs: 300, seed: 20, maxOps: 60 });
    expect(r.failure ?? r.flaky).toBeNull();
    expect(r.coverage['mark:gather batch page allocation failed'] ?? 0).toBeGreaterThan(0);
    expect(r.coverage['mark:table batch page allocation failed'] ?? 0).toBeGreaterThan(0);
  });

  it('is the same on the realistic geometry (one failure, a zap that needs a batch page)', () => {
    const big = geometry('realistic');
    const ref = new CheckedRun(new ReferenceKernel(), big);
    const run = new CheckedRun(new BatchedKernel(), big);
    const ops: Op[] = [op.nowaitFail(1), ...Array.from({ length: 12 }, (_, v) => op.write(0, 0, v)), op.zap(0, 0, 12), op.drain()];
    const last = (c: CheckedRun): Applied | null => {
      let a: Applied | null = null;
      ops.forEach((o, i) => {
        const r = c.step(o, i);
        if ('violation' in r) throw new Error(describeViolation(r.violation));
        a = r.applied;
      });
      return a;
    };
    last(ref);
    last(run);
    expect(marks(run.machine, 'gather batch page allocation failed')).toBe(1);
    expect(firstDifference(observe(ref.machine, true), observe(run.machine, true), 'state')).toBeNull();
  });
});

describe('row 16: delayed rmap is dead code for anonymous memory (zap_present_folio_ptes(), tlb_flush_rmaps(), 6.12)', () => {
  /** Delays the rmap of dirty PTEs as if they mapped file pages (`!folio_test_anon()` + `pte_dirty()` + `tlb_delay_rmap()`). */
  class DelaysDirtyRmap extends BatchedKernel {
    override readonly name: string = 'delays-dirty-rmap';
    override zapDelayRmap(_m: Machine, _tlb: MmuGather, pte: PresentPte): boolean {
      return pte.dirty;
    }
  }
  /** A bug in tlb_next_batch(): no refusal to go past the first batch page while rmaps are delayed. */
  const noDelayedLimit = <K extends BatchedKernel>(k: K): K => {
    k.tlbNextBatch = (m: Machine, tlb: MmuGather): boolean => {
      if (tlb.active + 1 < tlb.batches.length) {
        tlb.active++;
        return true;
      }
      if (tlb.batchCount === m.geometry.maxGatherBatchCount) return false;
      addBatchPage(m, tlb);
      tlb.active = tlb.batches.length - 1;
      return true;
    };
    return k;
  };

  it('a kernel that delays runs tlb_flush_rmaps() after the flush and holds', () => {
    const m = lockstep(new DelaysDirtyRmap(), [...sixteenDirtySingles, op.drain()]);
    expect(marks(m, 'gather full')).toBeGreaterThan(0);
    expect(pteAt(m, mmId(0), asVpn(0))?.kind ?? 'none').toBe('none');
  });

  it('a tlb_next_batch() bug with delayed rmaps is caught only where rmaps are delayed: never for anonymous memory', () => {
    // tlb_flush_rmaps() scans local and active only: the rmaps of the batches between are lost,
    // and free_page_is_bad() reports the pages freed still mapped.
    const v = firstViolation(noDelayedLimit(new DelaysDirtyRmap()), [...sixteenDirtySingles, op.drain()]);
    expect(v?.code === 'kernel_warn' ? v.message : JSON.stringify(v)).toMatch(/bad page state: folio .* freed with a nonzero mapcount/);
    // The limit: the registered kernels never delay, so the same bug passes on them.
    expect(() => lockstep(noDelayedLimit(new BatchedKernel()), [...sixteenDirtySingles, op.drain()])).not.toThrow();
  });
});
