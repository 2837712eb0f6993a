import { describe, expect, it } from 'vitest';
import type { MmId, Pfn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import type { LeafPmd, PmdEntry } from '../models/machine/pte';
import { pmdAt } from '../models/machine/pgtable';
import { Batched615 } from '../models/v615/Batched615';
import { Reference615 } from '../models/v615/Reference615';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runDifferential } from '../src/run/differential';
import type { Op } from '../src/ops/op';
import { Bench, SMALL, violationOf } from './__helpers__/bench';
import { PIN_RO, op } from './__helpers__/ops';

/**
 * Review rows 18, 19 and 24 (low): fork's preallocated page (`copy_pte_range()`, mm/memory.c),
 * the THP's deposited table and `pmdp_invalidate()`'s invalid PMD on a split
 * (`__split_huge_pmd_locked()`, mm/huge_memory.c), and the shared zero page
 * (`do_anonymous_page()`, mm/memory.c). Row 18 is implemented; 19 is a deliberate
 * simplification; 24 is modeled as a machine option, off by default (properties/zeroPage.test.ts
 * has its paths). These tests show what each can and cannot catch.
 */
const BASE = SMALL.ptrsPerPte;
const THP = SMALL.maxFolioOrder;

const tableFrames = (m: Machine): number => m.frames.filter((f) => f.state === 'table').length;

describe('row 18: copy_pte_range() puts a preallocated page that the retried PTE did not use (mm/memory.c, 6.12); the model holds it until used (simplified)', () => {
  /** Counts folio_prealloc() calls and the preallocated pages freed unused. */
  class CountPrealloc extends Batched615 {
    preallocs = 0;
    override folioPrealloc(m: Machine): Pfn {
      this.preallocs++;
      return super.folioPrealloc(m);
    }
  }

  // An order-2 folio whose page 2 alone is exclusive (6.15 reused it) and pinned: fork's batch at
  // page 0 fails (-EAGAIN) on page 2, but the retry at page 0 copies a shared page without the
  // preallocated one; so do pages 1 (after a second failed batch) and 3.
  const ops: Op[] = [op.map(0, BASE, 2), op.fork(0), op.exit(1), op.write(0, 0, BASE + 2), op.gup(0, 0, BASE + 2, 1, PIN_RO), op.fork(0)];

  it('allocates one page for the first failed batch and holds it until page 2 uses it, where the kernel allocates three (one per failed batch) and puts two unused', () => {
    const b = new Bench(new CountPrealloc(), true);
    b.run(ops.slice(0, -1));
    const copied = b.m.stats.pagesCopied;
    const free = b.m.freeFrames;
    b.apply(op.fork(0));
    expect((b.kernel as CountPrealloc).preallocs).toBe(1); // the kernel: 3
    expect(b.m.marks['fork batch fell back for a pinned page']).toBe(1); // the kernel: 3 (pages 1 and 2 batch again)
    expect(b.m.stats.pagesCopied - copied).toBe(1); // as the kernel: only the pinned exclusive page is copied for the child
    expect(free - b.m.freeFrames).toBe(2); // as the kernel at the end: the child's table and the copy
  });

  it('what it can and cannot catch: the page tables and counts equal the per-PTE reference (checked), but a patch that keeps a preallocated page across PTEs (against mempolicy) behaves as the model does and passes', () => {
    expect(violationOf(runDifferential(new Reference615(), new Batched615(), SMALL, ops))).toBeNull();
  });
});

