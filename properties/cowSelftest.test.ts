import { describe, expect, it } from 'vitest';
import type { MmId, Pfn } from '../models/machine/ids';
import { mmId, vpn as asVpn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { folioAt, frameAt } from '../models/machine/frames';
import { pmdAt, pmdIndexOf, pmdStart, pteAt, setPmd } from '../models/machine/pgtable';
import type { FaultKind } from '../models/reference/faults';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { ForkKeepsSwapExclusive } from '../models/mutants/forkKeepsSwapExclusive';
import { SwapinIgnoresExclusiveBit } from '../models/mutants/swapinIgnoresExclusiveBit';
import type { OpResult } from '../models/result';
import { runDifferential } from '../src/run/differential';
import { runOps } from '../src/run/runOps';
import { Bench, SMALL, violationOf } from './__helpers__/bench';
import type { GupOpts } from './__helpers__/ops';
import { PIN_RO, PIN_RO_FAST, op } from './__helpers__/ops';
import { Script } from './__helpers__/script';

/**
 * The anonymous-memory cases of the kernel's COW selftest (tools/testing/selftests/mm/cow.c,
 * `anon_test_cases[]` × the backings of `run_anon_test_case()`) that the op vocabulary can
 * express, as fixed scenarios on the reference kernel with every oracle on. The memory oracle
 * checks each load and each device read against its abstract model; each scenario also states
 * the values it expects explicitly, so that it cannot pass by reading nothing. Every scenario is
 * then replayed through the differential runner against a second reference kernel (determinism).
 *
 * Conventions: the parent is live mm #0 and stores on CPU 0 and loads on CPU 2; the child is live
 * mm #1 (the newest) and uses CPU 1. The area under test is [BASE, BASE + size) — `memset()` in
 * the selftest is one store per page here. A pin is the only live GUP handle, so handle index 0.
 * The swapped-out backings (issue 13) store their data first and page it out with MADV_PAGEOUT,
 * as the selftest's `run_with_*_swap()` do, so each case starts on swap entries (fork duplicates
 * them, the first access swaps in). The hugetlb backings, io_uring and the non-anonymous cases
 * have no counterpart in the op vocabulary and are left out.
 */

const THP_ORDER = SMALL.maxFolioOrder;
const THP_PAGES = 1 << THP_ORDER;
/** PMD slot 1: PMD-aligned, so a THP there can be PMD-mapped. */
const BASE = SMALL.ptrsPerPte;
/** An empty PMD slot, where the partially mremap()'ed THP's second half goes. */
const REMAP_TO = 3 * SMALL.ptrsPerPte;
const DONE: OpResult = { kind: 'done' };

interface Backing {
  /** As the selftest prints it after "with". */
  readonly name: string;
  /** Pages under test, from BASE (the selftest's `size`). */
  readonly size: number;
  /**
   * Sets the area up. A swapped-out backing stores its data first and returns the values as an
   * array (the case then stores nothing before its fork: the data must be on swap when fork
   * runs); anything else it returns is ignored.
   */
  readonly setup: (s: Script) => unknown;
  /**
   * What setup leaves at BASE in the parent: folio order (null: nothing mapped), PMD-mapped, the
   * folio's mappings; for a swapped-out backing, how many pages of the area are swap entries.
   */
  readonly shape: { readonly order: number | null; readonly pmd: boolean; readonly mappings: number; readonly swapped?: number };
}

/** Store to every page of [BASE, BASE + n) from the parent, then MADV_PAGEOUT [BASE + from, BASE + from + out). */
function storeAndPageOut(s: Script, n: number, from: number, out: number, folios: number): number[] {
  const values = Array.from({ length: n }, (_, k) => s.write(0, 0, BASE + k));
  s.do(op.madvise(0, BASE + from, out, 'pageout'), { kind: 'reclaimed', folios }, 'MADV_PAGEOUT');
  return values;
}

const BACKINGS: readonly Backing[] = [
  {
    name: 'base page',
    size: 1,
    setup: (s) => s.do(op.map(0, BASE, 0), DONE, 'map a base page'),
    shape: { order: 0, pmd: false, mappings: 1 },
  },
  {
    // MADV_NOHUGEPAGE memory populated by the first store: a demand-zero fault.
    name: 'demand-faulted base page',
    size: 1,
    setup: () => {},
    shape: { order: null, pmd: false, mappings: 0 },
  },
  {
    name: 'THP',
    size: THP_PAGES,
    setup: (s) => s.do(op.map(0, BASE, THP_ORDER, { pmd: true }), DONE, 'map a PMD THP'),
    shape: { order: THP_ORDER, pmd: true, mappings: 1 },
  },
  {
    name: 'PTE-mapped THP',
    size: THP_PAGES,
    setup: (s) => s.do(op.map(0, BASE, THP_ORDER), DONE, 'map a PMD-order folio with PTEs'),
    shape: { order: THP_ORDER, pmd: false, mappings: THP_PAGES },
  },
  {
    // What the selftest does: mprotect() one subpage R/O and back, which splits the PMD.
    name: 'PTE-mapped THP (PMD split by mprotect())',
    size: THP_PAGES,
    setup: (s) => {
      s.do(op.map(0, BASE, THP_ORDER, { pmd: true }), DONE, 'map a PMD THP');
      s.do(op.mprotect(0, BASE + 1, 1, false), DONE);
      s.do(op.mprotect(0, BASE + 1, 1, true), DONE);
    },
    shape: { order: THP_ORDER, pmd: false, mappings: THP_PAGES },
  },
  {
    name: 'single PTE of THP',
    size: 1,
    setup: (s) => {
      s.do(op.map(0, BASE, THP_ORDER, { pmd: true }), DONE, 'map a PMD THP');
      s.do(op.zap(0, BASE + 1, THP_PAGES - 1), DONE, 'MADV_DONTNEED all but page 0');
    },
    shape: { order: THP_ORDER, pmd: false, mappings: 1 },
  },
  {
    name: "partially mremap()'ed THP",
    size: THP_PAGES / 2,
    setup: (s) => {
      s.do(op.map(0, BASE, THP_ORDER, { pmd: true }), DONE, 'map a PMD THP');
      s.do(op.mremap(0, BASE + THP_PAGES / 2, REMAP_TO, THP_PAGES / 2), DONE, 'mremap() the second half elsewhere');
    },
    shape: { order: THP_ORDER, pmd: false, mappings: THP_PAGES },
  },
  {
    // The selftest does MADV_DONTFORK on all but page 0, fork(), the child exits, MADV_DOFORK:
    // only page 0 was ever shared. There is no MADV_DONTFORK op, so the child here inherits the
    // whole folio and zaps all but page 0 before exiting. The folio's end state is the same
    // (mapped only by the parent, page 0 once shared), except that fork also cleared
    // PageAnonExclusive on pages 1.. — they look "previously shared" too, which is the harder
    // case for the reuse and unshare paths, so nothing the selftest checks is lost.
    name: 'partially shared THP',
    size: THP_PAGES,
    setup: (s) => {
      s.do(op.map(0, BASE, THP_ORDER), DONE, 'map a PMD-order folio with PTEs');
      s.fork(0);
      s.do(op.zap(1, BASE + 1, THP_PAGES - 1), DONE, 'the child drops all but page 0');
      s.do(op.exit(1), DONE, 'the child exits');
    },
    shape: { order: THP_ORDER, pmd: false, mappings: THP_PAGES },
  },
  // The swapped-out backings of cow.c (run_with_base_page_swap(), THP_RUN_PMD_SWAPOUT,
  // THP_RUN_PTE_SWAPOUT, THP_RUN_SINGLE_PTE_SWAPOUT, THP_RUN_PARTIAL_SWAPOUT).
  {
    name: 'swapped-out base page',
    size: 1,
    setup: (s) => {
      s.do(op.map(0, BASE, 0), DONE, 'map a base page');
      return storeAndPageOut(s, 1, 0, 1, 1);
    },
    shape: { order: null, pmd: false, mappings: 0, swapped: 1 },
  },
  {
    // Reclaim splits the PMD (TTU_SPLIT_HUGE_PMD) and swaps the folio out whole.
    name: 'swapped-out THP',
    size: THP_PAGES,
    setup: (s) => {
      s.do(op.map(0, BASE, THP_ORDER, { pmd: true }), DONE, 'map a PMD THP');
      return storeAndPageOut(s, THP_PAGES, 0, THP_PAGES, 1);
    },
    shape: { order: null, pmd: false, mappings: 0, swapped: THP_PAGES },
  },
  {
    name: 'swapped-out, PTE-mapped THP',
    size: THP_PAGES,
    setup: (s) => {
      s.do(op.map(0, BASE, THP_ORDER), DONE, 'map a PMD-order folio with PTEs');
      return storeAndPageOut(s, THP_PAGES, 0, THP_PAGES, 1);
    },
    shape: { order: null, pmd: false, mappings: 0, swapped: THP_PAGES },
  },
  {
    // MADV_PAGEOUT of one page of a THP mapped whole: the range does not cover the folio, so
    // madvise splits it (it is exclusive) and pages out the one order-0 piece.
    name: 'single PTE of swapped-out THP',
    size: 1,
    setup: (s) => {
      s.do(op.map(0, BASE, THP_ORDER, { pmd: true }), DONE, 'map a PMD THP');
      s.do(op.zap(0, BASE + 1, THP_PAGES - 1), DONE, 'MADV_DONTNEED all but page 0');
      return storeAndPageOut(s, 1, 0, 1, 1);
    },
    shape: { order: null, pmd: false, mappings: 0, swapped: 1 },
  },
  {
    // Half the THP paged out: split by madvise, the pieces in range swapped out, the rest mapped.
    name: 'partially swapped-out THP',
    size: THP_PAGES,
    setup: (s) => {
      s.do(op.map(0, BASE, THP_ORDER), DONE, 'map a PMD-order folio with PTEs');
      return storeAndPageOut(s, THP_PAGES, THP_PAGES / 2, THP_PAGES / 2, THP_PAGES / 2);
    },
    shape: { order: 0, pmd: false, mappings: 1, swapped: THP_PAGES / 2 },
  },
];

interface TestCase {
  /** As the selftest prints it, before "with <backing>". */
  readonly name: string;
  /** The check the selftest reports. */
  readonly law: string;
  /**
   * The test function, on the area [BASE, BASE + area.length); `stored` holds what a swapped-out
   * backing stored (null: the case stores its own data first).
   */
  readonly run: (s: Script, area: readonly number[], stored: readonly number[] | null) => void;
}

const LEAK_P2C = 'No leak from parent into child';
const LEAK_C2P = 'No leak from child into parent';
const PIN_RELIABLE = 'Longterm R/O pin is reliable';

/** Parent mprotect(PROT_READ) then mprotect(PROT_READ|PROT_WRITE): exercises the can_change_pte_writable() upgrade. */
function mprotectRoRw(s: Script, n: number): void {
  s.do(op.mprotect(0, BASE, n, false), DONE);
  s.do(op.mprotect(0, BASE, n, true), DONE);
}

const parentStores = (s: Script, area: readonly number[]): number[] => area.map((v) => s.write(0, 0, v));
/** The data the case starts from: what a swapped-out backing stored, or the parent's stores now. */
const initialData = (s: Script, area: readonly number[], stored: readonly number[] | null): readonly number[] => stored ?? parentStores(s, area);
const childStores = (s: Script, area: readonly number[]): number[] => area.map((v) => s.write(1, 1, v));

/** "Basic COW after fork()" (do_test_cow_in_parent), extended with the child→parent direction. */
function basicCow(withMprotect: boolean): TestCase['run'] {
  return (s, area, stored) => {
    const before = initialData(s, area, stored);
    s.fork(0);
    if (withMprotect) mprotectRoRw(s, area.length);
    const parentAfter = parentStores(s, area);
    area.forEach((v, k) => s.read(1, 1, v, before[k]!, LEAK_P2C));
    const childAfter = childStores(s, area);
    area.forEach((v, k) => s.read(2, 0, v, parentAfter[k]!, LEAK_C2P));
    area.forEach((v, k) => s.read(1, 1, v, childAfter[k]!, 'the child reads its own stores'));
  };
}

/** "vmsplice() + unmap in child": the child takes an R/O pin and unmaps; the parent writes; the pin still has the old data. */
function pinUnmapInChild(withMprotect: boolean): TestCase['run'] {
  return (s, area, stored) => {
    const before = initialData(s, area, stored);
    s.fork(0);
    s.gup(1, 1, BASE, area.length, PIN_RO);
    s.do(op.zap(1, BASE, area.length), DONE, 'the child unmaps the pinned range');
    if (withMprotect) mprotectRoRw(s, area.length);
    parentStores(s, area);
    area.forEach((_, k) => s.gupRead(0, k, before[k]!, LEAK_P2C));
    s.do(op.unpin(0), DONE);
  };
}

/** "vmsplice() [before fork()] + unmap in parent after fork()": the parent pins and unmaps; the child writes; the pin has the old data. */
function pinUnmapInParent(pinBeforeFork: boolean): TestCase['run'] {
  return (s, area, stored) => {
    const before = initialData(s, area, stored);
    if (pinBeforeFork) s.gup(0, 0, BASE, area.length, PIN_RO);
    s.fork(0);
    if (!pinBeforeFork) s.gup(0, 0, BASE, area.length, PIN_RO);
    s.do(op.zap(0, BASE, area.length), DONE, 'the parent unmaps the pinned range');
    const childAfter = childStores(s, area);
    area.forEach((_, k) => s.gupRead(0, k, before[k]!, LEAK_C2P));
    area.forEach((v, k) => s.read(1, 1, v, childAfter[k]!, 'the child reads its own stores'));
    s.do(op.unpin(0), DONE);
  };
}

type RoPinTest = 'shared' | 'previously-shared' | 'exclusive';

/**
 * "R/O GUP pin on R/O-mapped … page" (do_test_ro_pin): take an R/O pin (which must unshare the
 * page), let the parent store, read back through the pin: it must see the parent's new data.
 */
function roPin(test: RoPinTest, flags: GupOpts): TestCase['run'] {
  return (s, area, stored) => {
    const before = initialData(s, area, stored);
    switch (test) {
      case 'shared':
        s.fork(0);
        s.do(op.mprotect(0, BASE, area.length, false), DONE);
        break;
      case 'previously-shared':
        s.fork(0);
        s.do(op.exit(1), DONE, 'the child exits before the pin');
        break;
      case 'exclusive':
        mprotectRoRw(s, area.length);
        break;
    }
    s.gup(0, 0, BASE, area.length, flags);
    if (test === 'shared') s.do(op.mprotect(0, BASE, area.length, true), DONE);
    const after = parentStores(s, area);
    area.forEach((_, k) => s.gupRead(0, k, after[k]!, PIN_RELIABLE));
    if (test === 'shared') area.forEach((v, k) => s.read(1, 1, v, before[k]!, LEAK_P2C));
    s.do(op.unpin(0), DONE);
  };
}

const CASES: readonly TestCase[] = [
  { name: 'Basic COW after fork()', law: 'no leak between parent and child', run: basicCow(false) },
  { name: 'Basic COW after fork() with mprotect() optimization', law: 'no leak between parent and child', run: basicCow(true) },
  { name: 'R/O pin + unmap in child', law: LEAK_P2C, run: pinUnmapInChild(false) },
  { name: 'R/O pin + unmap in child with mprotect() optimization', law: LEAK_P2C, run: pinUnmapInChild(true) },
  { name: 'R/O pin before fork(), unmap in parent after fork()', law: LEAK_C2P, run: pinUnmapInParent(true) },
  { name: 'R/O pin + unmap in parent after fork()', law: LEAK_C2P, run: pinUnmapInParent(false) },
  { name: 'R/O GUP pin on R/O-mapped shared page', law: PIN_RELIABLE, run: roPin('shared', PIN_RO) },
  { name: 'R/O GUP-fast pin on R/O-mapped shared page', law: PIN_RELIABLE, run: roPin('shared', PIN_RO_FAST) },
  { name: 'R/O GUP pin on R/O-mapped previously-shared page', law: PIN_RELIABLE, run: roPin('previously-shared', PIN_RO) },
  { name: 'R/O GUP-fast pin on R/O-mapped previously-shared page', law: PIN_RELIABLE, run: roPin('previously-shared', PIN_RO_FAST) },
  { name: 'R/O GUP pin on R/O-mapped exclusive page', law: PIN_RELIABLE, run: roPin('exclusive', PIN_RO) },
  { name: 'R/O GUP-fast pin on R/O-mapped exclusive page', law: PIN_RELIABLE, run: roPin('exclusive', PIN_RO_FAST) },
];

/** The swapped-out backings (issue 13). */
const SWAPPED = BACKINGS.filter((b) => (b.shape.swapped ?? 0) > 0);

const areaOf = (b: Backing): number[] => Array.from({ length: b.size }, (_, k) => BASE + k);

function scenario(c: TestCase, b: Backing): Script {
  const s = new Script();
  const r = b.setup(s);
  const stored = Array.isArray(r) ? (r as number[]) : null;
  c.run(s, areaOf(b), stored);
  return s;
}

describe('the backings set up what the selftest names', () => {
  it.each(BACKINGS)('$name', (b) => {
    const s = new Script();
    b.setup(s);
    const bench = new Bench(new ReferenceKernel(), true);
    const results = bench.run(s.ops).map((a) => a.result);
    for (const e of s.expectations) expect(results[e.step], e.why).toEqual(e.result);
    const parent = mmId(0);
    const pmd = pmdAt(bench.m, parent, pmdIndexOf(bench.m, asVpn(BASE)));
    expect(pmd.kind === 'leaf').toBe(b.shape.pmd);
    const pages: Pfn[] = [];
    let swapped = 0;
    for (const v of areaOf(b)) {
      const pte = pteAt(bench.m, parent, asVpn(v));
      if (pmd.kind === 'leaf') pages.push((pmd.pfn + (v - pmdStart(bench.m, 1))) as Pfn);
      else if (pte !== null && pte.kind === 'present') pages.push(pte.pfn);
      else if (pte !== null && pte.kind === 'swap') swapped++;
    }
    expect(swapped).toBe(b.shape.swapped ?? 0);
    if (b.shape.order === null) {
      expect(pages).toEqual([]);
      return;
    }
    expect(pages).toHaveLength(b.size - swapped);
    const folios = new Set(pages.map((p) => bench.frame(p).head));
    // A partly swapped-out THP was split: its mapped pages are order-0 folios of their own.
    expect(folios.size).toBe(swapped > 0 ? pages.length : 1);
    const f = folioAt(bench.m, pages[0]!);
    expect(f.order).toBe(b.shape.order);
    const mappings = f.order > 0 ? f.largeMapcount : bench.frame(pages[0]!).mapcount;
    expect(mappings).toBe(b.shape.mappings);
  });
});

describe.each(CASES)('$name', (c) => {
  it.each(BACKINGS)(`${c.name} with $name: ${c.law}`, (b) => {
    const s = scenario(c, b);
    const outcome = runOps(new ReferenceKernel(), SMALL, s.ops);
    expect(violationOf(outcome)).toBeNull();
    for (const e of s.expectations) expect(outcome.steps[e.step]?.applied.result, e.why).toEqual(e.result);
    // The law itself is checked on at least one value per page of the area.
    const lawChecks = s.expectations.filter((e) => e.why.includes(c.law) || (c.law.startsWith('no leak') && e.why.includes('No leak')));
    expect(lawChecks.length).toBeGreaterThanOrEqual(b.size);
  });

  it.each(SWAPPED)(`${c.name} with $name: the batched kernel (TTU_BATCH_FLUSH, swap entry batches) agrees with the reference step by step`, (b) => {
    const s = scenario(c, b);
    expect(violationOf(runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, s.ops))).toBeNull();
  });

  it.each(BACKINGS)(`${c.name} with $name: two reference kernels agree step by step`, (b) => {
    const s = scenario(c, b);
    expect(violationOf(runDifferential(new ReferenceKernel(), new ReferenceKernel(), SMALL, s.ops))).toBeNull();
  });
});

