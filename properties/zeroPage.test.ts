import { describe, expect, it } from 'vitest';
import type { MachineOptions } from '../models/machine/create';
import { createMachine } from '../models/machine/create';
import type { Pfn } from '../models/machine/ids';
import { mmId, pfn as asPfn, vpn as asVpn } from '../models/machine/ids';
import { pteAt, setPte } from '../models/machine/pgtable';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { Batched615 } from '../models/v615/Batched615';
import { Reference615 } from '../models/v615/Reference615';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { MigrcAsPosted } from '../models/migrcAsPosted/MigrcAsPosted';
import { BatchedGupRuns } from '../models/batched/gupRuns';
import { auditLedger } from '../src/oracles/ledger';
import { observe } from '../src/oracles/observe';
import { stateView } from '../src/report/stateView';
import { runDifferential } from '../src/run/differential';
import { runOps } from '../src/run/runOps';
import type { Op } from '../src/ops/op';
import { Bench, SMALL, catchViolation, toJson, violationOf } from './__helpers__/bench';
import { GET_RO, PIN_RO, PIN_RO_FAST, PIN_RW, op } from './__helpers__/ops';

/**
 * Review row 24 modeled: the shared zero page as createMachine's `zeroPage` option, path by path
 * as Linux 6.12 takes it (mm/memory.c, mm/gup.c, mm/mprotect.c, mm/mempolicy.c). Each scenario
 * names what would make it fail.
 */
const ZP: MachineOptions = { zeroPage: true };
const BASE = SMALL.ptrsPerPte;
const ZERO = asPfn(SMALL.nrFrames);
const GET_RO_FAST = { ...GET_RO, fast: true } as const;

const bench = (k: ReferenceKernel = new ReferenceKernel()): Bench => new Bench(k, true, SMALL, ZP);
/** One kernel alone, every per-kernel oracle (hazards, ledger, user-visible memory) on. */
const alone = (k: ReferenceKernel, ops: readonly Op[]) => violationOf(runOps(k, SMALL, ops, undefined, null, ZP));

describe('the option: off by default, one frame beyond RAM when on', () => {
  it('off, the machine is the one from before the option existed (byte for byte), so every seed behaves as before', () => {
    const before = toJson(createMachine(SMALL));
    expect(toJson(createMachine(SMALL, {}))).toBe(before);
    expect(toJson(createMachine(SMALL, { zeroPage: false }))).toBe(before);
    expect(before).not.toContain('zeroPage');
    expect(createMachine(SMALL).frames).toHaveLength(SMALL.nrFrames);
  });

  it('on, PFN nrFrames is the zero page: state zero, no folio, never counted free, never allocated', () => {
    const m = createMachine(SMALL, ZP);
    expect(m.zeroPage).toEqual({ pfn: ZERO, gupRefs: 0 });
    expect(m.frames[ZERO]).toMatchObject({ state: 'zero', folio: null, content: 0, mapcount: 0 });
    expect(m.freeFrames).toBe(SMALL.nrFrames);
    // Fill memory with order-0 pages: the allocator never hands out the zero page.
    const b = bench();
    for (let v = 0; v < 3 * BASE; v++) b.apply(op.write(0, 0, v));
    expect(b.m.frames[ZERO]!.state).toBe('zero');
  });
});

describe('do_anonymous_page(): a read fault maps the zero page', () => {
  it('a load of an untouched page maps the zero page read-only, allocating only the PTE table, and reads 0', () => {
    const b = bench();
    const free = b.m.freeFrames;
    const a = b.apply(op.read(0, 0, BASE));
    expect(a.result).toEqual({ kind: 'value', value: 0 });
    expect(b.pte(0, BASE)).toMatchObject({ pfn: ZERO, writable: false });
    expect(free - b.m.freeFrames).toBe(1); // the table; without the option: the table and a page
    expect(b.m.marks['read fault mapped the zero page']).toBe(1);
  });

  it('without the option the same load allocates a private page (row 24 off)', () => {
    const b = new Bench(new ReferenceKernel(), true);
    b.apply(op.read(0, 0, BASE));
    expect(b.pte(0, BASE).pfn).not.toBe(ZERO);
  });

  it('a store to an untouched page still allocates at once (FAULT_FLAG_WRITE)', () => {
    const b = bench();
    b.apply(op.write(0, 0, BASE));
    expect(b.pte(0, BASE)).toMatchObject({ writable: true });
    expect(b.pte(0, BASE).pfn).not.toBe(ZERO);
  });
});

