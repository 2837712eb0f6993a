import type { Machine } from '../../models/machine/state';
import { mmId as asMm, vpn as asVpn } from '../../models/machine/ids';
import { mappedPfn, pmdAt, tableEntries } from '../../models/machine/pgtable';
import { mmNrPages } from '../../models/machine/geometry';
import type { Applied } from '../ops/apply';
import type { Op } from '../ops/op';
import type { Unfixed, UserOutcome } from '../oracles/windowOutcome';
import { frameReached, noUnfixed, observeResult, pageKey, pageOfKey, staleHit, unfixedKeys, userOutcome, without } from '../oracles/windowOutcome';
import { folioIsLazyfree } from '../../models/machine/files';

/** One op of a window as the interleaved run saw it: resolved, with what it returned to the user (null: not compared). */
export interface WindowOp {
  readonly step: number;
  readonly op: Op;
  readonly obs: string | null;
}

/** Why a window is not checked (counted, so a property that never reaches its state shows). */
export type SkipReason =
  /** More tasks in one window than the search is bounded to (`MAX_WINDOW_TASKS`). */
  | 'several tasks'
  /**
   * Two ops that may create a handle (gup, a GUP-fast walk's begin or end) or two forks: which
   * one gets which id then depends on the order, and later ops name them by id.
   */
  | 'ids'
  /** A GUP task of several pages: it pins page by page, so no single position of it is its serial meaning. */
  | 'multi-page gup'
  /** More ops in the window than the search is bounded to. */
  | 'too long'
  /**
   * A THP `map` met an empty PTE table while a fault or GUP task was in flight: the fault
   * allocated it before its point and has not mapped its page yet, so the map did nothing (slot
   * in use), which no order of whole ops shows — and what is mapped there decides later results
   * (an mremap onto it).
   */
  | 'empty table'
  /**
   * A GUP-fast walk begun inside the window had not ended at its end: whether its handle came at
   * `walkBegin` (no table: it fell back at once) or is still to come depends on a PTE table a task
   * allocated without mapping anything, which no order of whole ops shows.
   */
  | 'walk in flight'
  /**
   * A reclaim, migration or MADV_PAGEOUT/COLD ran while a zap task was in flight: its reference
   * count check passes or fails depending on whether the zap still holds the folio's page in its
   * gather (the batched kernel frees gathered pages at `tlb_finish_mmu()`, the reference at once),
   * which no order of the reference's whole ops shows (interleaved soak seed 90010).
   */
  | 'gathered refs'
  /** The kernel under test was not in step with the reference when the window opened (no start state to replay from). */
  | 'out of sync'
  /** The search over orders ran out of its step budget. */
  | 'budget';

export const SKIP_REASONS: readonly SkipReason[] = ['several tasks', 'ids', 'multi-page gup', 'too long', 'empty table', 'walk in flight', 'gathered refs', 'out of sync', 'budget'];

/**
 * A task of a window: the op it ran (resolved), the step that started it (its allocation clock)
 * and the stretch of the window's ops it was in flight over — its effect may come anywhere from
 * before op `from` (the ops recorded before it started) to before op `to` (the ops recorded
 * before it completed).
 */
export interface WindowTask {
  readonly op: Op;
  readonly step: number;
  readonly from: number;
  readonly to: number;
}

/**
 * A closed window (docs/concurrency.md "What is compared, when"): from the step whose op started
 * a task on a machine with none in flight to the step after which no task was in flight again.
 */
export interface RecordedWindow {
  readonly startStep: number;
  /** Its tasks, in the order they started (the first at `from` 0). */
  readonly tasks: readonly WindowTask[];
  /**
   * The ops that ran whole meanwhile, in order (schedule ops, ops that resolved to nothing, the
   * ops that ran as tasks and accesses through stale translations left out); an op that waited
   * for a task comes after that task's `to`.
   */
  readonly ops: readonly WindowOp[];
  /** The user-visible state at the end, without what a serial order does not fix. */
  readonly outcome: UserOutcome;
  /** The outcome keys left out (`unfixedKeys()`), to leave out of a serial run's outcome too. */
  readonly dropped: ReadonlySet<string>;
  readonly skip: SkipReason | null;
}

interface Open {
  readonly startStep: number;
  /** Tasks in flight, by CPU slot. */
  readonly live: Map<number, { readonly op: Op; readonly step: number; readonly from: number }>;
  readonly tasks: WindowTask[];
  readonly ops: WindowOp[];
  readonly unfixed: Unfixed;
  emptyTable: boolean;
}

const isSchedule = (op: Op): boolean => op.kind === 'preempt' || op.kind === 'resume';

/**
 * Records the windows of one run for the serialisability oracle (src/oracles/serialisable.ts): the
 * runner calls `before()` and `after()` around every step; a window that closed is handed out
 * once by `takeClosed()`.
 */
