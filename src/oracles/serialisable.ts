import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Machine } from '../../models/machine/state';
import type { Violation } from '../../models/machine/violation';
import { ModelViolationError } from '../../models/machine/violation';
import { applyResolved } from '../ops/apply';
import type { Op } from '../ops/op';
import { formatOp } from '../ops/op';
import type { RecordedWindow, SkipReason, WindowOp } from '../run/windowRecorder';
import { SKIP_REASONS } from '../run/windowRecorder';
import { firstDifference } from './observe';
import { observeResult, userOutcome, without } from './windowOutcome';
import { cloneMachine } from './cloneMachine';

/**
 * The serialisability oracle (issue 11 item 3; docs/concurrency.md "What is compared, when"): the
 * user-visible outcome of a window — what its ops returned, and the user-visible memory once no
 * task is in flight — must be one that the **reference** gives running the same ops one at a time,
 * the task's op among them, from the reference's state at the window's start.
 *
 * The task's op runs whole at some position among the window's ops — except a zap or an mprotect,
 * which run as one op per PMD slot of their range, each at its own position (in order): the kernel
 * works a table at a time under its PTL and lets other CPUs in between (its preemption points), so
 * a load may legitimately see one table zapped and the next one not yet. Ops of the closing step
 * that waited for the task run after it. Orders are tried one at a time from a copy of the start
 * state, each given up as soon as an op returns something else than it did in the interleaved run.
 */

/** What the oracle said about one window. */
export type SerialVerdict =
  | { readonly kind: 'serialisable'; readonly orders: number }
  | { readonly kind: 'skipped'; readonly reason: SkipReason }
  | { readonly kind: 'not serialisable'; readonly message: string };

/** Op applications the search may spend on one window before it gives up ('budget'). */
export const SEARCH_BUDGET = 4000;

/** Windows checked and skipped, per kernel whose run they are in. */
export interface SerialCounts {
  checked: number;
  readonly skipped: Record<SkipReason, number>;
}

/** Since the last reset (per process: the soak and tests read it). */
const stats = new Map<string, SerialCounts>();

function countsOf(kernel: string): SerialCounts {
  let c = stats.get(kernel);
  if (c === undefined) stats.set(kernel, (c = { checked: 0, skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number> }));
  return c;
}

/** The counts per kernel, or summed over every kernel when `kernel` is not given. */
export function serialStats(kernel?: string): { readonly checked: number; readonly skipped: Readonly<Record<SkipReason, number>> } {
  const sum = { checked: 0, skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number> };
  for (const [k, c] of stats) {
    if (kernel !== undefined && k !== kernel) continue;
    sum.checked += c.checked;
    for (const r of SKIP_REASONS) sum.skipped[r] += c.skipped[r];
  }
  return sum;
}

export function resetSerialStats(): void {
  stats.clear();
}

/** Count a window of `kernel`'s run the runner could not check (no start state: 'out of sync'). */
export function countSkipped(kernel: string, reason: SkipReason): void {
  countsOf(kernel).skipped[reason]++;
}

/**
 * The task's op as the serial runs apply it: a zap or mprotect cut at PMD slot boundaries, every
 * other op whole.
 */
export function taskPieces(m: Machine, task: Op): Op[] {
  if (task.kind !== 'zap' && task.kind !== 'mprotect') return [task];
  const ppt = m.geometry.ptrsPerPte;
  const top = m.geometry.pmdsPerMm * ppt;
  const start = Math.max(0, Math.min(task.vpn, top));
  const end = Math.max(start, Math.min(top, task.vpn + task.nr));
  const pieces: Op[] = [];
  for (let s = start; s < end; s = (Math.floor(s / ppt) + 1) * ppt) {
    const e = Math.min(end, (Math.floor(s / ppt) + 1) * ppt);
    pieces.push({ ...task, vpn: s, nr: e - s });
  }
  return pieces.length > 0 ? pieces : [task];
}

interface Closest {
  /** How far the order got: ops matched. */
  depth: number;
  text: string;
}

/**
 * Check one closed window against the serial orders of its ops on `spec`, starting from `start`
 * (the reference's machine before the window's first step; not changed). Counts the verdict
 * under `kernel`, the kernel whose run the window is in.
 */
export function checkWindow(spec: ReferenceKernel, start: Machine, w: RecordedWindow, kernel: string, budget = SEARCH_BUDGET): SerialVerdict {
  const v = search(spec, start, w, budget);
  if (v.kind === 'skipped') countsOf(kernel).skipped[v.reason]++;
  else countsOf(kernel).checked++;
  return v;
}

