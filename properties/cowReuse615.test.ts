import { describe, expect, it } from 'vitest';
import type { MmId, Pfn } from '../models/machine/ids';
import { mmId } from '../models/machine/ids';
import type { Folio, Machine } from '../models/machine/state';
import { folioAt } from '../models/machine/frames';
import { folioNrPages } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { Reference615 } from '../models/v615/Reference615';
import { mmIdAdd, mmIdSub } from '../models/v615/mmId';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { Batched615 } from '../models/v615/Batched615';
import { CowReuseFirstSubpage } from '../models/mutants/cowReuseFirstSubpage';
import { CowReuseFolioMapcount } from '../models/mutants/cowReuseFolioMapcount';
import { specFor } from '../models/specFor';
import { runsAlone } from '../src/check/runsAlone';
import { runCheck } from '../src/check/runCheck';
import { walkerHeldRefs } from '../src/oracles/walkerRefs';
import { runDifferential } from '../src/run/differential';
import { runOps } from '../src/run/runOps';
import type { Op } from '../src/ops/op';
import { Bench, SMALL, violationOf } from './__helpers__/bench';
import { GET_RO, PIN_RO, op } from './__helpers__/ops';

/**
 * Linux 6.15's large-folio COW reuse (`__wp_can_reuse_large_anon_folio()`, mm/memory.c, commit
 * 1da190f4d0a6) on its MM_ID bookkeeping (`folio_add/sub_return_large_mapcount()`,
 * include/linux/rmap.h), as the policy kernels reference-6.15 and batched-6.15 have it, with the
 * cases seed 001's thread discusses: fork and a partial unmap, GUP pins, and what the model has
 * no counterpart for (the swap cache). The 6.12 kernels, which never reuse a large folio, are the
 * contrast in each case.
 *
 * Shape: an order-2 folio (4 pages) PTE-mapped at vpn 16..19 of mm #0; the parent stores on CPU 0.
 */
const BASE = SMALL.ptrsPerPte;
const ORDER = 2;
const MAP = op.map(0, BASE, ORDER);

/** The folio fields of the large folio mapped at BASE in live mm `mm`. */
function folioOf(b: Bench, mm = 0, v = BASE): Folio {
  return b.folio(b.pte(mm, v).pfn);
}

/** The MM_ID state as [slot mms, slot mapcounts, maybe-mapped-shared]. */
function mmIds(f: Folio): [readonly (number | null)[], readonly number[], boolean] {
  return [[...f.mmId], [...f.mmIdMapcount], f.maybeMappedShared];
}

describe('MM_ID slots (folio_add/sub_return_large_mapcount(), include/linux/rmap.h, 6.15)', () => {
  const fresh = (): Folio => ({ id: 't', order: 4, refcount: 1, largeMapcount: 0, entireMapcount: 0, pincount: 0, deferredSplit: false, migrcPending: false, mmId: [null, null], mmIdMapcount: [0, 0], maybeMappedShared: false, pgMigrc: false, swap: null, dirty: false, swapbacked: true });
  const add = (f: Folio, n: number, mm: number): void => {
    f.largeMapcount += n;
    mmIdAdd(f, n, mmId(mm));
  };
  const sub = (f: Folio, n: number, mm: number): void => {
    f.largeMapcount -= n;
    mmIdSub(f, n, mmId(mm));
  };

  it("follows the commit message's Example 1: two mms, the first unmaps everything → mapped exclusively", () => {
    const f = fresh();
    add(f, 1, 1); // App1 → slot 0
    add(f, 1, 2); // App2 → slot 1, shared
    expect(mmIds(f)).toEqual([[1, 2], [1, 1], true]);
    sub(f, 1, 1);
    expect(mmIds(f)).toEqual([[null, 2], [0, 1], false]);
  });

  it("follows Example 2: a third mm finds no slot; once the two slot owners unmap, the folio stays maybe mapped shared (the false positive of two slots)", () => {
    const f = fresh();
    add(f, 1, 1);
    add(f, 1, 2);
    add(f, 1, 3); // no slot: counted nowhere
    expect(mmIds(f)).toEqual([[1, 2], [1, 1], true]);
    sub(f, 1, 1);
    sub(f, 1, 2);
    expect(mmIds(f)).toEqual([[null, null], [0, 0], true]);
    sub(f, 1, 3); // nothing mapped: both free slots "own" all zero mappings
    expect(mmIds(f)).toEqual([[null, null], [0, 0], false]);
  });

  it('claims slot 0 as shared when other (untracked) mappings exist already', () => {
    const f = fresh();
    add(f, 2, 1);
    add(f, 1, 2);
    add(f, 1, 3);
    sub(f, 2, 1); // slot 0 freed; slot 1 (1) is not all 2 mappings
    expect(mmIds(f)).toEqual([[null, 2], [0, 1], true]);
    add(f, 1, 4); // slot 0 claimed while mm 2 and 3 map: shared
    expect(mmIds(f)).toEqual([[4, 2], [1, 1], true]);
  });
});