describe('do_wp_page() → wp_page_copy(): a store to the zero page copies, never reuses', () => {
  it('the store gets a new zeroed exclusive page; nothing is copied and the zero page keeps no count', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE), op.write(0, 0, BASE)]);
    const pte = b.pte(0, BASE);
    expect(pte.pfn).not.toBe(ZERO);
    expect(pte.writable).toBe(true);
    expect(b.frame(pte.pfn)).toMatchObject({ anonExclusive: true, mapcount: 1, content: 2 });
    expect(b.folio(pte.pfn).refcount).toBe(1);
    expect(b.m.stats.pagesCopied).toBe(0); // vma_alloc_zeroed_movable_folio(), not a copy
    expect(b.m.marks['write fault copied from the zero page']).toBe(1);
    expect(b.m.frames[ZERO]!.content).toBe(0);
  });

  it('another CPU that loaded the zero page sees the store afterwards (ptep_clear_flush() before the new PTE)', () => {
    const ops = [op.read(0, 0, BASE), op.read(1, 0, BASE), op.write(0, 0, BASE), op.read(1, 0, BASE)];
    expect(alone(new ReferenceKernel(), ops)).toBeNull();
    const b = bench();
    const r = b.run(ops);
    expect(r[3]!.result).toEqual({ kind: 'value', value: 3 });
  });

  it('the 6.15 policy and migrc-as-posted copy from the zero page the same way', () => {
    for (const k of [new Reference615(), new MigrcAsPosted()]) {
      const b = bench(k);
      b.run([op.read(0, 0, BASE), op.write(0, 0, BASE)]);
      expect(b.pte(0, BASE).pfn).not.toBe(ZERO);
      expect(b.m.marks['write fault copied from the zero page']).toBe(1);
    }
  });
});

describe('GUP and the zero page (mm/gup.c, 6.12)', () => {
  it('an R/O pin unshares it (gup_must_unshare(): !PageAnon, FOLL_LONGTERM in a COW mapping) into a new exclusive R/O page, which it pins', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE), op.gup(0, 0, BASE, 1, PIN_RO)]);
    const pte = b.pte(0, BASE);
    expect(pte.pfn).not.toBe(ZERO);
    expect(pte.writable).toBe(false);
    expect(b.frame(pte.pfn).anonExclusive).toBe(true);
    expect(b.m.handles[0]!.pages[0]!.pfn).toBe(pte.pfn);
    expect(b.folio(pte.pfn).refcount).toBe(1 + 1024);
    expect(b.m.marks['unshare fault copied from the zero page']).toBe(1);
  });

  it('so the pin is reliable: a later store reuses the pinned page and the device reads it', () => {
    const ops = [op.read(0, 0, BASE), op.gup(0, 0, BASE, 1, PIN_RO_FAST), op.write(0, 0, BASE), op.gupRead(0, 0)];
    expect(alone(new ReferenceKernel(), ops)).toBeNull();
    const r = bench().run(ops);
    expect(r[3]!.result).toEqual({ kind: 'value', value: 3 });
  });

  it('FOLL_GET takes a plain reference on the zero page itself; the device reads 0, even after the process stored elsewhere; the put gives it back', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE), op.gup(0, 0, BASE, 1, GET_RO)]);
    expect(b.pte(0, BASE).pfn).toBe(ZERO);
    expect(b.m.handles[0]!.pages[0]!.pfn).toBe(ZERO);
    expect(b.m.zeroPage!.gupRefs).toBe(1);
    b.apply(op.write(0, 0, BASE)); // COW away from the zero page
    expect(b.apply(op.gupRead(0, 0)).result).toEqual({ kind: 'value', value: 0 });
    b.apply(op.unpin(0));
    expect(b.m.zeroPage!.gupRefs).toBe(0);
    expect(b.m.marks['GUP took a reference on the zero page']).toBe(1);
  });

  it('GUP-fast bails on the special PTE (pte_special) and the slow path takes it, in the reference, the batched kernel and the GUP-runs proposal', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel(), new BatchedGupRuns()]) {
      const b = bench(k);
      b.run([op.map(0, BASE, 2, { first: 0, count: 2 }), op.read(0, 0, BASE + 2), op.gup(0, 0, BASE, 3, GET_RO_FAST)]);
      expect(b.m.marks['GUP-fast fell back at the zero page']).toBe(1);
      expect(b.m.handles[0]!.pages.map((p) => p.pfn === ZERO)).toEqual([false, false, true]);
      expect(b.m.zeroPage!.gupRefs).toBe(1);
      b.apply(op.unpin(0)); // the batched unpin groups by folio: the zero page is a run of its own
      expect(b.m.zeroPage!.gupRefs).toBe(0);
    }
  });

  it('a write pin breaks COW from the zero page (FOLL_WRITE: a write fault)', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE), op.gup(0, 0, BASE, 1, PIN_RW)]);
    expect(b.pte(0, BASE)).toMatchObject({ writable: true });
    expect(b.m.handles[0]!.pages[0]!.pfn).toBe(b.pte(0, BASE).pfn);
    expect(b.m.marks['write fault copied from the zero page']).toBe(1);
  });

  it('try_grab_folio() / gup_put_folio() take and drop no pin on the zero page (6.5+), but FOLL_GET references', () => {
    const k = new ReferenceKernel();
    const m = createMachine(SMALL, ZP);
    k.tryGrabFolio(m, ZERO, 3, true);
    expect(m.zeroPage!.gupRefs).toBe(0);
    k.gupPutFolio(m, ZERO, 3, true);
    expect(m.zeroPage!.gupRefs).toBe(0);
    k.tryGrabFolio(m, ZERO, 2, false);
    expect(m.zeroPage!.gupRefs).toBe(2);
    k.gupPutFolio(m, ZERO, 2, false);
    expect(m.zeroPage!.gupRefs).toBe(0);
    expect(catchViolation(() => k.gupPutFolio(m, ZERO, 1, false))?.code).toBe('kernel_warn');
  });

  it('a GUP-fast walk (walkBegin) on the zero page grabs nothing and falls back at walkEnd', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE), op.walkBegin(1, 0, BASE, 'gupFast', false, false)]);
    const w = b.m.cpus[1]!.walker;
    expect(w?.kind === 'gupFast' ? w.grabbed : 'no walk').toBeNull();
    b.apply(op.walkEnd(1));
    expect(b.m.handles[0]!.pages[0]!.pfn).toBe(ZERO);
    expect(b.m.zeroPage!.gupRefs).toBe(1);
  });
});

