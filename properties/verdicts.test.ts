import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { geometry } from '../models/machine/geometry';
import { BATCHED_TRACEPOINTS } from '../models/tracepoints';
import { runCheck, runOne } from '../src/check/runCheck';
import { readCounterexample } from '../src/counterexample/file';
import { main } from '../src/cli/main';
import ReferenceNamedNoMigrate from './fixtures/variants/referenceNamedNoMigrate';
import ZapWithoutFlushSlowToShrink from './fixtures/variants/zapWithoutFlushSlowToShrink';
import { captureOutput } from './__helpers__/captureOutput';
import { op } from './__helpers__/ops';

/**
 * No silent pass: every way the first release ended `HOLDS` (exit 0) without having checked
 * what it claimed — or hung — now ends in a verdict that says what happened. (The type-check of
 * a variant is tested in variantLoading.test.ts; these checks skip it with --no-typecheck.)
 */

const io = captureOutput();
const variant = (name: string): string => join(import.meta.dirname, 'fixtures', 'variants', name);
const tmp = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-verdict-'));
const small = geometry('small');

describe('the kernel under test is compared with a pristine reference, chosen by identity', () => {
  it('a ReferenceKernel subclass named "reference" is still compared (runOne)', () => {
    const o = runOne({ kernel: () => new ReferenceNamedNoMigrate(), geometry: small }, [op.map(0, 0, 0), op.migrate(0, 0, 1)]);
    expect(o.ok ? null : o.violation.code).toBe('divergence');
  });

  it('run (a hand-written scenario) on such a variant compares it with the reference and fails on the divergence', async () => {
    const dir = tmp();
    const file = join(dir, 'scenario.json');
    writeFileSync(file, JSON.stringify({ format: 'mmcheck-scenario/1', kernel: variant('referenceNamedNoMigrate.ts'), ops: [op.map(0, 0, 0), op.migrate(0, 0, 1)] }));
    expect(await main(['run', file])).toBe(1);
    expect(io.out).toContain('against the reference');
    expect(io.out).toContain('FAILED: divergence');
  });

  it('check on that variant fails with the divergence (exit 1)', async () => {
    expect(await main(['check', '--kernel', variant('referenceNamedNoMigrate.ts'), '--runs', '300', '--seed', '1', '--quiet', '--no-typecheck', '--failures', tmp()])).toBe(1);
    expect(io.out).toContain('against the reference');
    expect(io.out).toContain('FAILED: divergence');
  });
});

describe('a failure that does not reproduce is FLAKY, never HOLDS', () => {
  it('check on a kernel with hidden state exits 4 with the failure saved', async () => {
    const dir = tmp();
    expect(await main(['check', '--kernel', variant('failsOnlyOnce.ts'), '--runs', '500', '--seed', '3', '--quiet', '--no-typecheck', '--failures', dir])).toBe(4);
    expect(io.out).toContain('FLAKY: free_with_stale_tlb');
    expect(io.out).not.toContain('HOLDS');
    const [file] = readdirSync(dir);
    expect(readCounterexample(join(dir, file!)).violation.code).toBe('free_with_stale_tlb');
  });
});

describe('a time budget that cuts shrinking short marks the counterexample as not fully shrunk', () => {
  it('runCheck says fullyShrunk: false when fast-check was interrupted while shrinking', () => {
    // Every instance made after the first failure takes 150 ms, so shrinking outlasts the budget.
    const r = runCheck({ kernel: () => new ZapWithoutFlushSlowToShrink(), geometry: small, runs: 500, seed: 3, maxOps: 60, timeBudgetMs: 2500 });
    expect(r.failure?.outcome.violation.code).toBe('free_with_stale_tlb');
    expect(r.failure?.fullyShrunk).toBe(false);
  });
});

describe('a kernel that never returns is a hang, reported and saved, not a frozen terminal', () => {
  it('check stops the worker, reports step_timeout (exit 1) and saves the sequence; replay reports it again', async () => {
    const dir = tmp();
    expect(await main(['check', '--kernel', variant('loopsOnWideZap.ts'), '--runs', '200', '--seed', '1', '--quiet', '--no-typecheck', '--failures', dir, '--step-timeout', '1'])).toBe(1);
    expect(io.out).toContain('FAILED: step_timeout');
    const [name] = readdirSync(dir);
    const file = join(dir, name!);
    const c = readCounterexample(file);
    expect(c.violation.code).toBe('step_timeout');
    expect(c.status).toBe('found');
    expect(['zap', 'exit']).toContain(c.ops[c.violation.step]?.kind);
    io.out = '';
    expect(await main(['replay', file, '--step-timeout', '1', '--no-typecheck'])).toBe(1);
    expect(io.out).toContain('same violation: step_timeout');
    // explain runs on the main thread: it explains up to the hung op and does not run it again
    io.out = '';
    expect(await main(['explain', file, '--no-typecheck'])).toBe(1);
    expect(io.out).toContain(`✗ step ${c.violation.step}: step_timeout`);
    // a hand-written list that hangs is a hang for `run` too
    io.out = '';
    expect(await main(['run', file, '--step-timeout', '1', '--no-typecheck'])).toBe(1);
    expect(io.out).toContain('FAILED: step_timeout');
  });
});

describe('a variant whose change never ran is NOT EXERCISED, never HOLDS', () => {
  it('a method of the variant that no sequence called: exit 5, the method marked ✗', async () => {
    expect(await main(['check', '--kernel', variant('neverCalledOverride.ts'), '--runs', '50', '--seed', '1', '--quiet', '--no-typecheck', '--failures', tmp()])).toBe(5);
    expect(io.out).toMatch(/✗ batchedFreeOfTable\s+0/);
    expect(io.out).toContain('NOT EXERCISED');
    expect(io.out).not.toContain('HOLDS');
  });

  it('lines of the variant that never ran are listed, from V8 coverage: exit 5', async () => {
    expect(await main(['check', '--kernel', variant('zapCheckedStep.ts'), '--runs', '100', '--seed', '1', '--quiet', '--no-typecheck', '--failures', tmp()])).toBe(5);
    expect(io.out).toMatch(/✓ zapPresentPtes\s+[1-9]/);
    expect(io.out).toContain('variant lines that never ran (2)');
    expect(io.out).toContain('zapCheckedStep.ts:20');
  });
});

describe('the coverage lines list every probe and tracepoint', () => {
  it('a short check of the batched kernel names every batched tracepoint, ✗ for the unreached', async () => {
    expect(await main(['check', '--kernel', 'batched', '--runs', '5', '--seed', '1', '--quiet', '--no-typecheck', '--failures', tmp()])).toBe(0);
    for (const t of BATCHED_TRACEPOINTS) expect(io.out).toMatch(new RegExp(`[✓✗] mark:${t.replace(/[()]/g, '\\$&')}\\s+\\d+`));
    expect(io.out).toMatch(/✗ mark:\S.*\s0\n/);
  });
});
