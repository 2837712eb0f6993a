import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Pfn } from '../models/machine/ids';
import { frameAt, folioAt } from '../models/machine/frames';
import { holeBlockBudget, holeFrames, pfnValid } from '../models/machine/physMem';
import { folioNrPages, geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchReadsPageAfterFolio } from '../models/mutants/batchReadsPageAfterFolio';
import { kernelEntry } from '../models/registry';
import type { Op } from '../src/ops/op';
import { formatOp } from '../src/ops/op';
import { physMemOpArb } from '../src/arbitraries/physMem';
import { runOps } from '../src/run/runOps';
import { runDifferential } from '../src/run/differential';
import { runInModel } from '../src/conform/modelRun';
import { toCalls } from '../src/conform/toCalls';
import { counterexampleSchema } from '../src/schema/counterexample';
import { parseWith } from '../src/schema/parse';
import { Bench, SMALL, catchViolation, violationOf } from './__helpers__/bench';
import { op } from './__helpers__/ops';
import { stateView } from '../src/report/stateView';

/**
 * Physical memory as the kernel sees it (issue 12 item 4, models/machine/physMem.ts): holes that
 * are not RAM, allocation policies other than first fit, and the touched_non_ram hazard.
 */

const hole = (pfn: number, nr: number): Op => ({ kind: 'memHole', pfn, nr });
const policy = (p: 'lowest-first' | 'highest-first'): Op => ({ kind: 'allocPolicy', policy: p });
const from = (pfn: number): Op => ({ kind: 'allocPolicy', policy: 'from', pfn });
const N = SMALL.nrFrames;

/** Head PFN of the folio mapped at (mm#0, vpn). */
const headAt = (b: Bench, v: number): number => b.m.frames[b.pte(0, v).pfn]!.head;

describe('allocation policies', () => {
  it("lowest-first (the default) puts the first table at PFN 0 and an order-2 folio at the next aligned run", () => {
    const b = new Bench();
    b.run([op.map(0, 0, 2)]);
    expect(b.m.frames[0]!.state).toBe('table');
    expect(headAt(b, 0)).toBe(4);
  });

  it('highest-first puts them at the top of memory', () => {
    const b = new Bench();
    b.run([policy('highest-first'), op.map(0, 0, 2)]);
    expect(b.m.frames[N - 1]!.state).toBe('table');
    expect(headAt(b, 0)).toBe(N - 8);
  });

  it("'from' looks at or above the hint, aligned down, and wraps to PFN 0 when nothing is free above", () => {
    const b = new Bench();
    b.run([from(101), op.map(0, 0, 2)]);
    expect(b.m.frames[101]!.state).toBe('table');
    expect(headAt(b, 0)).toBe(104);
    const w = new Bench();
    w.run([from(N - 2), op.map(0, 0, 2)]);
    expect(w.m.frames[N - 2]!.state).toBe('table');
    expect(headAt(w, 0)).toBe(0);
  });

  it.each([['lowest-first'], ['highest-first']] as const)('%s reuses a freed folio\'s frames at once (what makes a missing flush observable)', (p) => {
    const b = new Bench(new ReferenceKernel(), true);
    b.run([policy(p), op.map(0, 0, 2)]);
    const first = headAt(b, 0);
    b.run([op.zap(0, 0, 4), op.map(0, 16, 2)]);
    expect(headAt(b, 16)).toBe(first);
  });

  it('is deterministic: the same ops give the same frames', () => {
    const ops = [from(37), op.map(0, 0, 3), policy('highest-first'), op.map(0, 16, 1), op.fork(0)];
    const a = new Bench();
    const c = new Bench();
    a.run(ops);
    c.run(ops);
    expect(a.m.frames.map((f) => `${f.state}/${f.head}`)).toEqual(c.m.frames.map((f) => `${f.state}/${f.head}`));
  });
});

