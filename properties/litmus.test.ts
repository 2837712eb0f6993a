import { describe, expect, it } from 'vitest';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { OpResult } from '../models/result';
import type { Op } from '../src/ops/op';
import type { TaskNote } from '../src/run/tasks';
import type { RunOutcome, StepRecord } from '../src/run/outcome';
import { runOps } from '../src/run/runOps';
import { formatTrace } from '../src/report/trace';
import { formatCounterexample, formatLitmus, hasTasks, litmusTable, wrapText } from '../src/report/litmus';
import { renderExplanationHtml, renderLitmusHtml } from '../src/report/html';
import { explainSteps, formatExplanationStep } from '../src/report/explain';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { G, HOT, cpu, load, map, mm0, preempt, resume, store, v, zap } from './__helpers__/taskOps';

const done: OpResult = { kind: 'done' };
const rec = (step: number, op: Op, result: OpResult = done, tasks?: TaskNote[]): StepRecord => ({
  step,
  applied: { resolved: op, result, value: step + 1, ...(tasks === undefined ? {} : { tasks }) },
});
const note = (how: TaskNote['how'], point: TaskNote['point'], pointsPassed: number): TaskNote => ({
  cpu: cpu(0),
  op: 'zap',
  how,
  mm: mm0,
  start: v(HOT),
  end: v(HOT + 1),
  point,
  pointsPassed,
});

// A hand-built counterexample: a zap preempted on CPU0 after its first point, a store on CPU1
// inside the window, a resume that stops the zap at its last point, and a load on CPU1 that fails.
const ops: Op[] = [map(HOT), store(1), preempt(0, 1), zap(), store(1), resume(0, 1), load(1)];
const outcome: RunOutcome = {
  ok: false,
  steps: [
    rec(0, ops[0]!),
    rec(1, ops[1]!, { kind: 'value', value: 2 }),
    rec(2, ops[2]!),
    rec(3, ops[3]!, done, [note('start', 'zap: table done, PTL dropped', 1)]),
    rec(4, ops[4]!, { kind: 'value', value: 5 }),
    rec(5, ops[5]!, done, [note('resume', 'zap: before tlb_finish_mmu()', 2)]),
  ],
  violation: { code: 'stale_read', step: 6, mm: mm0, vpn: v(HOT), expected: 0, actual: 2 },
  kernel: 'batched',
  failingOp: ops[6]!,
};