describe('fork, zap, mprotect, mremap, migration, page-table readers', () => {
  it('fork copies the zero-page PTE (copy_present_ptes(): vm_normal_page() NULL → copy_pte); nothing is counted; the child COWs alone', () => {
    const ops = [op.read(0, 0, BASE), op.fork(0), op.write(0, 1, BASE), op.read(0, 0, BASE), op.read(0, 1, BASE)];
    expect(alone(new ReferenceKernel(), ops)).toBeNull();
    const b = bench();
    b.run(ops.slice(0, 2));
    expect(b.pte(1, BASE)).toMatchObject({ pfn: ZERO, writable: false, young: false });
    expect(b.m.frames[ZERO]!.mapcount).toBe(0);
    b.run(ops.slice(2));
    expect(b.pte(0, BASE).pfn).toBe(ZERO);
    expect(b.pte(1, BASE).pfn).not.toBe(ZERO);
  });

  it('zap clears the zero-page PTE and flushes it, and frees nothing (zap_present_ptes(): !page)', () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel()]) {
      const b = bench(k);
      b.run([op.read(0, 0, BASE), op.read(1, 0, BASE)]);
      const free = b.m.freeFrames;
      b.apply(op.zap(0, BASE, 1));
      expect(pteAt(b.m, mmId(0), asVpn(BASE))).toEqual({ kind: 'none' });
      expect(b.m.freeFrames).toBe(free);
      expect(b.m.cpus.every((c) => c.tlb.size === 0)).toBe(true);
      expect(b.m.marks['zap cleared a zero-page PTE']).toBe(1);
    }
  });

  it('mprotect(RW) never makes it writable (can_change_pte_writable(): not an exclusive anon page)', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE), op.mprotect(0, BASE, 1, false), op.mprotect(0, BASE, 1, true)]);
    expect(b.pte(0, BASE)).toMatchObject({ pfn: ZERO, writable: false });
  });

  it('mremap moves it like any PTE', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE + 1), op.mremap(0, BASE, 2 * BASE, 4)]);
    expect(b.pte(0, 2 * BASE + 1).pfn).toBe(ZERO);
    expect(pteAt(b.m, mmId(0), asVpn(BASE + 1))).toEqual({ kind: 'none' });
  });

  it('migration skips it (queue_folios_pte_range(): vm_normal_folio() NULL)', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE), op.write(0, 0, BASE + 1)]);
    expect(b.apply(op.migrate(0, BASE, 4)).result).toEqual({ kind: 'migrated', folios: 1 });
    expect(b.pte(0, BASE).pfn).toBe(ZERO);
  });

  it('a table holding only the zero page is not empty: PT reclaim leaves it; a pte_offset_map() reader reads it', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE), op.walkBegin(1, 0, BASE, 'pteOffsetMap')]);
    expect(b.apply(op.freeTable(0, 1)).result.kind).toBe('noop');
    b.apply(op.walkEnd(1));
  });
});

