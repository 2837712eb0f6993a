import { describe, expect, it } from 'vitest';
import { geometry } from '../models/machine/geometry';
import type { MmId, Vpn } from '../models/machine/ids';
import { pteAt } from '../models/machine/pgtable';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { BatchedNoMigrc } from '../models/batched/BatchedNoMigrc';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { GupFastGrabsWithoutTry } from '../models/mutants/race/gupFastGrabsWithoutTry';
import type { Op } from '../src/ops/op';
import { opSchema } from '../src/schema/op';
import { CheckedRun } from '../src/run/checkedRun';
import { runDifferential } from '../src/run/differential';

/**
 * GUP-fast's read → grab window (issue 11, docs/concurrency.md "The GUP-fast windows"): a walk
 * begun with `stop: 'grab'` has read the PMD and PTE (`ptep_get_lockless()`) and not yet called
 * `try_grab_folio_fast()`. A zap of the page inside the window frees it (the zap's flush does not
 * wait for the walk: its table stays linked), so the grab at walkEnd meets refcount 0. Small
 * geometry: page 21 is in the second table.
 */
const G = geometry('small');
const HOT = 21;
const mm0 = 0 as MmId;
const store = (c: number): Op => ({ kind: 'access', cpu: c, mm: 0, vpn: HOT, write: true });
const walkBegin = (c: number, stop?: 'grab' | 'recheck'): Op => ({
  kind: 'walkBegin',
  cpu: c,
  mm: 0,
  vpn: HOT,
  walker: 'gupFast',
  pin: true,
  write: true,
  ...(stop === undefined ? {} : { stop }),
});
const walkEnd = (c: number): Op => ({ kind: 'walkEnd', cpu: c });
const zap: Op = { kind: 'zap', mm: 0, vpn: HOT, nr: 1 };
const pinRead: Op = { kind: 'gupRead', handle: 0, index: 0 };

/** Store, walk read, zap (frees the page), walk grab + recheck, store, device read of the pin. */
const ZAP_IN_WINDOW: readonly Op[] = [store(0), walkBegin(1, 'grab'), zap, walkEnd(1), store(0), pinRead];

function runAll(kernel: ReferenceKernel, ops: readonly Op[]): { bad: string | null; run: CheckedRun; results: string[]; values: Array<number | null> } {
  const run = new CheckedRun(kernel, G);
  const results: string[] = [];
  const values: Array<number | null> = [];
  for (let i = 0; i < ops.length; i++) {
    const r = run.step(ops[i]!, i);
    if ('violation' in r) return { bad: `${i}:${r.violation.code}`, run, results, values };
    results.push(r.applied.result.kind);
    values.push(r.applied.result.kind === 'value' ? r.applied.result.value : null);
  }
  return { bad: null, run, results, values };
}

const KERNELS = (): ReferenceKernel[] => [new ReferenceKernel(), new BatchedKernel(), new BatchedNoMigrc()];

describe("walkBegin's stop", () => {
  it("is optional in the schema ('recheck' when absent, so old files mean what they meant)", () => {
    expect(opSchema.safeParse(walkBegin(1)).success).toBe(true);
    expect(opSchema.safeParse(walkBegin(1, 'grab')).success).toBe(true);
    expect(opSchema.safeParse({ ...walkBegin(1), stop: 'later' }).success).toBe(false);
  });

  it("'grab' only reads: the walk holds no reference until walkEnd; 'recheck' grabs at once", () => {
    for (const k of KERNELS()) {
      const read = runAll(k, [store(0), walkBegin(1, 'grab')]);
      expect(read.bad, k.name).toBeNull();
      const w = read.run.machine.cpus[1]!.walker;
      expect(w?.kind === 'gupFast' ? [w.stop, w.grabbed] : null, k.name).toEqual(['grab', null]);
      const grabbed = runAll(k, [store(0), walkBegin(1)]);
      const g = grabbed.run.machine.cpus[1]!.walker;
      expect(g?.kind === 'gupFast' ? g.stop : null, k.name).toBe('recheck');
      expect(g?.kind === 'gupFast' ? g.grabbed : null, k.name).not.toBeNull();
    }
  });

  it("'grab' with nothing in between ends as 'recheck' does: a handle on the mapped page", () => {
    for (const k of KERNELS()) {
      const a = runAll(k, [store(0), walkBegin(1, 'grab'), walkEnd(1), store(0), pinRead]);
      const b = runAll(k, [store(0), walkBegin(1), walkEnd(1), store(0), pinRead]);
      expect(a.bad, k.name).toBeNull();
      expect(a.results, k.name).toEqual(b.results);
      expect(a.values[4], k.name).toBe(4);
      expect(a.run.machine.marks['GUP-fast grab failed: the page was freed (or split) after the read'] ?? 0, k.name).toBe(0);
    }
  });
});

