import type { Geometry } from '../../models/machine/geometry';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { describeViolation } from '../../models/machine/violation';
import type { OpResult } from '../../models/result';
import { assertNever } from '../../models/assertNever';
import type { Op } from '../ops/op';
import { formatOp } from '../ops/op';
import type { TaskNote } from '../run/tasks';
import type { TaskOp } from '../../models/machine/tasks';
import type { RunOutcome } from '../run/outcome';
import { CheckedRun, withDrain } from '../run/checkedRun';
import { diffViews, stateView } from './stateView';

export function formatResult(r: OpResult): string {
  switch (r.kind) {
    case 'done':
      return 'done';
    case 'noop':
      return `no-op (${r.reason})`;
    case 'value':
      return `value ${r.value}`;
    case 'segv':
      return 'SIGSEGV';
    case 'forked':
      return `child mm${r.child}`;
    case 'handle':
      return `handle#${r.handle} with ${r.pages} page(s)`;
    case 'gupFailed':
      return 'GUP got no page';
    case 'migrated':
      return `${r.folios} folio(s) migrated`;
    case 'reclaimed':
      return `${r.folios} folio(s) reclaimed`;
    default:
      return assertNever(r);
  }
}

/**
 * What an op waits for when it completes a task first: a zap, mprotect, fork, GUP or fault holds
 * `mmap_lock` (its writers wait); a migration its migration entries and folio locks, a reclaim
 * the folios it isolated (whoever meets them waits).
 */
export function waitedFor(op: TaskOp): string {
  switch (op) {
    case 'migrate':
      return 'migration entries';
    case 'reclaim':
      return 'isolated folios';
    case 'zap':
    case 'madvise':
    case 'mprotect':
    case 'fork':
    case 'gup':
    case 'access':
    case 'collapse':
      return 'mmap_lock';
    default:
      return assertNever(op);
  }
}

/**
 * One task step under the op that caused it: `cpu1 ▶ zap mm#0 vpn 20+4 ⏸ zap: table done, PTL
 * dropped` when it stopped at a preemption point, `✓ done` when it completed, with why it ran
 * (resumed, or run to completion because the op waits for its mmap_lock, or drain).
 */
export function formatTaskNote(n: TaskNote, op: Op): string {
  const held = waitedFor(n.op);
  const why = n.how === 'wait' ? ` (${op.kind} waits for its ${held})` : n.how === 'drain' ? ' (drain)' : '';
  const verb = n.how === 'resume' ? 'resume ' : '';
  const read = n.read === undefined ? '' : ` → value ${n.read}`;
  const where = n.point === null ? `✓ done${read}` : `⏸ ${n.point} (${n.pointsPassed} point${n.pointsPassed === 1 ? '' : 's'} passed)`;
  const what = n.op === 'fork' ? `fork mm#${n.mm}` : `${n.op} mm#${n.mm} vpn ${n.start}+${n.end - n.start}`;
  return `cpu${n.cpu} ▶ ${verb}${what} ${where}${why}`;
}

/**
 * The numbered trace of a run: each op as resolved (concrete mm, cpu and handle ids) with what it
 * returned; the failing step marked with its violation.
 */
export function formatTrace(ops: readonly Op[], outcome: RunOutcome): string[] {
  const all = withDrain(ops);
  const lines: string[] = [];
  const failStep = outcome.ok ? -1 : outcome.violation.step;
  // Indexed once: `mmcheck run` prints traces of hand-written lists far longer than shrunk ones.
  const byStep = new Map(outcome.steps.map((s) => [s.step, s]));
  for (let i = 0; i < all.length; i++) {
    const rec = byStep.get(i);
    const failed = i === failStep;
    const op = (failed && !outcome.ok ? outcome.failingOp : rec?.applied.resolved) ?? all[i]!;
    const mark = failed ? '✗' : ' ';
    const result = failed && !outcome.ok ? describeViolation(outcome.violation) : rec === undefined ? '' : formatResult(rec.applied.result);
    lines.push(`${mark} ${String(i).padStart(3)}  ${formatOp(op).padEnd(44)} → ${result}`);
    for (const n of rec?.applied.tasks ?? []) lines.push(`        ${formatTaskNote(n, op)}`);
    if (failed) break;
  }
  return lines;
}

/**
 * The state diff at the failing step: replay up to it, then show what the failing op changed in
 * the kernel that broke the check (page tables, folio counts, TLB entries, walkers). For a
 * divergence, the diff of the kernel under test is shown; the divergence line names the path.
 */
export function failingStepDiff(kernel: () => ReferenceKernel, geometry: Geometry, ops: readonly Op[], step: number): string[] {
  const all = withDrain(ops);
  const run = new CheckedRun(kernel(), geometry, { ledger: false, memory: false });
  for (let i = 0; i < step && i < all.length; i++) run.step(all[i]!, i);
  const before = stateView(run.machine);
  const op = all[step];
  if (op === undefined) return [];
  run.step(op, step);
  return diffViews(before, stateView(run.machine));
}
