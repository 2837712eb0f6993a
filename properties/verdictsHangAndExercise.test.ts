import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BATCHED_TRACEPOINTS } from '../models/tracepoints';
import { readCounterexample } from '../src/counterexample/file';
import { main } from '../src/cli/main';
import { captureOutput } from './__helpers__/captureOutput';
import { tmp, variant } from './__helpers__/variantFixtures';

/**
 * No silent pass, continued (split from verdicts.test.ts so the two run in parallel): a hang is a
 * reported failure, a variant whose change never ran is NOT EXERCISED, and every tracepoint is
 * listed. The variant type-check is tested in variantLoading.test.ts; these skip it.
 */

const io = captureOutput();

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
    // Every op that zaps a wide range: MADV_DONTNEED, exit, and mremap (it unmaps its destination first).
    expect(['zap', 'exit', 'mremap']).toContain(c.ops[c.violation.step]?.kind);
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
    for (const t of BATCHED_TRACEPOINTS) expect(io.out).toMatch(new RegExp(`[✓✗!] mark:${t.replace(/[()]/g, '\\$&')}\\s+\\d+\\s+\\d+\\.\\d%`));
    expect(io.out).toMatch(/✗ mark:\S.*\s0 +0\.0%\n/);
  });
});
