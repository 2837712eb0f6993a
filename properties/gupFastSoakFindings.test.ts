import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runDifferential } from '../src/run/differential';
import { runOps } from '../src/run/runOps';
import { CheckedRun } from '../src/run/checkedRun';
import type { Op } from '../src/ops/op';

// Soak findings of 2026-12-06 (seeds 71012 interleaved and 72021 plain, small): the correct
// kernels were reported divergent because of a GUP-fast walk in flight, not because of a bug.

const small = geometry('small');

/**
 * Seed 71012: a walk stopped before its grab read frame 3; the reference's migration freed that
 * frame and reused it for another folio's copy (MIGRC kept it in batched); mremap's flush IPI made
 * the walk grab whatever folio sat on frame 3, and its recheck failed. The kernel puts that
 * reference back before the IPI is taken; the model kept it until walkEnd, so the reference's next
 * migration of that unrelated folio failed its refcount check.
 */
const seed71012: Op[] = [
  { kind: 'access', cpu: 0, mm: 0, vpn: 32, write: false },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
  { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 21, walker: 'gupFast', pin: false, write: false, stop: 'grab' },
  { kind: 'migrate', mm: 0, vpn: 0, count: 2 },
  { kind: 'mremap', mm: 0, from: 0, to: 16, nr: 16 },
  { kind: 'migrate', mm: 0, vpn: 21, count: 1 },
];

/**
 * Seed 72021: a walk holding its grab of page s1.1 is in flight when a migration selects s1.1.
 * The reference's flush IPIs the walk's CPU, which finishes, fails its recheck and puts the
 * reference back, so the folio moves; the batched kernels' flush does not reach that CPU, the walk
 * still holds its reference, and the refcount check fails the folio (-EAGAIN). Both are correct.
 */
const seed72021: Op[] = [
  { kind: 'fork', mm: 0 },
  { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
  { kind: 'walkBegin', cpu: 2, mm: 0, vpn: 21, walker: 'gupFast', pin: false, write: false },
  { kind: 'access', cpu: 2, mm: 1, vpn: 21, write: false },
  { kind: 'mremap', mm: 0, from: 16, to: 32, nr: 16 },
  { kind: 'access', cpu: 2, mm: 0, vpn: 21, write: false },
  { kind: 'migrate', mm: 0, vpn: 21, count: 2 },
];

/**
 * raceMutants seed 11 (after the file collapse changed the draws): R/O pin, fork (the child gets a
 * copy of the pinned page), a GUP-fast pin walk on the child's page stopped before its grab,
 * MAP_FIXED of a shared file over it (the page is freed), a store (the file page lands on the same
 * frame, writable and dirty as the copy was), then the grab.
 */
const seed11: Op[] = [
  { kind: 'gup', cpu: 0, mm: 0, vpn: 21, nr: 1, pin: true, write: false, fast: false },
  { kind: 'fork', mm: 0 },
  { kind: 'walkBegin', cpu: 0, mm: 1, vpn: 21, walker: 'gupFast', pin: true, write: false, stop: 'grab' },
  { kind: 'mmapFile', mm: 1, vpn: 21, nr: 2, file: 0, pgoff: 0, shared: true },
  { kind: 'access', cpu: 0, mm: 1, vpn: 21, write: true },
  { kind: 'walkEnd', cpu: 0 },
];

describe('soak findings: GUP-fast walks in flight and the differential', () => {
  it.each([
    ['batched', () => new BatchedKernel()],
    ['batched-no-migrc', () => new BatchedNoMigrc()],
  ])('seed 71012 holds for %s: a failed recheck at the IPI puts the reference back at once', (_name, make) => {
    expect(runDifferential(new ReferenceKernel(), make(), small, seed71012).ok).toBe(true);
  });

  it('seed 71012: after the IPI the finished walk holds nothing, so the unrelated folio migrates in the reference', () => {
    const run = new CheckedRun(new ReferenceKernel(), small);
    seed71012.slice(0, 5).forEach((op, i) => run.step(op, i));
    expect(run.machine.cpus[0]!.finishedWalk?.walk.grabbed ?? null).toBeNull();
    const last = run.step(seed71012[5]!, 5);
    expect('applied' in last && last.applied?.result).toEqual({ kind: 'migrated', folios: 1 });
  });

  it.each([
    ['batched', () => new BatchedKernel()],
    ['batched-no-migrc', () => new BatchedNoMigrc()],
  ])('seed 72021 holds for %s: a migration with a GUP-fast walk in flight is compared as after a race', (_name, make) => {
    expect(runDifferential(new ReferenceKernel(), make(), small, seed72021).ok).toBe(true);
    // The results do differ (2 folios against 1); each kernel alone holds every oracle.
    expect(runOps(new ReferenceKernel(), small, seed72021).ok).toBe(true);
    expect(runOps(make(), small, seed72021).ok).toBe(true);
    const migrated = (k: ReferenceKernel): unknown => {
      const run = new CheckedRun(k, small);
      let r: unknown = null;
      seed72021.forEach((op, i) => {
        const s = run.step(op, i);
        if (op.kind === 'migrate' && 'applied' in s) r = s.applied?.result;
      });
      return r;
    };
    expect(migrated(new ReferenceKernel())).toEqual({ kind: 'migrated', folios: 2 });
    expect(migrated(make())).toEqual({ kind: 'migrated', folios: 1 });
  });

  it("raceMutants seed 11: a walk whose page was reused as a page-cache page under an identical PTE gives it up (the model's limit: 6.12 would keep a pin on the file page)", () => {
    for (const k of [new ReferenceKernel(), new BatchedKernel(), new BatchedNoMigrc()]) {
      const run = new CheckedRun(k, small);
      const results = seed11.map((op, i) => run.step(op, i));
      for (const r of results) expect('violation' in r ? r.violation : null, k.name).toBeNull();
      // the grab found the reused frame under a PTE equal to the one read: only the file-page rule refused it
      const end = results[5]!;
      expect('applied' in end ? end.applied?.result.kind : null, k.name).not.toBe('handle');
      expect(run.machine.handles.filter((h) => h.mm === 1).length, k.name).toBe(0);
    }
  });

  it('without the file-page rule the same grab keeps a pin the ledger reads as a pinned shared anonymous page (what seed 11 reported)', () => {
    class KeepsFilePin extends BatchedKernel {
      override gupFastGrabbedFilePage(): boolean {
        return false;
      }
    }
    const run = new CheckedRun(new KeepsFilePin(), small);
    const codes = seed11.map((op, i) => run.step(op, i)).map((r) => ('violation' in r ? r.violation.code : null));
    expect(codes[5]).toBe('pinned_not_exclusive');
  });
});