export class WindowRecorder {
  private open: Open | null = null;
  private closed: RecordedWindow | null = null;
  /** What `before()` found out about the op now running: is its result compared, is a gupRead's handle a pin. */
  private current: { suppressed: boolean; pinRead: boolean; stale: boolean } = { suppressed: false, pinRead: false, stale: false };

  /** Before op `resolved` runs on `m` (its targets resolved; null when it resolves to nothing). */
  before(m: Machine, resolved: Op | null): void {
    this.current = { suppressed: false, pinRead: false, stale: false };
    if (resolved === null) return;
    if (resolved.kind === 'gupRead') this.current.pinRead = m.handles.find((h) => h.id === resolved.handle)?.pin === true;
    const w = this.open;
    if (w === null) return;
    // A store task stores when it completes, through its CPU's TLB like any store: if that holds
    // a stale writable entry of the page now, the step may complete it through that entry.
    for (const t of w.live.values()) {
      const at = t.op.kind === 'access' && t.op.write ? staleHit(m, t.op) : null;
      if (at === null || t.op.kind !== 'access') continue;
      w.unfixed.pages.add(pageKey(t.op.mm, t.op.vpn));
      w.unfixed.frames.add(at);
    }
    // A THP map, or a GUP-fast walk (which falls back at once only where there is no table),
    // that meets an empty PTE table a fault or GUP task allocated before its point: what it does
    // depends on that table, which no order of whole ops shows.
    const tableSensitive = (resolved.kind === 'map' && resolved.pmd) || (resolved.kind === 'walkBegin' && resolved.walker === 'gupFast');
    if (tableSensitive && [...w.live.values()].some((t) => t.op.kind === 'access' || t.op.kind === 'gup')) {
      const pmd = pmdAt(m, asMm(resolved.mm), Math.floor(resolved.vpn / m.geometry.ptrsPerPte));
      if (pmd.kind === 'table' && tableEntries(m, pmd.table).every((e) => e.kind === 'none')) w.emptyTable = true;
    }
    // fork copies what its parent's unfixed pages hold to the child's same addresses.
    if (resolved.kind === 'fork') {
      const child = m.mms.length;
      for (const key of [...w.unfixed.pages]) {
        const page = pageOfKey(key);
        if (page !== null && page.mm === resolved.mm) w.unfixed.pages.add(pageKey(child, page.vpn));
      }
    }
    // A reclaim inside a window (or MADV_PAGEOUT's) may drop a clean lazyfree folio or keep it,
    // by references a task in flight holds (a zap's gather keeps its pages until its flush): which,
    // no serial order of whole ops fixes. Those pages may read their data or 0 (the memory oracle's
    // MADV_FREE rule) and are not compared.
    if (resolved.kind === 'reclaim' || (resolved.kind === 'madvise' && resolved.advice === 'pageout')) {
      for (const mm of m.mms) {
        if (!mm.alive) continue;
        for (let v = 0; v < mmNrPages(m.geometry); v++) {
          const p = mappedPfn(m, mm.id, asVpn(v));
          const f = p === null ? null : m.frames[m.frames[p]?.head ?? p]?.folio;
          if (f !== undefined && f !== null && folioIsLazyfree(f)) w.unfixed.pages.add(pageKey(mm.id, v));
        }
      }
    }
    const reached = frameReached(m, resolved);
    const stale = staleHit(m, resolved);
    if (resolved.kind === 'access') {
      const key = pageKey(resolved.mm, resolved.vpn);
      this.current.suppressed = stale !== null || w.unfixed.pages.has(key) || (reached !== null && w.unfixed.frames.has(reached));
      this.current.stale = stale !== null;
      if (stale !== null && resolved.write) {
        w.unfixed.pages.add(key);
        w.unfixed.frames.add(stale);
        // Every address that maps the frame now (a fork child sharing it): a later migration
        // may move them all to a frame of its own, carrying the racy value along.
        for (const mm of m.mms) {
          if (!mm.alive) continue;
          for (let v = 0; v < mmNrPages(m.geometry); v++) if (mappedPfn(m, mm.id, asVpn(v)) === stale) w.unfixed.pages.add(pageKey(mm.id, v));
        }
      }
    } else if (resolved.kind === 'gupRead' || resolved.kind === 'gupWrite') {
      this.current.suppressed = reached !== null && w.unfixed.frames.has(reached);
    }
  }