describe('a zap frees the page between the read and the grab', () => {
  it('correct kernels: the grab fails (refcount 0), nothing is put back, and the slow path pins the page mapped now', () => {
    for (const k of KERNELS()) {
      const { bad, run, results, values } = runAll(k, ZAP_IN_WINDOW);
      expect(bad, k.name).toBeNull();
      expect(run.machine.marks['GUP-fast grab failed: the page was freed (or split) after the read'], k.name).toBe(1);
      // The fallback faulted a new page in and pinned it: the device reads the later store.
      expect(results[3], k.name).toBe('handle');
      expect(values[5], k.name).toBe(5);
      // The pinned page is the one mapped now, alive (the ledger audit ran after every step).
      const page = run.machine.handles[0]!.pages[0]!;
      expect(pteAt(run.machine, mm0, HOT as Vpn), k.name).toMatchObject({ kind: 'present', pfn: page.pfn });
      expect(run.machine.frames[page.pfn]?.gen, k.name).toBe(page.gen);
    }
  });

  it('freed and reused before the grab: the grab succeeds on the new folio, the PTE recheck throws it back', () => {
    // The zap frees the page, a store to page 22 reuses its frame; the walk then grabs that
    // frame's new folio (refcount > 0), finds PTE 21 changed and puts the reference back.
    const ops: Op[] = [store(0), walkBegin(1, 'grab'), zap, { ...store(0), vpn: HOT + 1 } as Op, walkEnd(1)];
    for (const k of KERNELS()) {
      const { bad, run, results } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(results[4], k.name).toBe('handle');
      const read = pteAt(runAll(k, ops.slice(0, 1)).run.machine, mm0, HOT as Vpn);
      const reused = pteAt(run.machine, mm0, (HOT + 1) as Vpn);
      expect(reused?.kind === 'present' && read?.kind === 'present' ? reused.pfn === read.pfn : null, k.name).toBe(true);
      const pinned = run.machine.handles[0]!.pages[0]!.pfn;
      expect(pinned, k.name).not.toBe(read?.kind === 'present' ? read.pfn : null);
      expect(run.machine.marks['GUP-fast grab failed: the page was freed (or split) after the read'] ?? 0, k.name).toBe(0);
    }
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ops).ok).toBe(true);
  });

  it('reference and batched agree step by step', () => {
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, ZAP_IN_WINDOW).ok).toBe(true);
    expect(runDifferential(new ReferenceKernel(), new BatchedNoMigrc(), G, ZAP_IN_WINDOW).ok).toBe(true);
  });

  it('gup-fast-grabs-without-try: the plain reference add on the freed page warns at walkEnd', () => {
    const { bad } = runAll(new GupFastGrabsWithoutTry(), ZAP_IN_WINDOW);
    expect(bad).toBe('3:kernel_warn');
  });

  it('gup-fast-grabs-without-try without the window (stop at the recheck) is the correct kernel', () => {
    const ops = [store(0), walkBegin(1), zap, walkEnd(1), store(0), pinRead];
    expect(runAll(new GupFastGrabsWithoutTry(), ops).bad).toBeNull();
    expect(runDifferential(new ReferenceKernel(), new GupFastGrabsWithoutTry(), G, ops).ok).toBe(true);
  });
});