// ---- the scenarios have teeth: kernels with the bugs the selftest was written for fail them ----

/** COW that never copies: every write fault on a shared page reuses it in place (PTE and PMD). */
class CowAlwaysReuses extends ReferenceKernel {
  override readonly name = 'cow-always-reuses';
  override wpCanReuseAnonFolio(): boolean {
    return true;
  }
  override doHugePmdWpPage(m: Machine, mm: MmId, i: number, kind: FaultKind): boolean {
    const pmd = pmdAt(m, mm, i);
    if (pmd.kind !== 'leaf') return false;
    frameAt(m, pmd.pfn).anonExclusive = true;
    if (kind === 'write') setPmd(m, mm, i, { ...pmd, writable: true, dirty: true, young: true });
    return true;
  }
}

/** R/O pins that never unshare: gup_must_unshare() always says no. */
class PinWithoutUnshare extends ReferenceKernel {
  override readonly name: string = 'pin-without-unshare';
  override gupMustUnshare(): boolean {
    return false;
  }
}

/**
 * The COW rule before the 2020/2021 fixes (CVE-2020-29374): reuse a page when it is mapped once,
 * whatever its refcount, and no unsharing for R/O pins. A pin taken in the child survives the
 * child's unmap, and the parent's next write lands in the pinned page.
 */