describe('reference-6.15: write faults on a PTE-mapped large folio (__wp_can_reuse_large_anon_folio(), mm/memory.c, 6.15)', () => {
  it('fork, then the child exits: the parent reuses the folio in place, one PTE per fault (wp_page_reuse()), where 6.12 copies', () => {
    const b = new Bench(new Reference615(), true);
    b.apply(MAP);
    const head = b.pte(0, BASE).pfn;
    expect(mmIds(folioOf(b))).toEqual([[0, null], [4, 0], false]);
    b.apply(op.fork(0));
    expect(mmIds(folioOf(b))).toEqual([[0, 1], [4, 4], true]);
    b.apply(op.exit(1));
    expect(mmIds(folioOf(b))).toEqual([[0, null], [4, 0], false]);

    b.apply(op.write(0, 0, BASE + 1));
    expect(b.pte(0, BASE + 1)).toMatchObject({ pfn: head + 1, writable: true });
    expect(b.m.stats.pagesCopied).toBe(0);
    expect(b.frame((head + 1) as Pfn).anonExclusive).toBe(true);
    // Only the faulting PTE: 6.15 does not "fault around" the rest of the folio.
    for (const k of [0, 2, 3]) {
      expect(b.pte(0, BASE + k).writable, `pte ${k}`).toBe(false);
      expect(b.frame((head + k) as Pfn).anonExclusive, `page ${k}`).toBe(false);
    }
    b.apply(op.write(0, 0, BASE + 2)); // its own fault, reused again
    expect(b.pte(0, BASE + 2)).toMatchObject({ pfn: head + 2, writable: true });
    expect(b.m.stats.pagesCopied).toBe(0);
    expect(b.m.marks['large folio reused on COW']).toBe(2);

    const old = new Bench(new ReferenceKernel(), true);
    old.run([MAP, op.fork(0), op.exit(1), op.write(0, 0, BASE + 1)]);
    expect(old.pte(0, BASE + 1).pfn).not.toBe(old.pte(0, BASE).pfn + 1);
    expect(old.m.stats.pagesCopied).toBe(1);
  });

  it('seed 001, fork + partial unmap: while the child maps part of the folio the parent copies; once it unmapped the rest, the parent reuses', () => {
    const b = new Bench(new Reference615(), true);
    b.run([MAP, op.fork(0), op.zap(1, BASE, 2)]);
    const head = b.pte(0, BASE).pfn;
    expect(mmIds(folioOf(b))).toEqual([[0, 1], [4, 2], true]);
    b.apply(op.write(0, 0, BASE + 2));
    expect(b.pte(0, BASE + 2).pfn).not.toBe(head + 2);
    expect(b.m.marks['large folio COW: maybe mapped shared']).toBe(1);
    b.apply(op.zap(1, BASE + 2, 2));
    expect(mmIds(b.folio(head))).toEqual([[0, null], [3, 0], false]);
    b.apply(op.write(0, 0, BASE + 3));
    expect(b.pte(0, BASE + 3).pfn).toBe(head + 3);
    expect(b.m.stats.pagesCopied).toBe(1);
  });

  it("the first-subpage estimate misses that sharing (seed 001's false negative): cow-reuse-first-subpage reuses and the child sees the parent's store", () => {
    const ops: Op[] = [MAP, op.fork(0), op.zap(1, BASE, 1), op.write(0, 0, BASE + 1), op.read(1, 1, BASE + 1)];
    expect(violationOf(runOps(new Reference615(), SMALL, ops))).toBeNull();
    expect(violationOf(runDifferential(new Reference615(), new Batched615(), SMALL, ops))).toBeNull();
    expect(violationOf(runOps(new CowReuseFirstSubpage(), SMALL, ops))?.code).toBe('exclusive_mapped_twice');
    // folio-wide counts alone reuse even with nothing unmapped
    expect(violationOf(runOps(new CowReuseFolioMapcount(), SMALL, [MAP, op.fork(0), op.write(0, 0, BASE + 1)]))?.code).toBe('exclusive_mapped_twice');
  });

  it('a GUP reference is not a mapping: an R/O pin unshares without copying, then a store to another page copies; a FOLL_GET reference blocks reuse too', () => {
    const b = new Bench(new Reference615(), true);
    b.run([MAP, op.fork(0), op.exit(1)]);
    const head = b.pte(0, BASE).pfn;
    b.apply(op.gup(0, 0, BASE, 1, PIN_RO)); // FAULT_FLAG_UNSHARE: reusable, so marked exclusive in place
    expect(b.pte(0, BASE)).toMatchObject({ pfn: head, writable: false });
    expect(b.frame(head).anonExclusive).toBe(true);
    expect(b.m.stats.pagesCopied).toBe(0);
    expect(folioOf(b)).toMatchObject({ refcount: 5, largeMapcount: 4, pincount: 1 });
    b.apply(op.write(0, 0, BASE + 1));
    expect(b.pte(0, BASE + 1).pfn).not.toBe(head + 1);
    expect(b.m.marks['large folio COW: extra reference']).toBe(1);
    b.apply(op.write(0, 0, BASE)); // the pinned page is exclusive: reused without any test
    expect(b.pte(0, BASE)).toMatchObject({ pfn: head, writable: true });

    const get = new Bench(new Reference615(), true);
    get.run([MAP, op.fork(0), op.exit(1), op.gup(0, 0, BASE + 3, 1, GET_RO), op.write(0, 0, BASE + 1)]);
    expect(get.m.stats.pagesCopied).toBe(1);

    // In 6.12 the unshare fault itself copies: a large folio is never reused.
    const old = new Bench(new ReferenceKernel(), true);
    old.run([MAP, op.fork(0), op.exit(1), op.gup(0, 0, BASE, 1, PIN_RO)]);
    expect(old.m.stats.pagesCopied).toBe(1);
  });

  it('three mms: with both slots taken by mms that exited, the last mm copies although it maps the folio alone (the kernel errs towards "shared")', () => {
    const b = new Bench(new Reference615(), true);
    b.run([MAP, op.fork(0), op.fork(0), op.exit(0), op.exit(0)]); // the parent, then the first child
    const f = folioOf(b);
    expect(f.largeMapcount).toBe(4);
    expect(mmIds(f)).toEqual([[null, null], [0, 0], true]);
    b.apply(op.write(0, 0, BASE));
    expect(b.m.stats.pagesCopied).toBe(1);
    expect(b.m.marks['large folio COW: maybe mapped shared']).toBe(1);
  });

  it('a PMD-mapped folio still needs a sole reference to be reused (do_huge_pmd_wp_page() is unchanged); after a split its PTEs follow the 6.15 rule', () => {
    const b = new Bench(new Reference615(), true);
    b.run([op.map(0, BASE, SMALL.maxFolioOrder, { pmd: true }), op.fork(0), op.exit(1)]);
    const f = b.folio(b.m.mms[0]!.pmds[1]!.kind === 'leaf' ? (b.m.mms[0]!.pmds[1] as { pfn: Pfn }).pfn : (0 as Pfn));
    expect(mmIds(f)).toEqual([[0, null], [1, 0], false]);
    b.apply(op.zap(0, BASE, 1)); // splits the PMD: nr PTE mappings added, the PMD's removed, all mm 0's
    expect(mmIds(f)).toEqual([[0, null], [folioNrPages(SMALL.maxFolioOrder) - 1, 0], false]);
    b.apply(op.write(0, 0, BASE + 5));
    expect(b.m.stats.pagesCopied).toBe(0);
  });
});