describe('a flush IPI meets a walk stopped before its grab (flushIpiWaitsForIrqsOff, tlbRemoveTableSyncOne)', () => {
  const freeTable: Op = { kind: 'freeTable', mm: 0, pmd: 1 };
  const movePmd: Op = { kind: 'mremap', mm: 0, from: 16, to: 32, nr: 16 };
  const finished = (run: CheckedRun): { grabbed: boolean; passed: boolean } | null => {
    const f = run.machine.cpus[1]!.finishedWalk;
    return f === null ? null : { grabbed: f.walk.grabbed !== null, passed: f.recheckPassed };
  };

  it('its table is reclaimed after a zap freed the page: the IPI makes it grab now, the grab fails, and walkEnd puts nothing back', () => {
    for (const k of KERNELS()) {
      const ops = [store(0), walkBegin(1, 'grab'), zap, freeTable];
      const { bad, run } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(run.machine.cpus[1]!.walker, k.name).toBeNull();
      expect(finished(run), k.name).toEqual({ grabbed: false, passed: false });
      expect(run.machine.marks['flush IPI waited for a GUP-fast walk'], k.name).toBe(1);
      const end = runAll(k, [...ops, walkEnd(1), store(0), pinRead]);
      expect(end.bad, k.name).toBeNull();
      expect(end.results[4], k.name).toBe('handle');
      expect(end.values[6], k.name).toBe(6);
    }
    // The mutant's plain add meets the freed page when the IPI makes the walk grab.
    expect(runAll(new GupFastGrabsWithoutTry(), [store(0), walkBegin(1, 'grab'), zap, freeTable]).bad).toBe('3:kernel_warn');
  });

  it('its table is moved away by mremap with the page alive: it grabs at the IPI, the recheck fails and puts the reference back at once (before the IPI is taken)', () => {
    for (const k of KERNELS()) {
      const ops = [store(0), walkBegin(1, 'grab'), movePmd];
      const { bad, run } = runAll(k, ops);
      expect(bad, k.name).toBeNull();
      expect(finished(run), k.name).toEqual({ grabbed: false, passed: false });
      const end = runAll(k, [...ops, walkEnd(1)]);
      expect(end.bad, k.name).toBeNull();
    }
    expect(runDifferential(new ReferenceKernel(), new BatchedKernel(), G, [store(0), walkBegin(1, 'grab'), movePmd, walkEnd(1), store(0), pinRead]).ok).toBe(true);
  });

  it('a zap whose table stays linked does not wait for it (the simplification: a flush that sends no IPI)', () => {
    const { run } = runAll(new BatchedKernel(), [store(0), walkBegin(1, 'grab'), zap]);
    expect(run.machine.cpus[1]!.walker?.kind).toBe('gupFast');
    expect(run.machine.cpus[1]!.finishedWalk).toBeNull();
    expect(run.machine.marks['flush IPI waited for a GUP-fast walk'] ?? 0).toBe(0);
  });
});

describe("a walk stopped before its grab ends inside an mprotect window (src/run/tasks.ts locklessInWindow)", () => {
  const far: Op = { kind: 'access', cpu: 0, mm: 0, vpn: 40, write: true };
  const preempt: Op = { kind: 'preempt', cpu: 2, at: 1 };
  const mprotectFar: Op = { kind: 'mprotect', mm: 0, vpn: 40, nr: 1, writable: false };
  const mprotectHot: Op = { kind: 'mprotect', mm: 0, vpn: HOT, nr: 1, writable: false };

  it('its grab and recheck would pass: walkEnd takes no lock and runs in the window, the task stays in flight', () => {
    for (const k of KERNELS()) {
      const { bad, run, results } = runAll(k, [store(0), far, walkBegin(1, 'grab'), preempt, mprotectFar, walkEnd(1)]);
      expect(bad, k.name).toBeNull();
      expect(results[5], k.name).toBe('handle');
      expect(run.machine.cpus[2]!.task?.op, k.name).toBe('mprotect');
    }
  });

  it('its PTE was write-protected inside the window: walkEnd would fall back to the slow path (mmap_lock), so it waits for the task', () => {
    for (const k of KERNELS()) {
      const { bad, run } = runAll(k, [store(0), walkBegin(1, 'grab'), preempt, mprotectHot, walkEnd(1)]);
      expect(bad, k.name).toBeNull();
      expect(run.machine.cpus[2]!.task, k.name).toBeNull();
    }
  });
});