class MapcountReuse extends PinWithoutUnshare {
  override readonly name = 'mapcount-reuse';
  override wpCanReuseAnonFolio(m: Machine, head: Pfn): boolean {
    return folioAt(m, head).order === 0 && frameAt(m, head).mapcount === 1;
  }
}

const MEMORY_ONLY = { ledger: false, memory: true } as const;
const caseNamed = (name: string): TestCase => {
  const c = CASES.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no case ${name}`);
  return c;
};
const smallFolioBackings = BACKINGS.filter((b) => b.name.includes('base page'));

describe('the scenarios catch the bugs the selftest was written for', () => {
  it.each(BACKINGS)('Basic COW after fork() with $name fails on a kernel whose COW never copies', (b) => {
    const ops = scenario(caseNamed('Basic COW after fork()'), b).ops;
    expect(runOps(new CowAlwaysReuses(), SMALL, ops).ok).toBe(false);
    expect(violationOf(runOps(new CowAlwaysReuses(), SMALL, ops, MEMORY_ONLY))).toMatchObject({ code: 'stale_read' });
  });

  it.each(BACKINGS)('R/O GUP pin on R/O-mapped shared page with $name fails on a kernel whose R/O pins never unshare', (b) => {
    const ops = scenario(caseNamed('R/O GUP pin on R/O-mapped shared page'), b).ops;
    expect(violationOf(runOps(new PinWithoutUnshare(), SMALL, ops))).toMatchObject({ code: 'pinned_not_exclusive' });
    expect(violationOf(runOps(new PinWithoutUnshare(), SMALL, ops, MEMORY_ONLY))).toMatchObject({ code: 'pin_unreliable' });
  });

  it.each(smallFolioBackings)('R/O pin + unmap in child with $name fails on the mapcount-based reuse rule of CVE-2020-29374', (b) => {
    const ops = scenario(caseNamed('R/O pin + unmap in child'), b).ops;
    expect(violationOf(runOps(new MapcountReuse(), SMALL, ops, MEMORY_ONLY))).toMatchObject({ code: 'pin_unreliable' });
  });

  it.each(SWAPPED)('Basic COW after fork() with $name fails on a kernel whose fork keeps the swap entry exclusive', (b) => {
    const ops = scenario(caseNamed('Basic COW after fork()'), b).ops;
    expect(runOps(new ForkKeepsSwapExclusive(), SMALL, ops).ok).toBe(false);
    // The second swap-in maps the one page exclusive again: the rmap self-check (VM_WARN) fires, or the leak is read.
    expect(['stale_read', 'kernel_warn']).toContain(violationOf(runOps(new ForkKeepsSwapExclusive(), SMALL, ops, MEMORY_ONLY))?.code);
  });

  it.each(SWAPPED)('Basic COW after fork() with $name fails on a kernel whose swap-in ignores the exclusive marker', (b) => {
    const ops = scenario(caseNamed('Basic COW after fork()'), b).ops;
    expect(runOps(new SwapinIgnoresExclusiveBit(), SMALL, ops).ok).toBe(false);
    // The second swap-in maps the one page exclusive again: the rmap self-check (VM_WARN) fires, or the leak is read.
    expect(['stale_read', 'kernel_warn']).toContain(violationOf(runOps(new SwapinIgnoresExclusiveBit(), SMALL, ops, MEMORY_ONLY))?.code);
  });
});
