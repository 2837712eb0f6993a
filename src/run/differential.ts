import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Geometry } from '../../models/machine/geometry';
import type { MachineOptions } from '../../models/machine/create';
import type { Violation } from '../../models/machine/violation';
import type { Applied } from '../ops/apply';
import type { Op } from '../ops/op';
import { firstDifference, observe } from '../oracles/observe';
import { userOutcome } from '../oracles/windowOutcome';
import { sameObservation } from '../oracles/sameObservation';
import type { Machine } from '../../models/machine/state';
import { mmNrPages } from '../../models/machine/geometry';
import { vpn as asVpn } from '../../models/machine/ids';
import { pteAt } from '../../models/machine/pgtable';
import type { RunOutcome, StepRecord } from './outcome';
import type { OracleSwitches, StepObserver } from './checkedRun';
import { ALL_ORACLES, CheckedRun, withDrain } from './checkedRun';
import { folioIsLazyfree, folioTestAnon } from '../../models/machine/files';
import { pastDeadline } from './deadline';

/**
 * The differential oracle (docs/design.md, "Oracles"): the reference and another kernel step through the same
 * ops side by side, each with its own per-kernel oracles; after every op their results and
 * observations must be equal — except while a preempted kernel task is in flight on either side,
 * and, once an op raced with one, until no task is in flight and both states agree again
 * (docs/concurrency.md). With the serialisability oracle on (`oracles.serial`), each side's windows
 * are checked against the serial orders of their ops on the reference, from the reference's state
 * at the window's start. The first failure on either side, or the first difference, ends the run. Both machines are made with `machineOptions` (default: none).
 */
export function runDifferential(
  reference: ReferenceKernel,
  other: ReferenceKernel,
  geometry: Geometry,
  ops: readonly Op[],
  oracles: OracleSwitches = ALL_ORACLES,
  observer: StepObserver | null = null,
  machineOptions: MachineOptions = {},
  deadline = Number.POSITIVE_INFINITY,
): RunOutcome {
  const ref = new CheckedRun(reference, geometry, oracles, null, machineOptions, { spec: reference, start: 'own' });
  // Set once an op raced with a preempted task, until both sides agree again (docs/concurrency.md).
  let racy = false;
  // Whether the two sides were in step when step `syncedAt.step` began: then a window of the kernel
  // under test opened by that step replays from the reference's state before it.
  const syncedAt = { step: -1, synced: true };
  // Coverage is measured on the kernel under test: its tracepoints are the ones of interest.
  const oth = new CheckedRun(other, geometry, oracles, observer, machineOptions, {
    spec: reference,
    start: (step) => (syncedAt.step === step && syncedAt.synced ? ref.snapshotAt(step) : null),
  });
  const steps: StepRecord[] = [];
  // The folios each completed migration task moved, per side, keyed by the step that started it: a
  // task's count is its result, which that step could not report ('done'). Paired by that step,
  // not by completion order: a side that ran the op whole (a variant that overrides a plain step
  // below the twin) has no task for it.
  const migrated = { ref: new Map<number, number>(), oth: new Map<number, number>(), done: new Set<number>() };
  const all = withDrain(ops);
  for (let i = 0; i < all.length; i++) {
    if (pastDeadline(deadline, i)) return { ok: true, steps, cut: true };
    const op = all[i]!;
    syncedAt.step = i;
    syncedAt.synced = !racy;
    const a = ref.step(op, i);
    const b = oth.step(op, i);
    if ('violation' in b) return failed(steps, b, i, other.name);
    if ('violation' in a) return failed(steps, a, i, reference.name);
    steps.push({ step: i, applied: b.applied });
    racy ||= a.racy === true || b.racy === true;
    // One side ran the op as a task and the other whole (a variant that overrides a plain method
    // below its twin never runs it as a task: tasks.ts `twinsIntact()`): its result ('done' for a
    // task) and everything after it may legitimately differ, as after a race.
    racy ||= startedTask(a.applied) !== startedTask(b.applied);
    // States are compared only where no task is in flight on either side: inside a window the
    // batched kernel legitimately still holds what the reference has already freed.
    const inFlight = ref.tasksInFlight() || oth.tasksInFlight();
    const quiescent = op.kind === 'drain';
    for (const [at, n] of migrationsCompleted(a.applied)) migrated.ref.set(at, n);
    for (const [at, n] of migrationsCompleted(b.applied)) migrated.oth.set(at, n);
    for (const [at, r] of migrated.ref) {
      const o = migrated.oth.get(at);
      if (o === undefined || migrated.done.has(at)) continue;
      migrated.done.add(at);
      // After a race a migration may legitimately move fewer folios (a pin or a fault in its window).
      if (r === o || racy) continue;
      const path = `result of the migration task started at step ${at}: folios migrated`;
      return { ok: false, steps, kernel: other.name, failingOp: b.applied.resolved, violation: { code: 'divergence', step: i, path, reference: String(r), other: String(o) } };
    }
    if (racy) {
      // After a race the comparison resumes once no task is in flight and both states agree
      // again: the windows' user-visible outcomes were checked against the serial orders
      // meanwhile (src/oracles/serialisable.ts), and from equal states on, any difference is
      // one the same serial ops make.
      if (!inFlight && oracles.serial === true && statesAgree(ref.machine, oth.machine, quiescent)) racy = false;
      continue;
    }
    // The observations are built only to name a difference sameObservation() found.
    const d =
      firstDifference(a.applied.result, b.applied.result, 'result') ??
      (inFlight || sameObservation(ref.machine, oth.machine, quiescent) ? null : firstDifference(observe(ref.machine, quiescent), observe(oth.machine, quiescent), 'state'));
    if (d !== null) {
      return {
        ok: false,
        steps,
        kernel: other.name,
        failingOp: b.applied.resolved,
        violation: { code: 'divergence', step: i, path: d.path, reference: JSON.stringify(d.a) ?? 'undefined', other: JSON.stringify(d.b) ?? 'undefined' },
      };
    }
  }
  return { ok: true, steps };
}

