import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Machine } from '../../models/machine/state';
import type { MmId, Pfn, Vpn } from '../../models/machine/ids';
import { mappedPfn } from '../../models/machine/pgtable';
import type { Violation } from '../../models/machine/violation';
import { ModelViolationError } from '../../models/machine/violation';
import { applyResolved } from '../ops/apply';
import type { Op } from '../ops/op';
import { formatOp } from '../ops/op';
import type { RecordedWindow, SkipReason } from '../run/windowRecorder';
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
 * The task's op runs whole at some position among the window's ops — except a zap, madvise or an
 * mprotect, which run as one op per PMD slot of their range, and a reclaim, as one per folio, each
 * at its own position (in order): the kernel works a table (a folio) at a time and lets other CPUs
 * in between (its preemption points), so a load may legitimately see one table zapped and the next
 * one not yet. Ops of the closing step
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
 * The task's op as the serial runs apply it: a zap, madvise or mprotect cut at PMD slot boundaries;
 * a reclaim cut into one reclaim per folio it isolated (`shrink_folio_list()` finishes a folio
 * before its `cond_resched()`, so the ops in its window may run between two folios — a load that
 * swaps the first back in, a MADV_FREE that then drops the second's swap entry: soak seed 83009),
 * each named by the first page that maps it at the window's start; every other op whole.
 */
export function taskPieces(m: Machine, task: Op, spec?: ReferenceKernel): Op[] {
  if (task.kind === 'reclaim' && spec !== undefined) return reclaimPieces(m, task, spec);
  if (task.kind !== 'zap' && task.kind !== 'mprotect' && task.kind !== 'madvise') return [task];
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

/** A reclaim as one `reclaim vpn 1` per folio it selects from `m` (the whole op when it selects at most one). */
function reclaimPieces(m: Machine, task: Extract<Op, { kind: 'reclaim' }>, spec: ReferenceKernel): Op[] {
  const mm = task.mm as MmId;
  if (m.mms[mm]?.alive !== true) return [task];
  const heads = spec.selectFoliosForMigration(m, mm, task.vpn as Vpn, task.count);
  if (heads.length <= 1) return [task];
  const top = m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
  const firstVpn = (head: Pfn): number => {
    for (let v = task.vpn; v < top; v++) {
      const p = mappedPfn(m, mm, v as Vpn);
      if (p !== null && (m.frames[p]?.head ?? p) === head) return v;
    }
    return task.vpn;
  };
  return heads.map((head) => ({ ...task, vpn: firstVpn(head), count: 1 }));
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

/** One item of a serial order: the window's op `i`, or piece `k` of task `t`. */
type Item = { readonly op: number } | { readonly task: number; readonly piece: number };

function search(spec: ReferenceKernel, start: Machine, w: RecordedWindow, budget: number): SerialVerdict {
  if (w.skip !== null) return { kind: 'skipped', reason: w.skip };
  // A reclaim is cut by the folios it isolated, read from the start state: only the window's first
  // task starts on it (a later one may work on an mm a fork in the window made).
  const pieces = w.tasks.map((t, i) => taskPieces(start, t.op, i === 0 && t.from === 0 ? spec : undefined));
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
  // A task's own allocation clock runs across its pieces, as a task's does across its points.
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
  // Where an order puts the tasks: "the task after 2 of the window's ops", or per task piece.
  const where = (order: readonly Item[]): string => {
    const at: string[] = [];
    let c = 0;
    for (const it of order) {
      if ('op' in it) c++;
      else at.push(w.tasks.length === 1 && pieces[0]!.length === 1 ? `the task after ${c} of the window's ops` : `${formatOp(pieces[it.task]![it.piece]!)} after ${c}`);
    }
    return at.length === 1 ? at[0]! : `${at.join(', ')} of the window's ops`;
  };
  // One order, replayed from a copy of the start state; given up at the first op that returns
  // something else than it did in the interleaved run.
  const tryOrder = (order: readonly Item[]): boolean => {
    const m = cloneMachine(start);
    const folios = w.tasks.map(() => ({ n: 0 }));
    let depth = 0;
    for (const it of order) {
      if ('task' in it) {
        const r = apply(m, pieces[it.task]![it.piece]!, w.tasks[it.task]!.step, folios[it.task]);
        if (!r.ok) {
          miss(depth, `the reference raised ${r.why} running ${formatOp(w.tasks[it.task]!.op)} with ${where(order)}`);
          return false;
        }
      } else {
        const o = ops[it.op]!;
        const r = apply(m, o.op, o.step);
        if (!r.ok) {
          miss(depth, `the reference raised ${r.why} at step ${o.step} (${formatOp(o.op)}) with ${where(order)}`);
          return false;
        }
        if (o.obs !== null && o.obs !== r.obs) {
          miss(depth, `step ${o.step} (${formatOp(o.op)}) returned ${o.obs}; with ${where(order)} it returns ${r.obs ?? 'nothing'}`);
          return false;
        }
      }
      depth++;
    }
    orders++;
    const d = firstDifference(w.outcome, without(userOutcome(m), w.dropped), 'memory');
    if (d === null) return true;
    miss(depth, `afterwards ${d.path} is ${String(d.a ?? 0)}; with ${where(order)} it is ${String(d.b ?? 0)}`);
    return false;
  };
  let ok = false;
  for (const order of serialOrders(w, pieces.map((p) => p.length))) {
    if (spent > budget) break;
    if ((ok = tryOrder(order))) break;
  }
  if (ok) return { kind: 'serialisable', orders };
  if (spent > budget) return { kind: 'skipped', reason: 'budget' };
  const list = [
    ...w.tasks.map((t) => `${t.step}: ${formatOp(t.op)} (a task, in flight over ops ${t.from}–${t.to})`),
    ...ops.map((o, i) => `${o.step}: ${formatOp(o.op)} (op ${i})`),
  ];
  return { kind: 'not serialisable', message: `window from step ${w.startStep} [${list.join('; ')}]: no serial order gives its outcome; closest: ${closest.text}` };
}

/**
 * The serial orders of a window: its ops in their order, with the pieces of each task in their
 * order, each piece placed while the task was in flight — after the ops recorded before the task
 * started (`from`) and before those recorded after it completed (`to`). First the order with
 * every piece as early as it may go (a zap or fork does most of its work before its first
 * point), then the one with every piece as late as it may go (a fault or a GUP takes effect when
 * it completes), then the rest, depth first.
 */
export function* serialOrders(w: Pick<RecordedWindow, 'tasks' | 'ops'>, nPieces: readonly number[]): Generator<Item[]> {
  const K = w.ops.length;
  const key = (o: readonly Item[]): string => o.map((it) => ('op' in it ? `o${it.op}` : `t${it.task}.${it.piece}`)).join(' ');
  function* walk(prefix: Item[], c: number, next: number[], piecesFirst: boolean): Generator<Item[]> {
    // A task whose window ended before op c must have placed all its pieces first.
    const due = w.tasks.some((t, ti) => next[ti]! < nPieces[ti]! && t.to <= c);
    const choices: Item[] = [];
    w.tasks.forEach((t, ti) => {
      if (next[ti]! < nPieces[ti]! && t.from <= c) choices.push({ task: ti, piece: next[ti]! });
    });
    if (c < K && !due) {
      if (piecesFirst) choices.push({ op: c });
      else choices.unshift({ op: c });
    }
    if (choices.length === 0) {
      if (c === K && next.every((n, ti) => n === nPieces[ti])) yield [...prefix];
      return;
    }
    for (const it of choices) {
      prefix.push(it);
      if ('op' in it) yield* walk(prefix, c + 1, next, piecesFirst);
      else {
        next[it.task]!++;
        yield* walk(prefix, c, next, piecesFirst);
        next[it.task]!--;
      }
      prefix.pop();
    }
  }
  const fresh = (): number[] => w.tasks.map(() => 0);
  const seen = new Set<string>();
  for (const g of [walk([], 0, fresh(), true), walk([], 0, fresh(), false)]) {
    const r = g.next();
    if (r.done === true || seen.has(key(r.value))) continue;
    seen.add(key(r.value));
    yield r.value;
  }
  for (const o of walk([], 0, fresh(), true)) if (!seen.has(key(o))) yield o;
}

/** The violation for a window no serial order explains. */
export function notSerialisable(step: number, message: string): Violation {
  return { code: 'not_serialisable', step, message };
}