describe('the differential check compares the MM_ID slots (src/oracles/observe.ts)', () => {
  /** Charges fork's new mappings to the parent instead of the child (`dst_vma`). */
  class DupChargesParent extends Batched615 {
    override folioTryDupAnonRmapPtes(m: Machine, srcMm: MmId, page: Pfn, nr: number, _dstMm?: MmId): boolean {
      return super.folioTryDupAnonRmapPtes(m, srcMm, page, nr, srcMm);
    }
  }

  it('a batched-6.15 variant that keeps other slots than reference-6.15 diverges at the fork, before any reuse', () => {
    const v = violationOf(runDifferential(new Reference615(), new DupChargesParent(), SMALL, [MAP, op.fork(0)], { ledger: false, memory: true }));
    expect(v).toMatchObject({ code: 'divergence', step: 1 });
    expect(JSON.stringify(v)).toContain('mmIds');
  });

  it("the ledger checks the slots against the page tables (src/oracles/mmIds.ts): not shared, yet the parent's slot does not hold the child's mappings", () => {
    const v = violationOf(runOps(new DupChargesParent(), SMALL, [MAP, op.fork(0)]));
    expect(v).toMatchObject({ code: 'mapcount_mismatch', step: 1 });
    expect(JSON.stringify(v)).toContain('MM_ID slots');
  });
});

