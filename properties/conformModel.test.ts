import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { Reference615 } from '../models/v615/Reference615';
import type { Op } from '../src/ops/op';
import { runInModel } from '../src/conform/modelRun';
import { canonicalLines, firstDifference } from '../src/conform/canonical';
import { parseKernelOutput, RuntimeError } from '../src/conform/kernelOutput';
import { interpreterInput } from '../src/conform/runtimeSource';
import { parseRelease, referenceFor } from '../src/conform/release';
import { VmaLayout } from '../src/conform/vmaLayout';
import { mmId } from '../models/machine/ids';

// The model side of `conform` (no kernel needed): which ops a user program can reproduce, the
// runtime calls each becomes, the observables the model prints, and how they are compared.
const g = geometry('realistic');
const on = { kernelZeroPage: true, modelZeroPage: false, numaNodes: 1 };
const run = (ops: Op[], k: ReferenceKernel = new Reference615()) => runInModel(k, g, ops, on);
const map = (vpn: number, order: number, pmd: boolean, first = 0, count = 1 << order): Op => ({ kind: 'map', mm: 0, vpn, order, pmd, first, count });
const store = (vpn: number, mm = 0): Op => ({ kind: 'access', cpu: 0, mm, vpn, write: true });
const load = (vpn: number, mm = 0): Op => ({ kind: 'access', cpu: 1, mm, vpn, write: false });

