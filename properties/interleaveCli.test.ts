import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
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
    expect(io.out).toMatch(/cpu\d ▶ zap mm#0 vpn \d+\+\d+ ⏸ zap: /);
    const [name] = readdirSync(dir);
    const cx = readCounterexample(join(dir, name!));
    expect(cx.ops.some((op) => op.kind === 'preempt')).toBe(true);
    io.out = '';
    expect(await main(['replay', join(dir, name!)])).toBe(1);
    expect(io.out).toContain('same violation: stale_read');
    io.out = '';
    expect(await main(['replay', join(dir, name!), '--kernel', 'batched'])).toBe(0);
  }, 120_000);

  it('without the switch the same mutant holds on the same seed (no schedule ops are generated)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-interleave-'));
    expect(await main(['check', '--kernel', 'zap-ignores-nested-flush', '--runs', '300', '--seed', '4', '--quiet', '--failures', dir])).toBe(0);
    expect(io.out).not.toContain('interleaved');
    expect(io.out).not.toContain('nested gathers');
  }, 120_000);
});
