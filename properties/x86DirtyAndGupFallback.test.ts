import { describe, expect, it } from 'vitest';
import { cpuId, mmId, vpn as asVpn } from '../models/machine/ids';
import { tlbLookup } from '../models/machine/tlb';
import { PTE_NONE } from '../models/machine/pte';
import { setPte } from '../models/machine/pgtable';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { runDifferential } from '../src/run/differential';
import type { Op } from '../src/ops/op';
import { Bench, SMALL } from './__helpers__/bench';
import { GET_RO, op } from './__helpers__/ops';

/**
 * Two facts the first release got wrong, which made `check --kernel batched --seed 2` fail on a
 * correct kernel (a refcount divergence after 4,843 sequences):
 * - x86 caches the PTE's dirty bit in the TLB; a store through an entry whose cached D is clear
 *   re-walks the page tables and sets D in the PTE (or faults if the PTE is gone or read-only);
 * - when GUP-fast gives up on a page (its recheck failed, or the entry did not allow the access),
 *   `gup_fast_fallback()` takes it through the slow path; the caller still gets the page.
 */

const mm0 = mmId(0);
const cpu0 = cpuId(0);

describe('x86 dirty bit: a store through a clean TLB entry re-walks', () => {
  it('a load caches the PTE clean; the first store through it sets the PTE dirty', () => {
    const b = new Bench();
    b.apply(op.mprotect(0, 5, 1, false)); // a read-only VMA, so that mprotect RW below changes it
    b.apply(op.gup(0, 0, 5, 1, GET_RO)); // a read fault: the PTE is writable-less and clean
    b.apply(op.mprotect(0, 5, 1, true)); // mprotect RW: writable, still clean
    expect(b.pte(0, 5)).toMatchObject({ writable: true, dirty: false });
    b.apply(op.read(0, 0, 5));
    expect(tlbLookup(b.m, cpu0, mm0, asVpn(5))).toMatchObject({ writable: true, dirty: false });
    b.apply(op.write(0, 0, 5));
    expect(b.pte(0, 5).dirty).toBe(true);
    expect(tlbLookup(b.m, cpu0, mm0, asVpn(5))).toMatchObject({ writable: true, dirty: true });
  });

  it('a store through a stale writable-clean entry to a cleared PTE faults instead of writing the old frame', () => {
    const b = new Bench();
    b.apply(op.mprotect(0, 5, 1, false));
    b.apply(op.gup(0, 0, 5, 1, GET_RO));
    b.apply(op.mprotect(0, 5, 1, true));
    b.apply(op.read(0, 0, 5)); // TLB: writable, clean
    const old = b.pte(0, 5).pfn;
    const before = b.frame(old).content;
    // A buggy kernel clears the PTE and does not flush; the entry stays in CPU 0's TLB.
    setPte(b.m, mm0, asVpn(5), PTE_NONE);
    const r = b.apply(op.write(0, 0, 5));
    expect(r.result).toEqual({ kind: 'value', value: b.step });
    expect(b.frame(old).content).toBe(before); // the old frame was not written
    expect(b.pte(0, 5).pfn).not.toBe(old); // the re-walk faulted a new page in
  });

  it('a store through a dirty writable entry completes from the TLB (control)', () => {
    const b = new Bench();
    b.apply(op.write(0, 0, 5)); // write fault: dirty PTE, dirty TLB entry
    const p = b.pte(0, 5).pfn;
    setPte(b.m, mm0, asVpn(5), PTE_NONE); // no flush: the entry is stale but dirty
    b.apply(op.write(0, 0, 5));
    expect(b.frame(p).content).toBe(b.step); // written through the stale entry, as hardware would
  });
});

describe('GUP-fast falls back to the slow path (gup_fast_fallback())', () => {
  it('a walk whose recheck fails still returns the page, taken the slow way', () => {
    const b = new Bench();
    b.apply(op.mprotect(0, 5, 1, false));
    b.apply(op.gup(0, 0, 5, 1, GET_RO));
    b.apply(op.mprotect(0, 5, 1, true));
    b.apply(op.walkBegin(1, 0, 5, 'gupFast'));
    b.apply(op.read(0, 0, 5));
    b.apply(op.write(0, 0, 5)); // sets the PTE dirty: the walk's recheck fails
    const r = b.apply(op.walkEnd(1));
    expect(r.result).toEqual({ kind: 'handle', handle: 1, pages: 1 });
    const h = b.m.handles.find((x) => x.id === 1);
    expect(h?.pages[0]?.pfn).toBe(b.pte(0, 5).pfn);
  });

  it('a walk on an address with nothing mapped faults the page in at once', () => {
    const b = new Bench();
    const r = b.apply(op.walkBegin(0, 0, 9, 'gupFast'));
    expect(r.result).toEqual({ kind: 'handle', handle: 0, pages: 1 });
    expect(b.m.cpus[0]?.walker).toBeNull();
    expect(b.pte(0, 9).kind).toBe('present');
  });
});

describe('regression: check --kernel batched --seed 2 --runs 6000 (sequence 4,843, shrunk)', () => {
  // MIGRC's flush at the tick empties CPU 0's TLB in the batched kernel only; the store at step 7
  // then re-walks there and sets the PTE dirty, failing the pending GUP-fast recheck. The reference
  // stored through its cached entry. With D cached in the TLB both kernels re-walk (the entry was
  // filled clean by the load), and a failed recheck falls back to slow GUP, so both get the page.
  const ops: Op[] = [
    { kind: 'gup', cpu: 0, mm: 0, vpn: 14, nr: 8, pin: false, write: false, fast: false },
    { kind: 'mprotect', mm: 0, vpn: 21, nr: 1, writable: true },
    { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: false, write: false },
    { kind: 'access', cpu: 0, mm: 0, vpn: 0, write: false },
    { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
    { kind: 'migrate', mm: 0, vpn: 0, count: 1 },
    { kind: 'tick' },
    { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: true },
    { kind: 'map', mm: 0, vpn: 0, order: 4, pmd: false, first: 0, count: 16 },
  ];

  it('batched holds against the reference', () => {
    const o = runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, ops);
    expect(o.ok ? null : o.violation).toBeNull();
  });

  it('both kernels end with the GUP-fast walk turned into a handle of the same page', () => {
    const o = runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, ops);
    const drain = o.steps.find((s) => s.step === ops.length);
    expect(drain?.applied.result).toEqual({ kind: 'done' });
    const b = new Bench(new BatchedKernel());
    b.run(ops);
    b.apply(op.drain());
    expect(b.m.handles.map((h) => h.pages.map((p) => p.pfn))).toContainEqual([b.pte(0, 21).pfn]);
  });
});