describe('conform: which ops a user program reproduces', () => {
  it('translates a map of a partial mTHP into one runtime map call of the aligned folio', () => {
    const p = run([map(5, 4, false, 2, 3)]);
    expect(p.steps[0]!.calls).toEqual([{ fn: 'map', mm: 0, base: 0, order: 4, pmd: 0, first: 2, count: 3 }]);
  });

  it('leaves out a map the kernel cannot place: order 1, a populated neighbour, a read-only range, a split PMD', () => {
    const p = run([map(0, 1, false), store(20), map(16, 4, false, 0, 4), { kind: 'mprotect', mm: 0, vpn: 40, nr: 1, writable: false }, map(32, 4, false, 0, 1), map(512, 9, false, 0, 8)]);
    expect(p.steps.map((s) => s.left?.split(':')[0] ?? null)).toEqual([
      'the kernel has no order-1 anonymous THP (the smallest anon mTHP is order 2)',
      null,
      'other pages of the folio range are populated',
      null,
      'the folio range is not all writable',
      null,
    ]);
    expect(p.steps[5]!.calls).toEqual([{ fn: 'map', mm: 0, base: 512, order: 9, pmd: 0, first: 0, count: 8 }]);
  });

  it('leaves out a map across the VMA boundary an mremap made, and a load of an untouched page (no zero page in the model)', () => {
    const p = run([{ kind: 'mremap', mm: 0, from: 0, to: 1000, nr: 8 }, map(1000, 4, false, 0, 16), load(7)]);
    expect(p.steps[0]!.calls).toEqual([
      { fn: 'mremap', mm: 0, from: 0, to: 1000, nr: 8 },
      { fn: 'refill', mm: 0, vpn: 0, nr: 8, writable: 1 },
    ]);
    expect(p.steps[1]!.left).toMatch(/spans two VMAs/);
    expect(p.steps[2]!.left).toMatch(/zero page/);
  });

  it('with the zero page on both sides, a load of an untouched page runs and shows the zero page; a store then copies from it', () => {
    const p = runInModel(new Reference615(), g, [load(7), store(7)], { kernelZeroPage: true, modelZeroPage: true, numaNodes: 1 });
    expect(p.steps.map((s) => s.left)).toEqual([null, null]);
    expect(canonicalLines(p.expected[0]!)).toEqual(['result: value 0', 'mm0 vpn 7: zero page, value 0']);
    expect(canonicalLines(p.expected[1]!)).toEqual(['mm0 vpn 7: f0 small, mapcount 1 exclusive, value 2']);
  });

  it('gives GUP the system call that does the same: a write pin is io_uring, a read-only get is vmsplice, others are left out', () => {
    const gup = (pin: boolean, write: boolean): Op => ({ kind: 'gup', cpu: 0, mm: 0, vpn: 0, nr: 2, pin, write, fast: true });
    const p = run([map(0, 2, false), gup(true, true), gup(false, false), gup(true, false), gup(false, true), { kind: 'gupWrite', handle: 0, index: 1 }, { kind: 'gupRead', handle: 1, index: 1 }]);
    expect(p.steps.map((s) => s.calls.map((c) => c.fn).join(',') || s.left)).toEqual([
      'map',
      'pin',
      'get',
      expect.stringMatching(/read-only FOLL_PIN/),
      expect.stringMatching(/FOLL_GET \| FOLL_WRITE/),
      'devwrite',
      'devread',
    ]);
    expect(p.expected[1]!.results).toEqual(['pinned 2']);
    expect(p.expected[2]!.results).toEqual(['got 2']);
    expect(p.expected[6]!.results).toEqual(['value 6']);
  });

  it('exports file 0 as a memfd (mmapfile, pwrite, pread, fsync, truncate) and leaves out what tmpfs or the model does differently', () => {
    const mmapFile = (vpn: number, file: number, shared: boolean): Op => ({ kind: 'mmapFile', mm: 0, vpn, nr: 8, file, pgoff: 0, shared });
    const p = run([
      mmapFile(0, 0, true),
      { kind: 'fileWrite', file: 0, index: 2 },
      { kind: 'fileRead', file: 0, index: 2 },
      { kind: 'fileRead', file: 0, index: 5 },
      { kind: 'writeback', file: 0 },
      { kind: 'truncate', file: 0, from: 4 },
      mmapFile(32, 1, false),
      map(0, 2, false),
      { kind: 'gup', cpu: 0, mm: 0, vpn: 0, nr: 2, pin: true, write: true, fast: true },
      mmapFile(64, 0, false),
      load(66),
      { kind: 'fork', mm: 0 },
    ]);
    expect(p.steps.map((s) => s.calls.map((c) => c.fn).join(',') || s.left?.split(':')[0] || s.left)).toEqual([
      'mmapfile',
      'pwrite',
      'pread',
      expect.stringMatching(/^pread\(\) of a page tmpfs does not hold/),
      'fsync',
      'truncate',
      expect.stringMatching(/^file 1's page cache holds 16K folios/),
      'the folio range meets a file mapping',
      expect.stringMatching(/^GUP of a file mapping is not modelled/),
      'mmapfile',
      'load',
      expect.stringMatching(/^fork of an mm mapping a page-cache page MAP_PRIVATE/),
    ]);
    expect(p.steps[0]!.calls).toEqual([{ fn: 'mmapfile', mm: 0, vpn: 0, nr: 8, file: 0, pgoff: 0, shared: 1 }]);
    expect(p.expected[2]!.results).toEqual(['value 2']);
    expect(interpreterInput(p.steps)).toContain('pwrite 1 0 2 2');
  });

  it('leaves out kernel-internal events and a model no-op runs nothing', () => {
    const p = run([{ kind: 'tick' }, { kind: 'freeTable', mm: 0, pmd: 0 }, { kind: 'mremap', mm: 0, from: 0, to: 4, nr: 8 }]);
    expect(p.steps[0]!.left).toMatch(/kernel-internal/);
    expect(p.steps[1]!.left).toMatch(/kernel-internal/);
    expect(p.steps[2]).toMatchObject({ left: null, calls: [] });
    expect(interpreterInput(p.steps).split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual(['observe 0', 'observe 1', 'observe 2']);
  });
});

describe('conform: the observables', () => {
  it('names frames and folios by first appearance, with the mapcount and pagemap exclusive bit 6.18 shows', () => {
    const p = run([map(0, 2, false, 0, 2), { kind: 'fork', mm: 0 }, store(1, 1)]);
    expect(canonicalLines(p.expected[1]!)).toEqual([
      'mm0 vpn 0: f0 folio F0 order 2 THP, mapcount 2, value 0',
      'mm0 vpn 1: f1 folio F0 order 2 THP, mapcount 2, value 0',
      'mm1 vpn 0: f0 folio F0 order 2 THP, mapcount 2, value 0',
      'mm1 vpn 1: f1 folio F0 order 2 THP, mapcount 2, value 0',
    ]);
    expect(canonicalLines(p.expected[2]!).slice(2)).toEqual(['mm1 vpn 0: f0 folio F0 order 2 THP, mapcount 2, value 0', 'mm1 vpn 1: f2 small, mapcount 1 exclusive, value 3']);
  });

  it('reads the runtime output the same way, whatever the frame numbers, and finds the first differing line', () => {
    const model = run([map(0, 2, false, 0, 2)]).expected;
    const kernel = parseKernelOutput(['obs 0 mm0 0 pfn=4100 map=1 excl=1 thp=1 order=2 zero=0 val=0', 'obs 0 mm0 1 pfn=4101 map=1 excl=1 thp=1 order=2 zero=0 val=0', 'end 0'].join('\n'));
    expect(firstDifference(model, kernel)).toBeNull();
    const moved = parseKernelOutput(['obs 0 mm0 0 pfn=4100 map=1 excl=1 thp=1 order=2 zero=0 val=0', 'obs 0 mm0 1 pfn=8193 map=1 excl=1 thp=1 order=2 zero=0 val=0', 'end 0'].join('\n'));
    expect(firstDifference(model, moved)).toMatchObject({ step: 0, model: 'mm0 vpn 1: f1 folio F0 order 2 THP, mapcount 1 exclusive, value 0', kernel: 'mm0 vpn 1: f1 folio F1 order 2 THP, mapcount 1 exclusive, value 0' });
    expect(() => parseKernelOutput('error step 3 io_uring_setup: Operation not permitted')).toThrow(RuntimeError);
  });

  it('6.12 and 6.15 policies differ where the kernel changed: a large folio written after the child exits is reused from 6.15 on', () => {
    const ops: Op[] = [map(0, 4, false), { kind: 'fork', mm: 0 }, { kind: 'exit', mm: 1 }, store(3)];
    const d = firstDifference(run(ops, new ReferenceKernel()).expected, run(ops).expected);
    expect(d).toMatchObject({ step: 3, model: 'mm0 vpn 3: f3 small, mapcount 1 exclusive, value 4', kernel: 'mm0 vpn 3: f3 folio F0 order 4 THP, mapcount 1 exclusive, value 4' });
    expect(referenceFor(parseRelease('6.18.44-fc')!)).toBe('reference-6.15');
    expect(referenceFor(parseRelease('6.12.1')!)).toBe('reference');
  });

  it('VmaLayout: a moved range and its refilled source are VMAs of their own', () => {
    const l = new VmaLayout(64);
    l.moved(mmId(0), 0, 32, 8);
    expect(l.oneVma(mmId(0), 0, 8)).toBe(true);
    expect(l.oneVma(mmId(0), 0, 16)).toBe(false);
    expect(l.oneVma(mmId(0), 8, 32)).toBe(true);
    expect(l.oneVma(mmId(0), 30, 34)).toBe(false);
    expect(l.oneVma(mmId(0), 32, 40)).toBe(true);
  });
});