describe('kernels are compared with the specification of their policy (models/specFor.ts)', () => {
  class MyPatchOn615 extends Batched615 {
    override readonly name: string = 'reference'; // a name cannot choose the judge
  }

  it('6.15 kernels and variants of them get reference-6.15; everything else the 6.12 reference', () => {
    expect(specFor(new Batched615())()).toBeInstanceOf(Reference615);
    expect(specFor(new MyPatchOn615())()).toBeInstanceOf(Reference615);
    expect(specFor(new CowReuseFolioMapcount())()).toBeInstanceOf(Reference615);
    expect(Object.getPrototypeOf(specFor(new BatchedKernel())())).toBe(ReferenceKernel.prototype);
    expect(runsAlone(new Reference615())).toBe(true);
    expect(runsAlone(new MyPatchOn615())).toBe(false);
    expect(runsAlone(new ReferenceKernel())).toBe(true);
  });

  it('why: against the 6.12 reference, the correct batched-6.15 diverges on its first large-folio reuse', () => {
    const ops: Op[] = [MAP, op.fork(0), op.exit(1), op.write(0, 0, BASE + 1)];
    expect(violationOf(runDifferential(new ReferenceKernel(), new Batched615(), SMALL, ops))?.code).toBe('divergence');
    expect(violationOf(runDifferential(new Reference615(), new Batched615(), SMALL, ops))).toBeNull();
  });
});

describe('what the model leaves out: the swap cache', () => {
  /**
   * Records, at every large-folio reuse decision, the references that are neither mappings nor
   * GUP's (handles, GUP-fast walks). Inside a GUP call the pages it took before faulting on this
   * one are GUP references not yet in a handle, so decisions there are recorded apart.
   */
  class Unattributed extends Reference615 {
    readonly seen: number[] = [];
    private inGup = false;
    override getUserPages(...args: Parameters<ReferenceKernel['getUserPages']>): ReturnType<ReferenceKernel['getUserPages']> {
      this.inGup = true;
      try {
        return super.getUserPages(...args);
      } finally {
        this.inGup = false;
      }
    }
    override wpCanReuseLargeAnonFolio(m: Machine, head: Pfn, mm: MmId): boolean {
      const f = folioAt(m, head);
      const gup = m.handles.reduce((n, h) => n + h.pages.filter((p) => m.frames[p.pfn]?.head === head).length, 0);
      if (!this.inGup) this.seen.push(f.refcount - f.largeMapcount - gup - (walkerHeldRefs(m).get(head)?.refs ?? 0));
      return super.wpCanReuseLargeAnonFolio(m, head, mm);
    }
  }

  it('every reference at a reuse decision is a mapping, a GUP handle or a GUP-fast walk: no swap-cache (or LRU-batch) reference exists, so the folio_free_swap() step and its bugs are out of reach', () => {
    let decisions = 0;
    let unattributed = 0;
    for (const seed of [1]) {
      const kernels: Unattributed[] = [];
      const r = runCheck({
        kernel: () => {
          const k = new Unattributed();
          kernels.push(k);
          return k;
        },
        reference: () => new Reference615(),
        geometry: SMALL,
        runs: 200,
        seed,
        maxOps: 40,
      });
      expect(r.failure).toBeNull();
      for (const k of kernels) {
        decisions += k.seen.length;
        unattributed += k.seen.filter((x) => x !== 0).length;
      }
    }
    expect(decisions).toBeGreaterThan(0);
    expect(unattributed).toBe(0);
  });
});