describe('holes', () => {
  it('a hole takes the free frames of the range, skips those in use, and leaves the free count right', () => {
    const b = new Bench(new ReferenceKernel(), true);
    b.run([op.map(0, 0, 2), hole(2, 8)]);
    // PFN 0 is the table, 4..7 the folio: frames 2, 3, 8, 9 become holes.
    expect(holeFrames(b.m)).toEqual([2, 3, 8, 9]);
    expect(b.m.freeFrames).toBe(N - 1 - 4 - 4);
    expect(b.m.frames[4]!.state).toBe('data');
  });

  it('the allocator never hands out a hole, under any policy', () => {
    const b = new Bench(new ReferenceKernel(), true);
    b.run([hole(4, 1), op.map(0, 0, 2), policy('highest-first'), hole(N - 16, 16), op.map(0, 16, 2)]);
    expect(headAt(b, 0)).toBe(8);
    expect(headAt(b, 16)).toBeLessThan(N - 16);
    expect(b.m.frames[N - 17]!.state).toBe('table');
  });

  it('a sequence that holes all of memory stops at the budget and the model does not run out of frames', () => {
    const g = SMALL;
    const block = folioNrPages(g.maxFolioOrder);
    const ops: Op[] = [hole(0, N)];
    // Every mm fully populated with max-order folios, forked up to the cap, then more holes.
    for (let mm = 0; mm < g.maxMms; mm++) ops.push({ kind: 'populate', mm, vpn: 0, nr: g.pmdsPerMm * g.ptrsPerPte, order: g.maxFolioOrder }, op.fork(mm));
    ops.push(hole(0, N));
    for (let mm = 0; mm < g.maxMms; mm++) ops.push({ kind: 'populate', mm, vpn: 0, nr: g.pmdsPerMm * g.ptrsPerPte, order: g.maxFolioOrder });
    const b = new Bench(new ReferenceKernel(), true);
    b.run(ops.slice(0, 1));
    expect(holeFrames(b.m)).toHaveLength(holeBlockBudget(g) * block);
    expect(violationOf(runOps(new ReferenceKernel(), g, ops))).toBeNull();
    expect(violationOf(runOps(new BatchedKernel(), g, ops))).toBeNull();
  });

  it('a trace shows the holes as PFN ranges and the policy, once a sequence set them', () => {
    const b = new Bench();
    b.run([op.map(0, 0, 2)]);
    expect([...stateView(b.m).keys()].filter((k) => k.startsWith('physmem'))).toEqual([]);
    b.run([hole(2, 8), hole(100, 1), from(7)]);
    expect(stateView(b.m).get('physmem.holes')).toBe('2-3 8-9 100');
    expect(stateView(b.m).get('physmem.allocPolicy')).toBe('from pfn 7');
  });

  it('frameAt() of a hole, past the end of memory or below PFN 0 is the touched_non_ram hazard, not a crash', () => {
    const b = new Bench();
    b.run([hole(9, 1)]);
    expect(pfnValid(b.m, 9)).toBe(false);
    expect(pfnValid(b.m, 10)).toBe(true);
    expect(catchViolation(() => frameAt(b.m, 9 as Pfn, 'a test'))).toEqual({ code: 'touched_non_ram', step: 0, pfn: 9, by: 'a test' });
    expect(catchViolation(() => folioAt(b.m, N as Pfn))).toMatchObject({ code: 'touched_non_ram', pfn: N, by: 'page_folio()' });
    expect(catchViolation(() => frameAt(b.m, -1 as Pfn))).toMatchObject({ code: 'touched_non_ram', pfn: -1 });
  });

  it('with the zero page on, its frame past RAM stays valid and no hole reaches it', () => {
    const b = new Bench(new ReferenceKernel(), true, SMALL, { zeroPage: true });
    b.run([hole(N - 4, 100)]);
    expect(b.m.frames[N]!.state).toBe('zero');
    expect(pfnValid(b.m, N)).toBe(true);
  });
});