function search(spec: ReferenceKernel, start: Machine, w: RecordedWindow, budget: number): SerialVerdict {
  if (w.skip !== null) return { kind: 'skipped', reason: w.skip };
  const pieces = taskPieces(start, w.task);
  const ops = w.ops;
  let spent = 0;
  let orders = 0;
  const closest: Closest = { depth: -1, text: '' };
  const miss = (depth: number, text: string): void => {
    if (depth > closest.depth) {
      closest.depth = depth;
      closest.text = text;
    }
  };
  // The task's own allocation clock runs across its pieces, as a task's does across its points.
  const apply = (m: Machine, op: Op, step: number, taskFolios?: { n: number }): { ok: true; obs: string | null } | { ok: false; why: string } => {
    spent++;
    const pinRead = op.kind === 'gupRead' && m.handles.find((h) => h.id === op.handle)?.pin === true;
    try {
      if (taskFolios === undefined) return { ok: true, obs: observeResult(op, applyResolved(spec, m, op, step), pinRead) };
      const r = applyResolved(spec, m, op, step, taskFolios.n);
      taskFolios.n = m.clock.folios;
      return { ok: true, obs: observeResult(op, r, pinRead) };
    } catch (e) {
      return { ok: false, why: e instanceof ModelViolationError ? e.message : e instanceof Error ? e.message : String(e) };
    }
  };
  const where = (placed: readonly number[]): string =>
    placed.length === 1 ? `the task after ${placed[0]} of the window's ops` : `the task's pieces after ${placed.join(', ')} of the window's ops`;
  const compare = (o: WindowOp, got: string | null, depth: number, placed: readonly number[]): boolean => {
    if (o.obs === null || o.obs === got) return true;
    miss(depth, `step ${o.step} (${formatOp(o.op)}) returned ${o.obs}; with ${where(placed)} it returns ${got ?? 'nothing'}`);
    return false;
  };
  const K = ops.length;
  // One order: the window's ops in their order, task piece j right before op placed[j] (K: after
  // them all), then the closing step's ops. Stops at the first op that returns something else.
  const tryOrder = (placed: readonly number[]): boolean => {
    const m = cloneMachine(start);
    const folios = { n: 0 };
    let j = 0;
    for (let i = 0; i <= K; i++) {
      for (; j < pieces.length && placed[j] === i; j++) {
        const r = apply(m, pieces[j]!, w.startStep, folios);
        if (!r.ok) {
          miss(i + j, `the reference raised ${r.why} running the task with ${where(placed)}`);
          return false;
        }
      }
      if (i === K) break;
      const o = ops[i]!;
      const r = apply(m, o.op, o.step);
      if (!r.ok) {
        miss(i + j, `the reference raised ${r.why} at step ${o.step} (${formatOp(o.op)}) with ${where(placed)}`);
        return false;
      }
      if (!compare(o, r.obs, i + j, placed)) return false;
    }
    const depth = K + pieces.length;
    for (const o of w.after) {
      const r = apply(m, o.op, o.step);
      if (!r.ok) {
        miss(depth, `the reference raised ${r.why} at step ${o.step} (${formatOp(o.op)}) with ${where(placed)}`);
        return false;
      }
      if (!compare(o, r.obs, depth, placed)) return false;
    }
    orders++;
    const d = firstDifference(w.outcome, without(userOutcome(m), w.dropped), 'memory');
    if (d === null) return true;
    miss(depth + w.after.length, `afterwards ${d.path} is ${String(d.a ?? 0)}; with ${where(placed)} it is ${String(d.b ?? 0)}`);
    return false;
  };
  // Each order replays from a copy of the start state: cheaper here than copying at every branch
  // of a tree, as most windows match the first or second order tried — the task before all the
  // window's ops (a zap or fork does its work before its first point) or after them all (a fault
  // or GUP takes effect when it completes).
  let ok = false;
  for (const placed of orderPositions(K, pieces.length)) {
    if (spent > budget) break;
    if ((ok = tryOrder(placed))) break;
  }
  if (ok) return { kind: 'serialisable', orders };
  if (spent > budget) return { kind: 'skipped', reason: 'budget' };
  const list = [formatOp(w.task) + ' (the task)', ...ops.map((o) => `${o.step}: ${formatOp(o.op)}`), ...w.after.map((o) => `${o.step}: ${formatOp(o.op)} (after it)`)];
  return { kind: 'not serialisable', message: `window from step ${w.startStep} [${list.join('; ')}]: no serial order gives its outcome; closest: ${closest.text}` };
}

/**
 * The positions of `n` task pieces among `k` ops (each piece before op p, k: after all; in
 * order, so non-decreasing): all at 0 first, then all at k, then the rest in lexicographic order.
 */
export function* orderPositions(k: number, n: number): Generator<number[]> {
  const first = Array<number>(n).fill(0);
  const last = Array<number>(n).fill(k);
  yield first;
  if (k > 0) yield last;
  const p = [...first];
  for (;;) {
    let i = n - 1;
    while (i >= 0 && p[i] === k) i--;
    if (i < 0) return;
    const next = p[i]! + 1;
    for (let t = i; t < n; t++) p[t] = next;
    if (p.every((x) => x === k)) continue;
    yield [...p];
  }
}

/** The violation for a window no serial order explains. */
export function notSerialisable(step: number, message: string): Violation {
  return { code: 'not_serialisable', step, message };
}