/**
 * Both machines in the same state as the differential sees it, and holding the same values in
 * every page a user or a device can reach, FOLL_GET references' included (the observation names
 * folios, not their contents: after a race one side may have lost a store the other kept, which
 * the memory oracle allows — a store through a stale translation into a page only a FOLL_GET
 * reference still holds, say).
 */
export function statesAgree(a: Machine, b: Machine, quiescent: boolean): boolean {
  return (
    sameObservation(a, b, quiescent) &&
    firstDifference(userOutcome(a, true), userOutcome(b, true)) === null &&
    firstDifference(swapCacheNames(a), swapCacheNames(b)) === null &&
    firstDifference(anonDirtyState(a), anonDirtyState(b)) === null &&
    firstDifference(walkersInFlight(a), walkersInFlight(b)) === null
  );
}

/**
 * The lockless walkers in flight on each CPU, and a GUP-fast walk an IPI finished: what they read
 * and hold. The observation leaves them out (a walk holds no mapping), but
 * they decide what later ops do — a walkBegin on a CPU already walking is a no-op. After a race
 * one side may have a walk in flight where the other's found no table to walk (interleaved soak
 * seed 84015: a collapse went through on one side only, so only the other still had a PTE table
 * under the mmapFile that followed; seed 85009: a walk read a dirty PTE on one side and a clean one
 * on the other inside a MADV_FREE window, and its recheck then passed on one side only).
 */
