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
 * that waited for the task run after it. Candidates are searched depth first, an op at a time,
 * pruning an order as soon as an op returns something else than it did in the interleaved run.
 */

/** What the oracle said about one window. */
export type SerialVerdict =
  | { readonly kind: 'serialisable'; readonly orders: number }
  | { readonly kind: 'skipped'; readonly reason: SkipReason }
  | { readonly kind: 'not serialisable'; readonly message: string };

/** Op applications the search may spend on one window before it gives up ('budget'). */
export const SEARCH_BUDGET = 4000;

/** Windows checked and skipped since the last reset (per process: the soak and tests read it). */
const stats = { checked: 0, skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number> };

export function serialStats(): { readonly checked: number; readonly skipped: Readonly<Record<SkipReason, number>> } {
  return { checked: stats.checked, skipped: { ...stats.skipped } };
}

export function resetSerialStats(): void {
  stats.checked = 0;
  for (const r of SKIP_REASONS) stats.skipped[r] = 0;
}

/** Count a window the runner could not check (no start state: 'out of sync'). */
export function countSkipped(reason: SkipReason): void {
  stats.skipped[reason]++;
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
 * (the reference's machine before the window's first step; not changed). Counts the verdict.
 */
export function checkWindow(spec: ReferenceKernel, start: Machine, w: RecordedWindow, budget = SEARCH_BUDGET): SerialVerdict {
  const v = search(spec, start, w, budget);
  if (v.kind === 'skipped') stats.skipped[v.reason]++;
  else stats.checked++;
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
  // Depth first over the orders: i window ops and j task pieces applied so far.
  const explore = (m: Machine, i: number, j: number, placed: number[], folios: { n: number }): boolean => {
    if (spent > budget) return false;
    if (i === ops.length && j === pieces.length) return finish(m, placed);
    if (j < pieces.length && i < ops.length) {
      // Try the window's op first on a copy, then the task's next piece here.
      const copy = structuredClone(m);
      if (stepOp(copy, i, j, placed, { n: folios.n })) return true;
      if (spent > budget) return false;
    }
    if (j < pieces.length) {
      const r = apply(m, pieces[j]!, w.startStep, folios);
      if (!r.ok) {
        miss(i + j, `the reference raised ${r.why} running the task with ${where([...placed, i])}`);
        return false;
      }
      return explore(m, i, j + 1, [...placed, i], folios);
    }
    return stepOp(m, i, j, placed, folios);
  };
  const stepOp = (m: Machine, i: number, j: number, placed: number[], folios: { n: number }): boolean => {
    const o = ops[i]!;
    const r = apply(m, o.op, o.step);
    if (!r.ok) {
      miss(i + j, `the reference raised ${r.why} at step ${o.step} (${formatOp(o.op)}) with ${where(placed)}`);
      return false;
    }
    if (!compare(o, r.obs, i + j, [...placed, ...Array<number>(pieces.length - j).fill(ops.length)])) return false;
    return explore(m, i + 1, j, placed, folios);
  };
  const finish = (m: Machine, placed: readonly number[]): boolean => {
    const depth = ops.length + pieces.length;
    for (const o of w.after) {
      const r = apply(m, o.op, o.step);
      if (!r.ok) {
        miss(depth, `the reference raised ${r.why} at step ${o.step} (${formatOp(o.op)}) with ${where(placed)}`);
        return false;
      }
      if (!compare(o, r.obs, depth, placed)) return false;
    }
    orders++;
    const d = firstDifference(w.outcome, without(userOutcome(m), w.dropped), "memory");
    if (d === null) return true;
    miss(depth + w.after.length, `afterwards ${d.path} is ${String(d.a ?? 0)}; with ${where(placed)} it is ${String(d.b ?? 0)}`);
    return false;
  };
  const ok = explore(structuredClone(start), 0, 0, [], { n: 0 });
  if (ok) return { kind: 'serialisable', orders };
  if (spent > budget) return { kind: 'skipped', reason: 'budget' };
  const list = [formatOp(w.task) + ' (the task)', ...ops.map((o) => `${o.step}: ${formatOp(o.op)}`), ...w.after.map((o) => `${o.step}: ${formatOp(o.op)} (after it)`)];
  return { kind: 'not serialisable', message: `window from step ${w.startStep} [${list.join('; ')}]: no serial order gives its outcome; closest: ${closest.text}` };
}

/** The violation for a window no serial order explains. */
export function notSerialisable(step: number, message: string): Violation {
  return { code: 'not_serialisable', step, message };
}
