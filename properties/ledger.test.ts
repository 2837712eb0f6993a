import { describe, expect, it } from 'vitest';
import type { MmId, Pfn, Vpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { PTE_NONE } from '../models/machine/pte';
import { folioAt, folioHead, frameAt } from '../models/machine/frames';
import { pmdAt, pteAt, setPmd, setPte } from '../models/machine/pgtable';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { auditLedger } from '../src/oracles/ledger';
import { runOps } from '../src/run/runOps';
import type { Op } from '../src/ops/op';
import { Bench, SMALL, catchViolation, violationOf } from './__helpers__/bench';
import { GET_RO, PIN_RO, PIN_RW, op } from './__helpers__/ops';
import { ForkLeavesParentWritable } from './__helpers__/brokenKernels';

/**
 * The ledger audit (design §5.2): every code fires on a step that breaks one struct-page field
 * or exclusivity rule, and the same sequence run by the reference passes the audit after every op.
 */

// ---- deliberately broken kernels, one rule each -------------------------------------------

/** unpin of a small folio that drops 1 reference instead of GUP_PIN_COUNTING_BIAS. */
class UnpinWithoutBias extends ReferenceKernel {
  override readonly name = 'unpin-without-bias';
  override gupPutFolio(m: Machine, head: Pfn, refs: number, pin: boolean): void {
    if (pin && folioAt(m, head).order === 0) this.folioPutRefs(m, head, refs);
    else super.gupPutFolio(m, head, refs, pin);
  }
}

/** fork that takes the reference and clears PageAnonExclusive but never adds the child's rmap. */
class ForkWithoutRmap extends ReferenceKernel {
  override readonly name = 'fork-without-rmap';
  override folioTryDupAnonRmapPtes(m: Machine, _srcMm: MmId, page: Pfn, nr: number): boolean {
    for (let i = 0; i < nr; i++) frameAt(m, (page + i) as Pfn).anonExclusive = false;
    return true;
  }
}

/** pin_user_pages() on a large folio that takes the references but not _pincount. */
class LargePinWithoutPincount extends ReferenceKernel {
  override readonly name = 'large-pin-without-pincount';
  override tryGrabFolio(m: Machine, head: Pfn, refs: number, pin: boolean): void {
    if (pin && folioAt(m, head).order > 0) this.folioRefAdd(m, head, refs);
    else super.tryGrabFolio(m, head, refs, pin);
  }
}

/** fork that duplicates the rmap without clearing PageAnonExclusive. */
class ForkKeepsExclusive extends ReferenceKernel {
  override readonly name = 'fork-keeps-exclusive';
  override folioTryDupAnonRmapPtes(m: Machine, _srcMm: MmId, page: Pfn, nr: number): boolean {
    this.folioAddAnonRmapPtes(m, page, nr, false);
    return true;
  }
}

/** R/O pins that never unshare: gup_must_unshare() always says no. */
class PinWithoutUnshare extends ReferenceKernel {
  override readonly name = 'pin-without-unshare';
  override gupMustUnshare(): boolean {
    return false;
  }
}

/** Never queues a partially mapped folio for deferred split. */
class NoDeferredSplit extends ReferenceKernel {
  override readonly name = 'no-deferred-split';
  override deferredSplitFolio(): void {}
}

/** Zap that drops the rmap and the reference (freeing the page) but leaves the PTE in place. */
class ZapKeepsPte extends ReferenceKernel {
  override readonly name = 'zap-keeps-pte';
  override zapOnePte(m: Machine, mm: MmId, v: Vpn): void {
    const pte = pteAt(m, mm, v);
    if (pte === null || pte.kind !== 'present') return;
    this.flushTlbPage(m, mm, v);
    this.folioRemoveRmapPtes(m, pte.pfn, 1);
    this.folioPut(m, folioHead(m, pte.pfn));
  }
}

/** FOLL_GET that forgets to take the reference. */
class GetWithoutReference extends ReferenceKernel {
  override readonly name = 'get-without-reference';
  override tryGrabFolio(m: Machine, head: Pfn, refs: number, pin: boolean): void {
    if (pin) super.tryGrabFolio(m, head, refs, pin);
  }
}

const passesReference = (ops: readonly Op[]): void => {
  expect(violationOf(runOps(new ReferenceKernel(), SMALL, ops))).toBeNull();
};

/** A reference run with the audit after every op, stopped before the break is applied. */
const audited = (ops: readonly Op[]): Bench => {
  const b = new Bench(new ReferenceKernel(), true);
  b.run(ops);
  return b;
};

// ---- refcount_mismatch --------------------------------------------------------------------------

describe('refcount_mismatch', () => {
  const ops = [op.map(0, 0, 0), op.gup(0, 0, 0, 1, PIN_RW), op.unpin(0)];

  it('an unpin that forgets GUP_PIN_COUNTING_BIAS leaves _refcount above mappings + holders', () => {
    const v = violationOf(runOps(new UnpinWithoutBias(), SMALL, ops));
    expect(v).toMatchObject({ code: 'refcount_mismatch', step: 2 });
    expect(v?.code === 'refcount_mismatch' ? v.detail : '').toMatch(/_refcount 1024, expected 1/);
  });

  it('a folio with one reference too many is reported', () => {
    const b = audited([op.map(0, 0, 0)]);
    folioAt(b.m, b.pte(0, 0).pfn).refcount++;
    expect(catchViolation(() => auditLedger(b.m, 1))).toMatchObject({ code: 'refcount_mismatch', step: 1, pfn: b.pte(0, 0).pfn });
  });

  it('the reference passes the same sequence with the pin released exactly', () => {
    passesReference(ops);
    const b = audited(ops);
    expect(folioAt(b.m, b.pte(0, 0).pfn).refcount).toBe(1);
  });
});

// ---- mapcount_mismatch --------------------------------------------------------------------------

describe('mapcount_mismatch', () => {
  it("a fork that maps the child's PTE without adding its rmap leaves _mapcount one short", () => {
    const v = violationOf(runOps(new ForkWithoutRmap(), SMALL, [op.map(0, 0, 0), op.fork(0)]));
    expect(v).toMatchObject({ code: 'mapcount_mismatch', step: 1 });
    expect(v?.code === 'mapcount_mismatch' ? v.detail : '').toMatch(/_mapcount 1, PTEs mapping it 2/);
  });

  it('a large folio whose _large_mapcount lost a mapping is reported', () => {
    const b = audited([op.map(0, 0, 2)]);
    folioAt(b.m, b.pte(0, 0).pfn).largeMapcount--;
    const v = catchViolation(() => auditLedger(b.m, 1));
    expect(v).toMatchObject({ code: 'mapcount_mismatch' });
    expect(v?.code === 'mapcount_mismatch' ? v.detail : '').toMatch(/_large_mapcount 3, mappings 4/);
  });

  it('a PMD-mapped folio whose _entire_mapcount lost its PMD is reported', () => {
    const b = audited([op.map(0, 0, SMALL.maxFolioOrder, { pmd: true })]);
    const pmd = pmdAt(b.m, 0 as MmId, 0);
    if (pmd.kind !== 'leaf') throw new Error('expected a PMD leaf');
    folioAt(b.m, pmd.pfn).entireMapcount = 0;
    const v = catchViolation(() => auditLedger(b.m, 1));
    expect(v).toMatchObject({ code: 'mapcount_mismatch', pfn: pmd.pfn });
    expect(v?.code === 'mapcount_mismatch' ? v.detail : '').toMatch(/_entire_mapcount 0, PMDs mapping it 1/);
  });

  it('the reference passes: after fork the page is mapped twice and counted twice', () => {
    passesReference([op.map(0, 0, 0), op.fork(0)]);
    const b = audited([op.map(0, 0, 0), op.fork(0)]);
    expect(b.frame(b.pte(0, 0).pfn).mapcount).toBe(2);
  });
});

// ---- pincount_mismatch --------------------------------------------------------------------------

describe('pincount_mismatch', () => {
  const ops = [op.map(0, 0, 2), op.gup(0, 0, 0, 1, PIN_RW)];

  it('pinning a large folio without raising _pincount is reported', () => {
    const v = violationOf(runOps(new LargePinWithoutPincount(), SMALL, ops));
    expect(v).toMatchObject({ code: 'pincount_mismatch', step: 1 });
    expect(v?.code === 'pincount_mismatch' ? v.detail : '').toMatch(/_pincount 0, pins held 1/);
  });

  it('the reference passes with _pincount 1', () => {
    passesReference(ops);
    const b = audited(ops);
    expect(folioAt(b.m, b.pte(0, 0).pfn).pincount).toBe(1);
  });
});

// ---- writable_not_exclusive ---------------------------------------------------------------------

describe('writable_not_exclusive', () => {
  it("a fork that leaves the parent's PTE writable on a now-shared page is reported", () => {
    expect(violationOf(runOps(new ForkLeavesParentWritable(), SMALL, [op.map(0, 0, 0), op.fork(0)]))).toMatchObject({
      code: 'writable_not_exclusive',
      step: 1,
    });
  });

  it("flipping the writable bit of the child's PTE to a shared page is reported", () => {
    const b = audited([op.map(0, 0, 0), op.fork(0)]);
    const child = b.m.mms[1]!.id;
    setPte(b.m, child, 0 as Vpn, { ...b.pte(1, 0), writable: true });
    expect(catchViolation(() => auditLedger(b.m, 2))).toMatchObject({ code: 'writable_not_exclusive', pfn: b.pte(1, 0).pfn });
  });

  it("flipping the writable bit of a shared PMD mapping is reported", () => {
    const b = audited([op.map(0, 0, SMALL.maxFolioOrder, { pmd: true }), op.fork(0)]);
    const pmd = pmdAt(b.m, 0 as MmId, 0);
    if (pmd.kind !== 'leaf') throw new Error('expected a PMD leaf');
    setPmd(b.m, 0 as MmId, 0, { ...pmd, writable: true });
    const v = catchViolation(() => auditLedger(b.m, 2));
    expect(v).toMatchObject({ code: 'writable_not_exclusive', pfn: pmd.pfn });
    expect(v?.code === 'writable_not_exclusive' ? v.detail : '').toMatch(/PMD-mapped writable/);
  });

  it('the reference write-protects both sides: passes, and neither PTE is writable', () => {
    passesReference([op.map(0, 0, 0), op.fork(0)]);
    const b = audited([op.map(0, 0, 0), op.fork(0)]);
    expect([b.pte(0, 0).writable, b.pte(1, 0).writable]).toEqual([false, false]);
  });
});

// ---- exclusive_mapped_twice ---------------------------------------------------------------------

describe('exclusive_mapped_twice', () => {
  const ops = [op.map(0, 0, 0), op.fork(0)];

  it('a fork that keeps PageAnonExclusive on a page it now maps twice is reported', () => {
    expect(violationOf(runOps(new ForkKeepsExclusive(), SMALL, ops))).toMatchObject({ code: 'exclusive_mapped_twice', step: 1 });
  });

  it('the reference clears PageAnonExclusive at fork: passes', () => {
    passesReference(ops);
    const b = audited(ops);
    expect(b.frame(b.pte(0, 0).pfn).anonExclusive).toBe(false);
  });
});

// ---- pinned_not_exclusive -----------------------------------------------------------------------

describe('pinned_not_exclusive', () => {
  const ops = [op.map(0, 0, 0), op.fork(0), op.gup(0, 0, 0, 1, PIN_RO)];

  it('an R/O pin of a shared page that does not unshare it is reported', () => {
    expect(violationOf(runOps(new PinWithoutUnshare(), SMALL, ops))).toMatchObject({ code: 'pinned_not_exclusive', step: 2 });
  });

  it('a pinned, read-only mapped page that lost PageAnonExclusive is reported', () => {
    const b = audited([op.map(0, 0, 0), op.mprotect(0, 0, 1, false), op.gup(0, 0, 0, 1, PIN_RO)]);
    b.frame(b.pte(0, 0).pfn).anonExclusive = false;
    expect(catchViolation(() => auditLedger(b.m, 3))).toMatchObject({ code: 'pinned_not_exclusive', pfn: b.pte(0, 0).pfn });
  });

  it("the reference unshares: passes, and the parent's pinned page is a new exclusive copy", () => {
    passesReference(ops);
    const b = audited(ops.slice(0, 2));
    const shared = b.pte(0, 0).pfn;
    b.apply(ops[2]!);
    expect(b.pte(0, 0).pfn).not.toBe(shared);
    expect(b.frame(b.pte(0, 0).pfn).anonExclusive).toBe(true);
    expect(b.m.handles[0]!.pages[0]!.pfn).toBe(b.pte(0, 0).pfn);
  });
});

// ---- deferred_split_missing ---------------------------------------------------------------------

describe('deferred_split_missing', () => {
  it.each([
    ['zapping one page of a PTE-mapped order-2 folio', [op.map(0, 0, 2), op.zap(0, 1, 1)], 1],
    ['mapping only part of an order-2 folio', [op.map(0, 0, 2, { first: 0, count: 2 })], 0],
  ] as const)('a partially mapped large folio not on the deferred split queue is reported (%s)', (_what, ops, step) => {
    expect(violationOf(runOps(new NoDeferredSplit(), SMALL, ops))).toMatchObject({ code: 'deferred_split_missing', step });
  });

  it('the reference queues the folio: passes, and the folio is on the queue', () => {
    const ops = [op.map(0, 0, 2), op.zap(0, 1, 1)];
    passesReference(ops);
    const b = audited(ops);
    expect(folioAt(b.m, b.pte(0, 0).pfn).deferredSplit).toBe(true);
  });
});

// ---- freed_frame_in_use -------------------------------------------------------------------------

describe('freed_frame_in_use', () => {
  it('a frame freed while a PTE still maps it is reported', () => {
    const v = violationOf(runOps(new ZapKeepsPte(), SMALL, [op.map(0, 0, 0), op.zap(0, 0, 1)]));
    expect(v).toMatchObject({ code: 'freed_frame_in_use', step: 1 });
    expect(v?.code === 'freed_frame_in_use' ? v.detail : '').toMatch(/free frame is mapped by 1 page-table entries/);
  });

  it('a GUP handle holding a page that was freed is reported', () => {
    const b = new Bench(new GetWithoutReference());
    b.run([op.map(0, 0, 0), op.gup(0, 0, 0, 1, GET_RO), op.zap(0, 0, 1)]);
    const v = catchViolation(() => auditLedger(b.m, 2));
    expect(v).toMatchObject({ code: 'freed_frame_in_use', pfn: b.m.handles[0]!.pages[0]!.pfn });
    expect(v?.code === 'freed_frame_in_use' ? v.detail : '').toMatch(/GUP handle 0 holds a page that was freed/);
  });

  it('the reference clears the PTE and the handle keeps its page: both sequences pass', () => {
    passesReference([op.map(0, 0, 0), op.zap(0, 0, 1)]);
    passesReference([op.map(0, 0, 0), op.gup(0, 0, 0, 1, GET_RO), op.zap(0, 0, 1)]);
    const b = audited([op.map(0, 0, 0), op.gup(0, 0, 0, 1, GET_RO), op.zap(0, 0, 1)]);
    expect(pteAt(b.m, 0 as MmId, 0 as Vpn)).toEqual(PTE_NONE);
    expect(b.frame(b.m.handles[0]!.pages[0]!.pfn).state).toBe('data');
  });
});
