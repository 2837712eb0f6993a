import type { Machine } from '../../models/machine/state';
import type { Applied } from '../ops/apply';
import type { Op } from '../ops/op';
import type { Unfixed, UserOutcome } from '../oracles/windowOutcome';
import { frameReached, noUnfixed, observeResult, pageKey, staleHit, unfixedKeys, userOutcome, without } from '../oracles/windowOutcome';

/** One op of a window as the interleaved run saw it: resolved, with what it returned to the user (null: not compared). */
export interface WindowOp {
  readonly step: number;
  readonly op: Op;
  readonly obs: string | null;
}

/** Why a window is not checked (counted, so a property that never reaches its state shows). */
export type SkipReason =
  /** Another task started while the first was in flight: only one-task windows are checked. */
  | 'several tasks'
  /**
   * Two ops that may create a handle (gup, a GUP-fast walk's begin or end) or two forks: which one gets which id then
   * depends on the order, and later ops name them by id.
   */
  | 'ids'
  /** A GUP task of several pages: it pins page by page, so no single position of it is its serial meaning. */
  | 'multi-page gup'
  /** More ops in the window than the search is bounded to. */
  | 'too long'
  /** The kernel under test was not in step with the reference when the window opened (no start state to replay from). */
  | 'out of sync'
  /** The search over orders ran out of its step budget. */
  | 'budget';

export const SKIP_REASONS: readonly SkipReason[] = ['several tasks', 'ids', 'multi-page gup', 'too long', 'out of sync', 'budget'];

/**
 * A closed window (docs/concurrency.md "What is compared, when"): from the step whose op started a
 * task to the step after which no task was in flight.
 */
export interface RecordedWindow {
  readonly startStep: number;
  /** The op that ran as the task (resolved). */
  readonly task: Op;
  /** The ops that ran while it was in flight, in order (schedule ops and ops that resolved to nothing left out). */
  readonly ops: readonly WindowOp[];
  /** The closing step's op when it ran after the task completed (it waited for it, or `drain`). */
  readonly after: readonly WindowOp[];
  /** The user-visible state at the end, without what a serial order does not fix. */
  readonly outcome: UserOutcome;
  /** The outcome keys left out (`unfixedKeys()`), to leave out of a serial run's outcome too. */
  readonly dropped: ReadonlySet<string>;
  readonly skip: SkipReason | null;
}

interface Open {
  readonly startStep: number;
  readonly task: Op;
  readonly ops: WindowOp[];
  readonly unfixed: Unfixed;
  several: boolean;
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
    const reached = frameReached(m, resolved);
    const stale = staleHit(m, resolved);
    if (resolved.kind === 'access') {
      const key = pageKey(resolved.mm, resolved.vpn);
      this.current.suppressed = stale !== null || w.unfixed.pages.has(key) || (reached !== null && w.unfixed.frames.has(reached));
      this.current.stale = stale !== null;
      if (stale !== null && resolved.write) {
        w.unfixed.pages.add(key);
        w.unfixed.frames.add(stale);
      }
    } else if (resolved.kind === 'gupRead' || resolved.kind === 'gupWrite') {
      this.current.suppressed = reached !== null && w.unfixed.frames.has(reached);
    }
  }

  /** After the step: `applied` is what it did, `inFlight` how many tasks are in flight now. */
  after(m: Machine, applied: Applied, step: number, inFlight: number): void {
    const op = applied.resolved;
    const notes = applied.tasks ?? [];
    const w = this.open;
    if (w === null) {
      if (op !== null && inFlight > 0 && notes.some((n) => n.how === 'start' && n.point !== null)) {
        this.open = { startStep: step, task: op, ops: [], unfixed: noUnfixed(), several: inFlight > 1 };
      }
      return;
    }
    if (notes.some((n) => n.how === 'start' && n.point !== null) || inFlight > 1) w.several = true;
    if (op !== null) carryUnfixed(w.unfixed, op, applied);
    // An access through a stale translation is left out of the serial orders altogether: it
    // reaches a frame the page tables no longer map there, as if it ran before the task, while
    // the ops around it ran after; its frame and address are unfixed (`before()`).
    const entry = (): WindowOp | null =>
      op === null || isSchedule(op) || this.current.stale ? null : { step, op, obs: this.current.suppressed ? null : observeResult(op, applied.result, this.current.pinRead) };
    if (inFlight > 0) {
      const e = entry();
      if (e !== null) w.ops.push(e);
      return;
    }
    // The task completed in this step: a resume ran it to its end, or the op waited for it (an
    // mmap_lock writer, a fault on a migration entry, drain) and then ran.
    const e = entry();
    const waited = notes.some((n) => n.point === null && (n.how === 'wait' || n.how === 'drain'));
    const after = e === null ? [] : waited ? [e] : [];
    if (e !== null && !waited) w.ops.push(e);
    const dropped = unfixedKeys(m, w.unfixed);
    this.closed = {
      startStep: w.startStep,
      task: w.task,
      ops: w.ops,
      after,
      outcome: without(userOutcome(m), dropped),
      dropped,
      skip: skipReason(w, after),
    };
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

function skipReason(w: Open, after: readonly WindowOp[]): SkipReason | null {
  if (w.several) return 'several tasks';
  const all = [w.task, ...w.ops.map((o) => o.op), ...after.map((o) => o.op)];
  const count = (p: (op: Op) => boolean): number => all.filter(p).length;
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
  if (count((op) => op.kind === 'fork') > 1 || handles > 1) return 'ids';
  if (w.task.kind === 'gup' && w.task.nr > 1) return 'multi-page gup';
  if (w.ops.length + after.length > MAX_WINDOW_OPS) return 'too long';
  return null;
}