describe('row 19: a THP has no deposited table, and its split writes none where pmdp_invalidate() leaves an invalid entry (simplified)', () => {
  /** Records what the PMD holds right after pmdpInvalidate(), inside the split. */
  class WatchSplit extends ReferenceKernel {
    readonly during: PmdEntry[] = [];
    override pmdpInvalidate(m: Machine, mm: MmId, i: number): LeafPmd {
      const old = super.pmdpInvalidate(m, mm, i);
      this.during.push(pmdAt(m, mm, i));
      return old;
    }
  }

  it('the table is allocated at split time, not deposited when the THP is mapped (the kernel: pte_alloc_one() + pgtable_trans_huge_deposit() at the fault)', () => {
    const b = new Bench(new WatchSplit(), true);
    const before = tableFrames(b.m);
    b.apply(op.map(0, BASE, THP, { pmd: true }));
    expect(tableFrames(b.m)).toBe(before); // the kernel would hold one deposited table here
    b.apply(op.zap(0, BASE, 1)); // a partial zap splits the PMD
    expect(tableFrames(b.m)).toBe(before + 1); // ... which the split would withdraw instead
    expect(pmdAt(b.m, b.m.mms[0]!.id, 1).kind).toBe('table');
  });

  it('the entry between pmdp_invalidate() and pmd_populate() is none, not an invalid leaf; no op boundary ever sees it, so nothing can tell the two apart', () => {
    const k = new WatchSplit();
    const b = new Bench(k, true);
    b.run([op.map(0, BASE, THP, { pmd: true }), op.zap(0, BASE, 1)]);
    expect(k.during).toEqual([{ kind: 'none' }]);
    // What it cannot catch: a walker reading the PMD inside the split (pmd_present() is still
    // true on x86 for the invalid entry, false for none) — an op is atomic, so no walker runs
    // inside it; a GUP-fast walk begun before the split only sees the PMD change at its recheck.
    const w = new Bench(new ReferenceKernel(), true);
    w.run([op.map(0, BASE, THP, { pmd: true }), op.walkBegin(1, 0, BASE + 3, 'gupFast'), op.zap(0, BASE, 1), op.walkEnd(1)]);
    expect(pmdAt(w.m, w.m.mms[0]!.id, 1).kind).toBe('table');
  });
});

describe('row 24: the shared zero page in do_anonymous_page() — modeled as a machine option (on for conform), off by default', () => {
  const ZP = { zeroPage: true } as const;
  const ZERO = SMALL.nrFrames;

  it('off (the default, and every check): a load of an untouched page allocates a private zeroed page mapped read-only; a later store reuses it where the kernel would copy from the zero page', () => {
    const b = new Bench(new ReferenceKernel(), true);
    const free = b.m.freeFrames;
    b.apply(op.read(0, 0, BASE));
    const pte = b.pte(0, BASE);
    expect(pte.writable).toBe(false);
    expect(b.frame(pte.pfn).anonExclusive).toBe(true); // the kernel maps the zero page: no struct page to own
    expect(free - b.m.freeFrames).toBe(2); // the PTE table and the page; the kernel: the table only
    b.apply(op.write(0, 0, BASE));
    expect(b.pte(0, BASE)).toMatchObject({ pfn: pte.pfn, writable: true }); // reused in place
    expect(b.m.stats.pagesCopied).toBe(0);
  });

  it('on (createMachine(g, { zeroPage: true })): the load maps the zero page, the store copies from it (wp_page_copy(), never a reuse), as 6.12 does', () => {
    const b = new Bench(new ReferenceKernel(), true, SMALL, ZP);
    const free = b.m.freeFrames;
    b.apply(op.read(0, 0, BASE));
    expect(b.pte(0, BASE)).toMatchObject({ pfn: ZERO, writable: false });
    expect(free - b.m.freeFrames).toBe(1); // the PTE table only
    b.apply(op.write(0, 0, BASE));
    expect(b.pte(0, BASE).pfn).not.toBe(ZERO);
    expect(b.m.marks['write fault copied from the zero page']).toBe(1);
  });

  it('what the default cannot catch, and the option can: after fork the child reads the parent\'s zeroed page through a COW mapping instead of a zero-page PTE, so zero-page bugs (refcounting it, reusing it on a write fault, GUP on it) need the option', () => {
    const ops: Op[] = [op.read(0, 0, BASE), op.fork(0), op.read(1, 1, BASE)];
    const off = new Bench(new ReferenceKernel(), true);
    off.run(ops);
    expect(off.pte(1, BASE).pfn).toBe(off.pte(0, BASE).pfn);
    expect(off.folio(off.pte(0, BASE).pfn)).toMatchObject({ refcount: 2 }); // a zero-page PTE holds no reference
    const on = new Bench(new ReferenceKernel(), true, SMALL, ZP);
    on.run(ops);
    expect([on.pte(0, BASE).pfn, on.pte(1, BASE).pfn]).toEqual([ZERO, ZERO]);
    expect(on.m.frames[ZERO]!.mapcount).toBe(0);
  });
});
