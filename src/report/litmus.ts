import { describeViolation } from '../../models/machine/violation';
import { assertNever } from '../../models/assertNever';
import type { Op } from '../ops/op';
import { formatOp } from '../ops/op';
import type { TaskNote } from '../run/tasks';
import type { RunOutcome } from '../run/outcome';
import { withDrain } from '../run/checkedRun';
import { formatResult, formatTrace, waitedFor } from './trace';

/**
 * The litmus view of a counterexample with preempted kernel tasks (issue 11, docs/concurrency.md
 * "Reading an interleaved counterexample"): one column per CPU, one row per step, time flowing
 * down, so a reader sees which ops ran inside which task's window. A table model first, rendered
 * as text (`formatLitmus`) or HTML (`renderLitmusHtml` in html.ts) from the same data.
 */
export interface LitmusCell {
  /** What happened in this column at this step, one item a line (unwrapped). */
  readonly lines: readonly string[];
  /** A task of this column was in flight when the step began: the step ran inside its window. */
  readonly inFlight: boolean;
}

export interface LitmusRow {
  readonly step: number;
  readonly failed: boolean;
  /** One cell per column of the table. */
  readonly cells: readonly LitmusCell[];
}

export interface LitmusTable {
  /** `CPU0`, `CPU1`, … for the CPUs the run used, then `no CPU` when some op runs on none. */
  readonly columns: readonly string[];
  readonly rows: readonly LitmusRow[];
  /** The violation of the failing step, as the numbered trace prints it; null for a passing run. */
  readonly violation: string | null;
}

/** The header of the column of ops that run on no CPU (zap, fork, … not run as a task; device ops; tick). */
export const NO_CPU = 'no CPU';

/** Did any step of the run involve a kernel task? Only then is the litmus view worth printing. */
export function hasTasks(outcome: RunOutcome): boolean {
  return outcome.steps.some((s) => (s.applied.tasks ?? []).length > 0);
}

/**
 * The CPU an op itself runs on, when it names one. Ops without one (mm-wide syscalls, device
 * accesses through handles, tick) go in the `no CPU` column unless they ran as a task, which
 * puts them in the task's column.
 */
export function opCpu(op: Op): number | null {
  switch (op.kind) {
    case 'access':
    case 'gup':
    case 'walkBegin':
    case 'walkEnd':
    case 'preempt':
    case 'resume':
      return op.cpu;
    case 'map':
    case 'populate':
    case 'mmapFile':
    case 'writeback':
    case 'truncate':
    case 'fileRead':
    case 'fileWrite':
    case 'fork':
    case 'zap':
    case 'exit':
    case 'mprotect':
    case 'mremap':
    case 'migrate':
    case 'reclaim':
    case 'madvise':
    case 'freeTable':
    case 'collapse':
    case 'unpin':
    case 'gupRead':
    case 'gupWrite':
    case 'tick':
    case 'nowaitFail':
    case 'drain':
    case 'memHole':
    case 'allocPolicy':
      return null;
    default:
      return assertNever(op);
  }
}

/** An op as its cell shows it: the column already names the CPU, so the op does not. */
export function litmusOpText(op: Op): string {
  switch (op.kind) {
    case 'preempt':
      return `preempt: stop next op at point ${op.at}`;
    case 'resume':
      return `resume: ${op.points} more point${op.points === 1 ? '' : 's'}`;
    default:
      return formatOp(op).replace(/ cpu\d+/, '');
  }
}

/** What a task note adds to its CPU's column: where the task stopped, or that it completed and why. */
export function litmusNoteText(n: TaskNote, op: Op): string {
  const where = n.point === null ? '' : `stopped at '${n.point}' (${n.pointsPassed})`;
  // A load task's value, when it completes.
  const read = n.read === undefined ? '' : ` → value ${n.read}`;
  switch (n.how) {
    case 'start':
      return n.point === null ? `✓ ran to completion at once${read}` : `▶ ${where}`;
    case 'resume':
      return n.point === null ? `✓ completes${read}` : `▶ ${where}`;
    case 'wait':
      return `✓ completes${read}: ${op.kind} waits for its ${waitedFor(n.op)}`;
    case 'drain':
      return `✓ completes${read} (drain)`;
    default:
      return assertNever(n.how);
  }
}

