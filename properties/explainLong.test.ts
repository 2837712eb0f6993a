import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main';
import { HTML_MAX_STEPS } from '../src/cli/replayCommands';
import type { Counterexample } from '../src/counterexample/file';
import { writeCounterexample } from '../src/counterexample/file';
import type { Op } from '../src/ops/op';
import { captureOutput } from './__helpers__/captureOutput';

const io = captureOutput();
const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'mmcheck-explain-long-'));

/**
 * A long list that holds: one two-page folio, then loads and stores from every CPU. Its state
 * (two PTEs, a folio, six TLB entries) is small, but kept for every step of 100,000 it used to
 * take the old explain past a 300 MB heap.
 */
function longFile(n: number): string {
  const ops: Op[] = [{ kind: 'map', mm: 0, vpn: 0, order: 1, pmd: false, first: 0, count: 2 }];
  for (let i = 1; i < n; i++) ops.push({ kind: 'access', cpu: i % 3, mm: 0, vpn: (i >> 1) % 2, write: i % 2 === 0 });
  const c: Counterexample = { format: 'mmcheck-counterexample/1', kernel: 'batched', kernelSpec: 'batched', geometry: 'small', seed: 1, path: '', status: 'shrunk', ops, violation: { code: 'kernel_warn', step: 0, message: 'none' } };
  const file = join(dir, `long-${n}.json`);
  writeCounterexample(file, c);
  return file;
}

describe('explain on a long op list', () => {
  it('explains 100,000 ops within a 300 MB heap, every step printed', () => {
    const file = longFile(100_000);
    const outFile = join(dir, 'explain.out');
    const out = openSync(outFile, 'w');
    // Output to a file, not a pipe: the test is about explain's memory, not about buffering its output.
    const r = spawnSync(process.execPath, ['--max-old-space-size=300', join(root, 'bin', 'mmcheck.js'), 'explain', file], { cwd: root, stdio: ['ignore', out, 'pipe'], encoding: 'utf8' });
    closeSync(out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = readFileSync(outFile, 'utf8').trimEnd().split('\n');
    // Assertions on counts and the tail only: a failure must not print 30 MB of trace.
    expect(lines.filter((l) => l.startsWith('  step ')).length).toBe(100_001);
    expect(lines.slice(-12)).toContain('  step 99999: load cpu0 mm#0 vpn 1');
    expect(lines.slice(-2)).toEqual(['  step 100000: drain', '    [same in both: reference, batched] → done']);
  });

  it('--html shows the last steps only, and says so, when there are too many to draw; a short list whole', async () => {
    const file = longFile(HTML_MAX_STEPS + 50);
    const html = join(dir, 'long.html');
    expect(await main(['explain', file, '--html', html])).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page.match(/<article id="step-/g)).toHaveLength(HTML_MAX_STEPS);
    expect(page).toContain(`id="step-${HTML_MAX_STEPS + 50}"`); // the final drain
    expect(page).not.toContain('id="step-50"');
    expect(page).toContain(`the last ${HTML_MAX_STEPS} of ${HTML_MAX_STEPS + 51} steps`);
    expect(io.out).toContain(`wrote ${html} (the last ${HTML_MAX_STEPS} of ${HTML_MAX_STEPS + 51} steps; the text output has them all)`);
    expect(io.out).toContain(`step ${HTML_MAX_STEPS + 50}: drain`);
    expect(io.out).toContain('  step 0: map');

    io.out = '';
    const short = join(dir, 'short.html');
    expect(await main(['explain', join(root, 'properties', 'fixtures', 'mutants', 'free-before-flush.json'), '--html', short])).toBe(1);
    expect(readFileSync(short, 'utf8').match(/<article id="step-/g)).toHaveLength(2);
    expect(io.out).toContain(`wrote ${short}\n`);
  });
});