describe('the hazard: a batch that reads the page after its folio', () => {
  // Table at PFN 0, the order-2 folio at 4..7, a hole at 8: zapping 8 pages batches to the
  // folio's end with room to go on.
  const ops: Op[] = [op.map(0, 0, 2), hole(8, 1), op.zap(0, 0, 8)];

  it('batch-reads-page-after-folio touches the hole: touched_non_ram at the zap, naming folio_pte_batch()', () => {
    expect(violationOf(runOps(new BatchReadsPageAfterFolio(), SMALL, ops))).toEqual({ code: 'touched_non_ram', step: 2, pfn: 8, by: 'folio_pte_batch()' });
  });

  it('the same mutant holds when the page after the folio is RAM (free, or the next folio)', () => {
    expect(violationOf(runOps(new BatchReadsPageAfterFolio(), SMALL, [op.map(0, 0, 2), op.zap(0, 0, 8)]))).toBeNull();
    expect(violationOf(runOps(new BatchReadsPageAfterFolio(), SMALL, [op.map(0, 0, 2), op.map(0, 4, 2), op.fork(0), op.zap(0, 0, 16)]))).toBeNull();
  });

  it('and touches PFN nrFrames when highest-first puts the folio at the top of memory', () => {
    // The table comes first (PFN 0, lowest-first); then the folio takes the last four frames.
    const top: Op[] = [op.map(0, 8, 0), policy('highest-first'), op.map(0, 0, 2), op.zap(0, 0, 8)];
    expect(violationOf(runOps(new BatchReadsPageAfterFolio(), SMALL, top))).toEqual({ code: 'touched_non_ram', step: 3, pfn: N, by: 'folio_pte_batch()' });
    expect(violationOf(runOps(new BatchedKernel(), SMALL, top))).toBeNull();
  });

  it.each([
    ['reference', () => new ReferenceKernel()],
    ['batched', () => new BatchedKernel()],
    ['batched-no-migrc', kernelEntry('batched-no-migrc').make],
  ] as const)('%s does not touch it, alone or against the reference', (_name, make) => {
    expect(violationOf(runOps(make(), SMALL, ops))).toBeNull();
    expect(runDifferential(new ReferenceKernel(), make(), SMALL, [...ops, op.fork(0), op.map(0, 4, 1), op.fork(1), op.mprotect(0, 0, 16, false)]).ok).toBe(true);
  });
});

describe('the differential with holes', () => {
  it('counts holes with free frames: a MIGRC source still held by batched becomes a hole only on the reference', () => {
    // A read-only page migrated with its flush deferred: batched keeps the source (PFN 1) pending,
    // the reference has freed it. The hole op then takes PFN 1 on the reference only; at the end
    // (drain) batched frees it, so each side has one frame more of one kind than the other.
    const pre: Op[] = [op.mprotect(0, 22, 1, false), op.read(1, 0, 22), op.migrate(0, 22, 1)];
    const b = new Bench(new BatchedKernel());
    b.run(pre);
    expect(b.m.migrc.pending).toEqual([1]);
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, [...pre, hole(0, 8)]).ok).toBe(true);
  });
});

describe('the ops as data', () => {
  it('round-trip through the counterexample schema and print one line each', () => {
    const ops: Op[] = [hole(3, 2), policy('lowest-first'), policy('highest-first'), from(40)];
    const file = { format: 'mmcheck-counterexample/1', kernel: 'reference', kernelSpec: 'reference', geometry: 'small', seed: 1, path: '', status: 'shrunk', ops, violation: { code: 'touched_non_ram', step: 0, pfn: 3, by: 'folio_pte_batch()' } };
    const r = parseWith(counterexampleSchema, JSON.parse(JSON.stringify(file)));
    expect(r.ok ? r.value.ops : r.problem).toEqual(ops);
    expect(ops.map(formatOp)).toEqual(['memHole pfn 3+2', 'allocPolicy lowest-first', 'allocPolicy highest-first', 'allocPolicy from pfn 40']);
    expect(parseWith(counterexampleSchema, { ...file, ops: [{ kind: 'allocPolicy', policy: 'random' }] }).ok).toBe(false);
  });

  it('the generator only makes valid physical-memory ops, and correct kernels hold on them', () => {
    fc.assert(
      fc.property(fc.array(physMemOpArb(SMALL), { maxLength: 6 }), (pm) => {
        const ops = [...pm, op.map(0, 0, 2), op.map(0, 8, 1), op.fork(0), op.zap(0, 0, 16), op.map(1, 0, 4)];
        return runDifferential(new ReferenceKernel(), new BatchedKernel(), SMALL, ops).ok;
      }),
      { seed: 12, numRuns: 200 },
    );
  });
});

describe('conform and export-c', () => {
  it('leave the physical-memory ops out of a program, with the reason, and do not apply them to the model', () => {
    const g = geometry('realistic');
    const p = runInModel(new ReferenceKernel(), g, [hole(0, 64), from(100), op.map(0, 0, 0)], { kernelZeroPage: false, modelZeroPage: false, numaNodes: 1 });
    expect(p.steps.map((s) => s.left)).toEqual([
      'physical memory layout: no system call makes a hole in RAM or chooses which frame the allocator returns',
      'physical memory layout: no system call makes a hole in RAM or chooses which frame the allocator returns',
      null,
    ]);
    expect(p.steps[2]!.calls).toHaveLength(1);
  });

  it('toCalls() refuses them (planOp() must have left them out)', () => {
    const b = new Bench();
    expect(() => toCalls(b.m, hole(0, 1), { kind: 'done' }, { mapped: null }, 1)).toThrow(/no user-level counterpart/);
  });
});