describe('the litmus view of an interleaved counterexample', () => {
  const table = litmusTable(ops, outcome);
  const text = formatLitmus(table);

  it('has one column per CPU the run used, then one for ops on no CPU; one row per step up to the failing one', () => {
    expect(table.columns).toEqual(['CPU0', 'CPU1', 'no CPU']);
    expect(table.rows.map((r) => r.step)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(text[0]).toMatch(/^step \| CPU0 +\| CPU1 +\| no CPU$/);
  });

  it('puts the task in its CPU column with the point it stopped at, and marks the rows inside its window', () => {
    const cell = (step: number, col: number): readonly string[] => table.rows[step]!.cells[col]!.lines;
    expect(cell(0, 2)).toEqual(['map mm#0 vpn 21 order 0 pages 0+1']);
    expect(cell(1, 1)).toEqual(['store mm#0 vpn 21 → value 2']);
    expect(cell(2, 0)).toEqual(['preempt: stop next op at point 1']);
    // The zap, which has no CPU of its own, runs as a task on CPU0: it shows there, not under "no CPU".
    expect(cell(3, 0)).toEqual(['zap mm#0 vpn 21+1', "▶ stopped at 'zap: table done, PTL dropped' (1)"]);
    expect(cell(3, 2)).toEqual([]);
    expect(cell(5, 0)).toEqual(['resume: 1 more point', "▶ stopped at 'zap: before tlb_finish_mmu()' (2)"]);
    expect(table.rows.map((r) => r.cells[0]!.inFlight)).toEqual([false, false, false, false, true, true, true]);
    expect(table.rows.flatMap((r) => r.cells.slice(1).map((c) => c.inFlight))).not.toContain(true);
    // Text: the marker runs down CPU0 from the row after the start, the store on CPU1 beside it.
    const row = (step: string): string => text.find((l) => l.trimStart().startsWith(`${step} |`))!;
    expect(row('4')).toMatch(/^ +4 \| ┃ +\| store mm#0 vpn 21 → value 5/);
    expect(row('5')).toMatch(/^ +5 \| ┃ resume: 1 more point +\|/);
    expect(text.join('\n')).toMatch(/\| ┃ ▶ stopped at 'zap: before\s+\|[^\n]*\n +\| ┃   tlb_finish_mmu\(\)' \(2\)/);
    expect(row('3')).not.toContain('┃');
  });

  it('marks the failing step and prints the violation under the table', () => {
    expect(table.rows[6]!.failed).toBe(true);
    expect(table.rows[6]!.cells[1]!.lines).toEqual(['load mm#0 vpn 21 → ✗ stale_read']);
    expect(text.find((l) => l.includes('✗ 6 |'))).toMatch(/^ ✗ 6 \| ┃ +\| load mm#0 vpn 21 → ✗/);
    expect(text.at(-1)).toBe('✗ stale_read at step 6: mm=0 vpn=21 expected=0 actual=2');
  });

  it('fits 100 columns, wrapping long items inside their cell with the window marker kept', () => {
    expect(Math.max(...text.map((l) => l.length))).toBeLessThanOrEqual(100);
    const narrow = formatLitmus(table, 60);
    expect(Math.max(...narrow.map((l) => l.length))).toBeLessThanOrEqual(60);
    // Every line of the rows inside the window, wrapped ones too, carries the marker in CPU0's column.
    const inside = narrow.slice(narrow.findIndex((l) => /^ +4 \|/.test(l)), narrow.indexOf(''));
    expect(inside.length).toBeGreaterThan(4);
    for (const l of inside) expect(l).toMatch(/^ *(✗ )?\d* \| ┃/);
    expect(wrapText('abc defgh', 4)).toEqual(['abc', '  de', '  fg', '  h']);
  });

  it('a wait and a drain complete the task in its column, saying why', () => {
    const fork: Op = { kind: 'fork', mm: 0 };
    const waited: RunOutcome = {
      ok: true,
      steps: [rec(0, ops[2]!), rec(1, ops[3]!, done, [note('start', 'zap: table done, PTL dropped', 1)]), rec(2, fork, { kind: 'forked', child: 1 as never }, [note('wait', null, 2)]), rec(3, { kind: 'drain' })],
    };
    const t = litmusTable([ops[2]!, ops[3]!, fork], waited);
    expect(t.columns).toEqual(['CPU0', 'no CPU']);
    expect(t.rows[2]!.cells[0]!.lines).toEqual(['✓ completes: fork waits for its mmap_lock']);
    expect(t.rows[2]!.cells[1]!.lines).toEqual(['fork mm#0 → child mm1']);
    expect(t.rows[3]!.cells[0]!.inFlight).toBe(false);
    expect(t.violation).toBeNull();
  });

  it('the CLI form: the litmus view when a task ran, the numbered trace unchanged when none did', () => {
    expect(hasTasks(outcome)).toBe(true);
    expect(formatCounterexample(ops, outcome)).toEqual(formatLitmus(table, 98));
    const plain = [map(HOT), store(0), zap(), load(0)];
    const r = runOps(new BatchedKernel(), G, plain);
    expect(hasTasks(r)).toBe(false);
    expect(formatCounterexample(plain, r)).toEqual(formatTrace(plain, r));
    expect(formatCounterexample(plain, r)).toEqual([
      '    0  map mm#0 vpn 21 order 0 pages 0+1            → done',
      '    1  store cpu0 mm#0 vpn 21                       → value 2',
      '    2  zap mm#0 vpn 21+1                            → done',
      '    3  load cpu0 mm#0 vpn 21                        → value 0',
      '    4  drain                                        → done',
    ]);
  });

  it('a real run of a preempted zap gives the same notes the table shows', () => {
    const real = [map(HOT), store(1), preempt(0, 1), zap(), store(1), resume(0, 1), load(1)];
    const t = litmusTable(real, runOps(new BatchedKernel(), G, real));
    expect(t.rows[3]!.cells[0]!.lines).toEqual(['zap mm#0 vpn 21+1', "▶ stopped at 'zap: table done, PTL dropped' (1)"]);
    expect(t.rows[5]!.cells[0]!.lines).toEqual(['resume: 1 more point', "▶ stopped at 'zap: before tlb_finish_mmu()' (2)"]);
    expect(t.rows[7]!.cells[0]!.lines).toEqual(['✓ completes (drain)']);
    expect(t.rows[7]!.cells[2]!.lines).toEqual(['drain']);
  });

  it("a store's fault run as a task in another CPU's slot shows in that column, still naming the CPU that stores", () => {
    const fault = [preempt(1, 1), store(0), store(2), resume(1), load(0)];
    const t = litmusTable(fault, runOps(new BatchedKernel(), G, fault));
    expect(t.columns).toEqual(['CPU0', 'CPU1', 'CPU2', 'no CPU']);
    expect(t.rows[1]!.cells[1]!.lines).toEqual(['store cpu0 mm#0 vpn 21', "▶ stopped at 'fault: page allocated, before the PTL' (1)"]);
    expect(t.rows[1]!.cells[0]!.lines).toEqual([]);
    expect(t.rows[2]!.cells[2]!.lines).toEqual(['store mm#0 vpn 21 → value 3']);
    expect(t.rows[2]!.cells[1]!.inFlight).toBe(true);
    expect(t.rows[3]!.cells[1]!.lines).toEqual(['resume: 1 more point', '✓ completes']);
  });

  it('the HTML form: one column per CPU, in-flight cells shaded, the failing row highlighted, text escaped', () => {
    const html = renderLitmusHtml(table);
    expect(html).toContain('<tr><th>step</th><th>CPU0</th><th>CPU1</th><th>no CPU</th></tr>');
    expect(html.match(/<td class="inflight">/g)).toHaveLength(3);
    expect(html).toMatch(/<tr class="failed"><th>✗ 6<\/th>/);
    expect(html).toContain('store mm#0 vpn 21 → value 5');
    expect(html).toContain('&#39;zap: table done, PTL dropped&#39;');
    const evil = renderLitmusHtml({ ...table, columns: ['<b>CPU0</b>', 'CPU1', 'no CPU'], violation: 'a < b & "c"' });
    expect(evil).toContain('&lt;b&gt;CPU0&lt;/b&gt;');
    expect(evil).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(evil).not.toContain('<b>CPU0');
  });

  it('explain names the tasks of each step, with their CPU column; a task-free explanation has no task line', () => {
    const real = [map(HOT), store(1), preempt(0, 1), zap(), store(1), resume(0, 1), load(1)];
    const steps = [...explainSteps(() => new BatchedKernel(), () => new ReferenceKernel(), G, real)];
    const batched = (i: number): readonly string[] => steps[i]!.kernels.at(-1)!.tasks;
    expect(batched(2)).toEqual([]);
    expect(batched(3)).toEqual(["CPU0 zap mm#0 vpn 21+1: ▶ stopped at 'zap: table done, PTL dropped' (1)"]);
    expect(batched(4)).toEqual(["CPU0 in flight: zap mm#0 vpn 21+1 ⏸ 'zap: table done, PTL dropped' (1)"]);
    expect(batched(7)).toEqual(['CPU0 zap mm#0 vpn 21+1: ✓ completes (drain)']);
    expect(formatExplanationStep(steps[4]!)).toContain("        task CPU0 in flight: zap mm#0 vpn 21+1 ⏸ 'zap: table done, PTL dropped' (1)");
    const html = renderExplanationHtml('t', steps, table);
    expect(html).toContain('<section class="litmus"><h2>interleaving</h2><table class="litmus">');
    expect(html).toContain('<ul class="tasks"><li>CPU0 in flight: zap mm#0 vpn 21+1 ⏸ &#39;zap: table done, PTL dropped&#39; (1)</li></ul>');
    const plain = [...explainSteps(() => new BatchedKernel(), () => new ReferenceKernel(), G, [map(HOT), store(0), zap(), load(0)])];
    expect(plain.flatMap((s) => s.kernels.flatMap((k) => k.tasks))).toEqual([]);
    expect(plain.flatMap(formatExplanationStep).join('\n')).not.toContain('task');
    expect(renderExplanationHtml('t', plain)).not.toContain('litmus"');
  });

  it("explain follows the differential's task rules: after a store raced with the zap, the kernels' later states are not compared", () => {
    // The reference's store at step 4 faults a new page in (its zap flushed); the batched kernel's
    // lands through CPU1's stale entry. Once the zap completes (step 5) the states differ, legitimately.
    const raced = [map(HOT), store(1), preempt(0, 1), zap(), store(1), resume(0, 5), load(1)];
    const steps = [...explainSteps(() => new BatchedKernel(), () => new ReferenceKernel(), G, raced)];
    expect(steps.map((s) => s.divergence)).toEqual(Array(8).fill(null));
    // The step of the race says so (the store on CPU1 to the zapped page), and only that one.
    expect(steps.map((s) => s.comparisonStops === true)).toEqual([false, false, false, false, true, false, false, false]);
    expect(formatExplanationStep(steps[4]!).at(-1)).toBe('    (this op races with a preempted kernel task: the kernels are not compared until they agree again)');
    expect(renderExplanationHtml('t', steps)).toContain('<div class="note">this op races');
  });
});