  /** After the step: `applied` is what it did, `inFlight` how many tasks are in flight now. */
  after(m: Machine, applied: Applied, step: number, inFlight: number): void {
    const op = applied.resolved;
    const notes = applied.tasks ?? [];
    const starts = notes.some((n) => n.how === 'start' && n.point !== null);
    if (this.open === null) {
      if (op === null || inFlight === 0 || !starts) return;
      this.open = { startStep: step, live: new Map(), tasks: [], ops: [], unfixed: noUnfixed(), emptyTable: false };
    }
    const w = this.open;
    if (op !== null) carryUnfixed(w.unfixed, op, applied);
    // In the order the step did them: tasks completed because the op waited for them, then the
    // op — run whole, or started as a task that stays in flight.
    for (const n of notes) {
      if (n.point !== null || n.how === 'start') continue;
      const t = w.live.get(n.cpu);
      if (t === undefined) continue;
      w.tasks.push({ ...t, to: w.ops.length });
      w.live.delete(n.cpu);
    }
    const started = notes.find((n) => n.how === 'start' && n.point !== null);
    if (started !== undefined && op !== null) {
      w.live.set(started.cpu, { op, step, from: w.ops.length });
    } else if (op !== null && !isSchedule(op) && !this.current.stale) {
      // An access through a stale translation is left out of the serial orders altogether: it
      // reaches a frame the page tables no longer map there, as if it ran before the task, while
      // the ops around it ran after; its frame and address are unfixed (`before()`).
      w.ops.push({ step, op, obs: this.current.suppressed ? null : observeResult(op, applied.result, this.current.pinRead) });
    }
    if (inFlight > 0) return;
    // Tasks a resume ran to their end at this step (the op is a schedule op, recorded nothing).
    for (const t of w.live.values()) w.tasks.push({ ...t, to: w.ops.length });
    w.live.clear();
    const dropped = unfixedKeys(m, w.unfixed);
    const tasks = [...w.tasks].sort((x, y) => x.step - y.step);
    this.closed = { startStep: w.startStep, tasks, ops: w.ops, outcome: without(userOutcome(m), dropped), dropped, skip: w.emptyTable ? 'empty table' : skipReason(tasks, w.ops) };
    this.open = null;
  }

  /** Is a window open (a task in flight since it opened)? */
  isOpen(): boolean {
    return this.open !== null;
  }

  /** The window that closed at the last step, once. */
  takeClosed(): RecordedWindow | null {
    const c = this.closed;
    this.closed = null;
    return c;
  }
}

/**
 * An op that copies or moves user memory carries the unfixed addresses with it: fork copies the
 * parent's to the child (whether the lost store is there depends on the same race), mremap moves them.
 */
function carryUnfixed(u: Unfixed, op: Op, applied: Applied): void {
  if (u.pages.size === 0) return;
  const parse = (key: string): { mm: number; vpn: number } | null => {
    const m = /^mm#(\d+) vpn (\d+)$/.exec(key);
    return m === null ? null : { mm: Number(m[1]), vpn: Number(m[2]) };
  };
  const pages = [...u.pages].map(parse).filter((p): p is { mm: number; vpn: number } => p !== null);
  if (op.kind === 'fork' && applied.result.kind === 'forked') {
    const child = applied.result.child;
    for (const p of pages) if (p.mm === op.mm) u.pages.add(pageKey(child, p.vpn));
  } else if (op.kind === 'mremap' && applied.result.kind === 'done') {
    for (const p of pages) if (p.mm === op.mm && p.vpn >= op.from && p.vpn < op.from + op.nr) u.pages.add(pageKey(op.mm, p.vpn - op.from + op.to));
  }
}

/** At most this many ops in a window (the orders searched grow with it). */
export const MAX_WINDOW_OPS = 24;

/** At most this many tasks in one window (the orders searched grow with them). */
export const MAX_WINDOW_TASKS = 3;

function skipReason(tasks: readonly WindowTask[], ops: readonly WindowOp[]): SkipReason | null {
  if (tasks.length > MAX_WINDOW_TASKS) return 'several tasks';
  const all = [...tasks.map((t) => t.op), ...ops.map((o) => o.op)];
  // A GUP-fast walk begun inside the window makes at most one handle, at its begin or its end.
  const walking = new Set<number>();
  let handles = 0;
  for (const op of all) {
    if (op.kind === 'gup') handles++;
    else if (op.kind === 'walkBegin' && op.walker === 'gupFast') {
      handles++;
      walking.add(op.cpu);
    } else if (op.kind === 'walkEnd' && !walking.delete(op.cpu)) handles++;
  }
  if (all.filter((op) => op.kind === 'fork').length > 1 || handles > 1) return 'ids';
  if (walking.size > 0) return 'walk in flight';
  const checksRefs = (op: Op): boolean => op.kind === 'reclaim' || op.kind === 'migrate' || (op.kind === 'madvise' && op.advice !== 'free');
  if (tasks.some((t) => t.op.kind === 'zap') && all.some(checksRefs)) return 'gathered refs';
  if (tasks.some((t) => t.op.kind === 'gup' && t.op.nr > 1)) return 'multi-page gup';
  if (ops.length > MAX_WINDOW_OPS) return 'too long';
  return null;
}
