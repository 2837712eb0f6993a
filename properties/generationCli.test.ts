import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput } from './__helpers__/captureOutput';
import { main } from '../src/cli/main';
import { GENERATED_KINDS } from '../src/arbitraries/profile';

const io = captureOutput();
const variants = join(import.meta.dirname, 'fixtures', 'variants');
const scratch = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-gen-'));
const check = (...more: string[]): string[] => ['check', '--kernel', 'reference', '--runs', '20', '--seed', '4', '--quiet', '--no-color', '--failures', scratch(), ...more];

/** Bad input: exit 2, one line naming the flag and the valid choices, nothing run. */
async function expectRefused(argv: string[], ...says: string[]): Promise<void> {
  expect(await main(argv)).toBe(2);
  expect(io.err.trimEnd().split('\n')).toHaveLength(1);
  for (const s of says) expect(io.err).toContain(s);
  expect(io.out).not.toContain('mmcheck check:');
}

describe('check --mode, --guided, --focus, --weights', () => {
  it('the report says how sequences were drawn', async () => {
    expect(await main(check('--mode', 'uniform', '--focus', 'gup,fork', '--weights', 'tick=0'))).toBe(0);
    expect(io.out).toContain('generation uniform, focus gup,fork, weights tick=0');
  });

  it('--guided runs guided mode and reports its corpus', async () => {
    expect(await main(check('--guided'))).toBe(0);
    expect(io.out).toContain('generation guided');
    expect(io.out).toMatch(/guided {5}corpus of \d+ sequences that reached something new; \d+ of the 20 sequences were mutations of it/);
  });

  it('the coverage lists each probe with its share of sequences, and counts the rare and unreached', async () => {
    expect(await main(check())).toBe(0);
    expect(io.out).toMatch(/✓ PMD-mapped folio +\d+ +\d+\.\d%/);
    expect(io.out).toMatch(/reach {6}\d+ never reached, \d+ rare/);
  });

  it('a variant that declares its focus gets it, and the report says where it came from', async () => {
    expect(await main(['check', '--kernel', join(variants, 'focusedOnMigration.ts'), '--runs', '20', '--seed', '4', '--quiet', '--no-color', '--failures', scratch(), '--no-typecheck'])).toBe(0);
    expect(io.out).toContain('focus migration (the variant declares focus migration)');
  });

  it.each([
    [['--mode', 'swarmy'], "--mode takes one of uniform, swarm, guided, got 'swarmy'"],
    [['--guided', '--mode', 'uniform'], '--guided and --mode uniform disagree'],
    [['--focus', 'gupp'], "unknown focus 'gupp'; valid: areas cow, fork, gup"],
    [['--weights', 'fork=two'], "bad --weights entry 'fork=two'"],
    [['--weights', ','], '--weights is empty'],
    [['--weights', GENERATED_KINDS.map((k) => `${k}=0`).join(',')], '--weights leaves every op kind out'],
  ])('%j is refused in one line', async (flags, says) => {
    await expectRefused(check(...flags), says);
  });

  it('a variant whose static focus names nothing valid is refused, naming the file', async () => {
    await expectRefused(['check', '--kernel', join(variants, 'badFocus.ts'), '--runs', '1', '--failures', scratch(), '--no-typecheck'], 'badFocus.ts', "unknown focus 'migrations'");
  });
});

describe('mutants --modes', () => {
  it('prints one row per mode and a summary line per mode', async () => {
    expect(await main(['mutants', '--only', 'free-before-flush', '--seeds', '1', '--runs', '200', '--modes', 'uniform,swarm', '--no-color'])).toBe(0);
    expect(io.out).toMatch(/free-before-flush +uniform +1\/1/);
    expect(io.out).toMatch(/ +swarm +1\/1/);
    expect(io.out).toMatch(/^uniform: killed 1\/1 on every seed; median sequences to kill \d+/m);
    expect(io.out).toMatch(/^swarm: killed 1\/1/m);
  });

  it('refuses an unknown mode in one line', async () => {
    expect(await main(['mutants', '--modes', 'uniform,wild'])).toBe(2);
    expect(io.err).toContain("--modes takes one of uniform, swarm, guided, got 'wild'");
  });
});