describe('batches never take the zero page in (folio_pte_batch(), zap and fork batching)', () => {
  // Pages 0 and 1 of an order-2 folio, then the zero page at page 2, then page 3 unmapped.
  const mixed: Op[] = [op.map(0, BASE, 2, { first: 0, count: 2 }), op.read(0, 0, BASE + 2), op.read(1, 0, BASE + 3)];

  it('the batched kernels equal their references on fork and zap across a folio next to zero-page PTEs', () => {
    const ops = [...mixed, op.fork(0), op.write(0, 1, BASE + 2), op.zap(0, BASE, 4), op.zap(1, BASE, 4)];
    expect(violationOf(runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, ops, undefined, null, ZP))).toBeNull();
    expect(violationOf(runDifferential(new Reference615(), new Batched615(), SMALL, ops, undefined, null, ZP))).toBeNull();
  });

  it('the fork batch of the folio stops before the zero page', () => {
    const b = bench(new BatchedKernel());
    b.run([...mixed, op.fork(0)]);
    expect(b.m.marks['fork copied a PTE batch']).toBe(1);
    expect(b.m.marks['fork copied a zero-page PTE']).toBe(2);
    expect(b.folio(b.pte(0, BASE).pfn).refcount).toBe(4);
  });
});

describe('oracles and reports', () => {
  it('the ledger reports a zero-page PTE made writable, and FOLL_GET references it cannot account for', () => {
    const b = bench();
    b.apply(op.read(0, 0, BASE));
    setPte(b.m, mmId(0), asVpn(BASE), { kind: 'present', pfn: ZERO, writable: true, dirty: true, young: true });
    expect(catchViolation(() => auditLedger(b.m, 1))?.code).toBe('writable_not_exclusive');
    const c = bench();
    c.apply(op.read(0, 0, BASE));
    c.m.zeroPage!.gupRefs = 1;
    expect(catchViolation(() => auditLedger(c.m, 1))?.code).toBe('refcount_mismatch');
  });

  it('a store through a writable zero-page TLB entry is refused (it would change every mapping of it)', () => {
    const b = new Bench(new ReferenceKernel(), false, SMALL, ZP);
    b.apply(op.read(0, 0, BASE));
    setPte(b.m, mmId(0), asVpn(BASE), { kind: 'present', pfn: ZERO, writable: true, dirty: true, young: true });
    b.m.cpus[0]!.tlb.clear();
    b.m.frames[ZERO]!.tlbRefs = 0;
    expect(catchViolation(() => b.apply(op.write(0, 0, BASE)))?.code).toBe('tlb_use_after_free');
    expect(b.m.frames[ZERO]!.content).toBe(0);
  });

  it('observe() and the trace name it `zero`, with the references FOLL_GET holds', () => {
    const b = bench();
    b.run([op.read(0, 0, BASE + 5), op.gup(0, 0, BASE + 5, 1, GET_RO)]);
    const o = observe(b.m, false);
    expect(o.mms[0]!.pmds[1]).toEqual({ 5: 'zero' });
    expect(o.handles[0]).toEqual(['zero']);
    expect(o.zeroPageGupRefs).toBe(1);
    const view = stateView(b.m);
    expect(view.get('mm0.pmd1.pte5')).toBe('zero');
    expect(view.get('zero page')).toBe('GUP references 1');
    expect(observe(new Bench().m, false)).not.toHaveProperty('zeroPageGupRefs');
  });

  it('the user-memory oracle holds a zero-page read to 0 like any untouched page', () => {
    expect(alone(new ReferenceKernel(), [op.read(0, 0, BASE), op.fork(0), op.read(1, 1, BASE), op.write(0, 0, BASE), op.read(2, 1, BASE)])).toBeNull();
  });

  it('a kernel that reuses the zero page on a store is caught', () => {
    /** Makes the zero page's PTE writable in place, as if do_wp_page() had reused it. */
    class ReusesZeroPage extends ReferenceKernel {
      override doWpPage(...args: Parameters<ReferenceKernel['doWpPage']>): void {
        const [m, cpu, mm, v, pte] = args;
        if (pte.pfn === (m.zeroPage?.pfn as Pfn | undefined)) this.wpPageReuse(m, cpu, mm, v, pte);
        else super.doWpPage(...args);
      }
    }
    expect(alone(new ReusesZeroPage(), [op.read(0, 0, BASE), op.write(0, 0, BASE)])?.code).toBe('tlb_use_after_free');
    expect(alone(new ReusesZeroPage(), [op.read(0, 0, BASE), op.gup(0, 0, BASE, 1, PIN_RW)])?.code).toBe('writable_not_exclusive');
  });
});