function walkersInFlight(m: Machine): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of m.cpus) {
    const w = c.walker;
    // A GUP-fast walk's recheck compares what it read with what is there then: the values read count.
    if (w !== null) out[`cpu${c.id} walker`] = w.kind === 'gupFast' ? `gupFast mm${w.mm} vpn ${w.vpn} ${w.stop} pin=${w.pin} write=${w.write} seq=${w.seq} grabbed=${w.grabbed?.pfn ?? '-'} pmd=${JSON.stringify(w.pmd)} pte=${JSON.stringify(w.pte)}` : `pteOffsetMap mm${w.mm} vpn ${w.vpn}`;
    if (c.finishedWalk !== null) out[`cpu${c.id} finished walk`] = `mm${c.finishedWalk.walk.mm} vpn ${c.finishedWalk.walk.vpn} ${c.finishedWalk.recheckPassed ? 'passed' : 'failed'}`;
  }
  return out;
}

/**
 * The dirty state of anonymous memory: each PTE's dirty bit and each folio's PG_dirty and
 * PG_swapbacked (lazyfree when clear). The observation forgets them (batched paths merge dirty bits
 * differently), but they decide what later ops do: whether reclaim may drop a lazyfree folio's
 * data, whether MADV_FREE skips a dirty folio mapped twice (`folio_mapcount()` is checked only for
 * a dirty one). After a race one side may hold a clean PTE where the other holds a dirty one (a
 * store through an unflushed dirty translation inside a window), and then dirty the folio or make
 * it lazyfree where the other does not: the two are not in the same state (a141365 compared the
 * dirty bits of lazyfree folios only; interleaved soak seed 37030 then resynced two kernels whose
 * folio was dirty on one side only, and a MADV_FREE after it diverged).
 */
function anonDirtyState(m: Machine): Record<string, string> {
  const out: Record<string, string> = {};
  for (const mm of m.mms) {
    if (!mm.alive) continue;
    for (let v = 0; v < mmNrPages(m.geometry); v++) {
      const pte = pteAt(m, mm.id, asVpn(v));
      if (pte === null || pte.kind !== 'present') continue;
      const f = m.frames[m.frames[pte.pfn]?.head ?? pte.pfn]?.folio;
      if (f === undefined || f === null || !folioTestAnon(f)) continue;
      out[`mm#${mm.id} vpn ${v}`] = pte.dirty ? 'dirty' : 'clean';
      out[`folio ${f.id}`] = `${f.dirty ? 'dirty' : 'clean'}${folioIsLazyfree(f) ? ' lazyfree' : ''}`;
    }
  }
  return out;
}

/**
 * The slot each swap-cache page holds, by the slot's logical id (the page it was first written
 * for). The observation shows a slot's id only in a swap PTE; after a race, one side may have
 * swapped out a different folio to the slot its swap-cache page now holds (the other lost a store
 * and faulted a new page), and the id would differ only once that page is unmapped again.
 */
function swapCacheNames(m: Machine): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of m.swap?.slots ?? []) {
    if (s.cached === null) continue;
    const f = m.frames[m.frames[s.cached]?.head ?? s.cached]?.folio;
    out[s.id] = f === undefined || f === null ? `free:${s.cached}` : `${f.id}/${s.cached - (m.frames[s.cached]?.head ?? s.cached)}`;
  }
  return out;
}

/** The migration tasks that completed in this step: the step that started each, and the folios it moved. */
function migrationsCompleted(a: Applied): Array<readonly [number, number]> {
  return (a.tasks ?? []).flatMap((n) => (n.op === 'migrate' && n.point === null && n.migrated !== undefined && n.startedAt !== undefined ? [[n.startedAt, n.migrated] as const] : []));
}

/** Did this step start a kernel task (even one that completed at once)? */
export function startedTask(a: Applied): boolean {
  return a.tasks?.some((n) => n.how === 'start') ?? false;
}

function failed(steps: StepRecord[], r: { violation: Violation; applied: Applied | null; resolved: Op | null }, i: number, kernel: string): RunOutcome {
  if (r.applied !== null) steps.push({ step: i, applied: r.applied });
  return { ok: false, steps, violation: r.violation, kernel, failingOp: r.resolved };
}
