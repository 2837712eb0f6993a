import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput } from './__helpers__/captureOutput';
import { main } from '../src/cli/main';
import { readCounterexample } from '../src/counterexample/file';

const io = captureOutput();

/** `mmcheck check --interleave` (docs/concurrency.md): the switch reaches the worker, and the trace marks task steps. */
describe('mmcheck check --interleave', () => {
  it('finds the nested-flush race, prints the task steps and saves a replayable counterexample', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-interleave-'));
    expect(await main(['check', '--kernel', 'zap-ignores-nested-flush', '--interleave', '--runs', '2000', '--seed', '4', '--quiet', '--failures', dir])).toBe(1);
    expect(io.out).toContain('seed 4, interleaved');
    expect(io.out).toContain('FAILED: stale_read');
    // The counterexample prints as a litmus table (src/report/litmus.ts): the zap in its task's CPU column.
    expect(io.out).toMatch(/step \| CPU\d/);
    expect(io.out).toMatch(/\| zap mm#0 vpn \d+\+\d+ +\|/);
    expect(io.out).toMatch(/▶ stopped at 'zap: /);
    const [name] = readdirSync(dir);
    const cx = readCounterexample(join(dir, name!));
    expect(cx.ops.some((op) => op.kind === 'preempt')).toBe(true);
    io.out = '';
    expect(await main(['replay', join(dir, name!)])).toBe(1);
    expect(io.out).toContain('same violation: stale_read');
    expect(io.out).toMatch(/step \| CPU\d/);
    io.out = '';
    expect(await main(['replay', join(dir, name!), '--kernel', 'batched'])).toBe(0);
  }, 120_000);

  it('prints the counterexample of seed 1 as a litmus table: one column per CPU, the zap task stopped in its column, the window marked, the failing step under it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-interleave-'));
    io.out = '';
    expect(await main(['check', '--kernel', 'zap-ignores-nested-flush', '--interleave', '--seed', '1', '--quiet', '--failures', dir])).toBe(1);
    const out = io.out.slice(io.out.indexOf('FAILED:'));
    const table = out.split('\n').filter((l) => /^ {2}( *(✗ )?\d+|step| +) \|/.test(l));
    expect(table[0]).toMatch(/^ {2}step \| CPU0 +\| no CPU$/);
    for (const l of table) expect(l.length).toBeLessThanOrEqual(100); // indented by two, it still fits
    expect(out).toMatch(/\| zap mm#0 vpn 21\+16 +\|/);
    expect(out).toMatch(/▶ stopped at 'zap: table done,\s/);
    // CPU0's zap is in flight from the row after it started to the failing load.
    expect(table.filter((l) => /^ {2} +\d+ \| ┃/.test(l)).length).toBeGreaterThan(0);
    expect(out).toMatch(/^ {2} +✗ \d+ \| ┃ load mm#0 vpn 21 → ✗( stale_read)?/m);
    expect(out).toMatch(/^ {2}✗ stale_read at step \d+/m);
    expect(out).not.toMatch(/^ {6,}cpu\d ▶/m); // not the numbered trace's task lines
    // docs/concurrency.md quotes this table ("Reading an interleaved counterexample"): kept true.
    const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'concurrency.md'), 'utf8').split('\n');
    const at = doc.findIndex((l) => l.includes('--interleave --seed 1` prints:'));
    const quoted = doc.slice(at + 3, doc.indexOf('```', at + 3));
    const printed = out.split('\n');
    const from = printed.findIndex((l) => l.startsWith('  step |'));
    expect(printed.slice(from, from + quoted.length).map((l) => l.slice(2))).toEqual(quoted);
    // explain: the same table first, then the steps, each naming the tasks of the CPU columns.
    const [name] = readdirSync(dir);
    io.out = '';
    expect(await main(['explain', join(dir, name!)])).toBe(1);
    const ex = io.out;
    expect(ex.indexOf('step | CPU0')).toBeGreaterThan(-1);
    expect(ex.indexOf('step | CPU0')).toBeLessThan(ex.indexOf('step 0:'));
    expect(ex).toMatch(/task CPU0 zap mm#0 vpn 21\+16: ▶ stopped at 'zap: table done, PTL dropped' \(1\)/);
    expect(ex).toMatch(/task CPU0 in flight: zap mm#0 vpn 21\+16 ⏸ 'zap: table done, PTL dropped' \(1\)/);
  }, 120_000);

  it('without the switch the same mutant holds on the same seed (no schedule ops are generated)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-interleave-'));
    expect(await main(['check', '--kernel', 'zap-ignores-nested-flush', '--runs', '300', '--seed', '4', '--quiet', '--failures', dir])).toBe(0);
    expect(io.out).not.toContain('interleaved');
    expect(io.out).not.toContain('nested gathers');
  }, 120_000);
});