/** Build the litmus table of a run: the ops as resolved, each task note in its CPU's column. */
export function litmusTable(ops: readonly Op[], outcome: RunOutcome): LitmusTable {
  const all = withDrain(ops);
  const failStep = outcome.ok ? -1 : outcome.violation.step;
  const byStep = new Map(outcome.steps.map((s) => [s.step, s]));
  const last = outcome.ok ? all.length - 1 : Math.min(failStep, all.length - 1);
  // First pass: what goes where (a column key is a CPU number or null for no CPU).
  interface Placed {
    readonly step: number;
    readonly items: Array<{ readonly col: number | null; readonly text: string }>;
    readonly notes: readonly TaskNote[];
  }
  const placed: Placed[] = [];
  const cpus = new Set<number>();
  let noCpu = false;
  for (let i = 0; i <= last; i++) {
    const rec = byStep.get(i);
    const failed = i === failStep;
    const op = (failed && !outcome.ok ? outcome.failingOp : rec?.applied.resolved) ?? all[i]!;
    const notes = rec?.applied.tasks ?? [];
    const started = notes.find((n) => n.how === 'start');
    // An op run as a task belongs to the task's CPU (a store's task may sit on another CPU than the op names).
    const col = started?.cpu ?? opCpu(op);
    const result = failed && !outcome.ok ? `✗ ${outcome.violation.code}` : rec === undefined ? '' : formatResult(rec.applied.result);
    // In a column of its own CPU the op need not name it; a store whose task sits in another CPU's slot still does.
    const text = col === opCpu(op) ? litmusOpText(op) : formatOp(op);
    const shown = result === '' || result === 'done' ? text : `${text} → ${result}`;
    const items: Array<{ col: number | null; text: string }> = [{ col, text: shown }];
    for (const n of notes) items.push({ col: n.cpu, text: litmusNoteText(n, op) });
    for (const it of items) {
      if (it.col === null) noCpu = true;
      else cpus.add(it.col);
    }
    placed.push({ step: i, items, notes });
  }
  const cols: Array<number | null> = [...[...cpus].sort((a, b) => a - b), ...(noCpu ? [null] : [])];
  // Second pass: cells, with each CPU's task window tracked from the notes (stopped at a point: in flight).
  const inFlight = new Set<number>();
  const rows: LitmusRow[] = placed.map((p) => {
    const cells = cols.map((c): LitmusCell => ({
      lines: p.items.filter((it) => it.col === c).map((it) => it.text),
      inFlight: c !== null && inFlight.has(c),
    }));
    for (const n of p.notes) {
      if (n.point === null) inFlight.delete(n.cpu);
      else inFlight.add(n.cpu);
    }
    return { step: p.step, failed: p.step === failStep, cells };
  });
  return {
    columns: cols.map((c) => (c === null ? NO_CPU : `CPU${c}`)),
    rows,
    violation: outcome.ok ? null : describeViolation(outcome.violation),
  };
}

/** The marker of a column inside a task's window (the text form; the HTML shades the cell). */
export const IN_FLIGHT = '┃';

/** Greedy word wrap to `width`, continuation lines indented by two; a word longer than a line is cut. */
export function wrapText(s: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  const room = (): number => width - (out.length === 0 ? 0 : 2);
  const push = (): void => {
    out.push(out.length === 0 ? line : `  ${line}`);
    line = '';
  };
  for (let word of s.split(' ')) {
    while (word.length > room()) {
      if (line !== '') push();
      line = word.slice(0, room());
      word = word.slice(room());
      push();
    }
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= room()) line += ` ${word}`;
    else {
      push();
      line = word;
    }
  }
  if (line !== '' || out.length === 0) push();
  return out;
}

/** The narrowest a column is squeezed to before long lines wrap. */
const MIN_COLUMN = 14;

/**
 * The text form: `step | CPU0 | CPU1 | no CPU`, one row per step (cells wrap onto more lines),
 * `┃` down a column while its task is in flight, `✗` on the failing step, the violation below.
 * Columns share `width` characters; a column's long items wrap rather than widen the table.
 */
export function formatLitmus(t: LitmusTable, width = 100): string[] {
  const cellLines = (c: LitmusCell): string[] => {
    const ls = c.lines.length === 0 && c.inFlight ? [''] : c.lines;
    return ls.map((l) => (c.inFlight ? `${IN_FLIGHT} ${l}`.trimEnd() : l));
  };
  const stepW = Math.max(4, String(t.rows.at(-1)?.step ?? 0).length + 2);
  const natural = t.columns.map((h, j) => Math.max(h.length, ...t.rows.flatMap((r) => cellLines(r.cells[j]!).map((l) => l.length))));
  const budget = width - stepW - 3 * t.columns.length;
  const widths = [...natural];
  // Squeeze the widest column first, one character at a time, until the table fits.
  for (let total = widths.reduce((a, b) => a + b, 0); total > budget; total--) {
    let k = 0;
    for (let j = 1; j < widths.length; j++) if (widths[j]! >= widths[k]!) k = j;
    if (widths[k]! <= MIN_COLUMN) break;
    widths[k]!--;
  }
  const join = (step: string, cells: readonly string[]): string => `${step.padStart(stepW)} | ${cells.map((c, j) => c.padEnd(widths[j]!)).join(' | ')}`.trimEnd();
  const lines = [join('step', t.columns), `${'-'.repeat(stepW)}-+-${widths.map((w) => '-'.repeat(w)).join('-+-')}`];
  for (const r of t.rows) {
    const wrapped = r.cells.map((c, j) => {
      const w = widths[j]!;
      return cellLines(c).flatMap((l) => {
        if (!c.inFlight) return wrapText(l, w);
        // Keep the window marker at the head of every wrapped line.
        return wrapText(l.slice(2), w - 2).map((x) => `${IN_FLIGHT} ${x}`.trimEnd());
      });
    });
    const height = Math.max(1, ...wrapped.map((w) => w.length));
    for (let k = 0; k < height; k++) {
      const step = k > 0 ? '' : `${r.failed ? '✗ ' : ''}${r.step}`;
      lines.push(join(step, wrapped.map((w, j) => w[k] ?? (r.cells[j]!.inFlight ? IN_FLIGHT : ''))));
    }
  }
  if (t.violation !== null) {
    lines.push('');
    lines.push(`✗ ${t.violation}`);
  }
  return lines;
}

/** The litmus table's width in the CLI, which indents it by two: its lines then fit 100 columns. */
export const CLI_LITMUS_WIDTH = 98;

/**
 * How a counterexample prints in the CLI: the litmus table when a kernel task took part in the
 * run, else the numbered trace, unchanged.
 */
export function formatCounterexample(ops: readonly Op[], outcome: RunOutcome): string[] {
  return hasTasks(outcome) ? formatLitmus(litmusTable(ops, outcome), CLI_LITMUS_WIDTH) : formatTrace(ops, outcome);
}
