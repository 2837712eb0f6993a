import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput } from './__helpers__/captureOutput';
import { main } from '../src/cli/main';
import { SEED_MAX, SEED_MIN } from '../src/cli/options';

const io = captureOutput();
const variants = join(import.meta.dirname, 'fixtures', 'variants');
const scratch = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-err-'));

/** Bad input: exit 2, one line naming the flag and what would do, nothing run. */
async function expectRefused(argv: string[], ...says: string[]): Promise<void> {
  expect(await main(argv)).toBe(2);
  expect(io.err.trimEnd().split('\n')).toHaveLength(1);
  for (const s of says) expect(io.err).toContain(s);
  expect(io.out).not.toContain('mmcheck check:'); // refused before the run started
}

describe('--seed', () => {
  it('is the range fast-check keeps as given: inside it the seed is used unchanged, just outside it is folded', () => {
    const seedUsed = (seed: number): number => fc.check(fc.property(fc.constant(0), () => true), { seed, numRuns: 1 }).seed;
    for (const s of [SEED_MIN, -1, 0, SEED_MAX]) expect(seedUsed(s)).toBe(s);
    expect(seedUsed(SEED_MAX + 1)).toBe(SEED_MIN);
    expect(seedUsed(2 ** 32)).toBe(0);
  });

  it.each(['4294967296', '2147483648', '-2147483649'])('%s is refused, naming the range', async (seed) => {
    await expectRefused(['check', '--kernel', 'reference', '--runs', '1', '--seed', seed, '--failures', scratch()], `--seed takes a whole number from ${SEED_MIN} to ${SEED_MAX}, got '${seed}'`);
  });

  it.each([String(SEED_MIN), String(SEED_MAX)])('%s, at an end of the range, runs with that seed', async (seed) => {
    expect(await main(['check', '--kernel', 'reference', '--runs', '1', '--seed', seed, '--quiet', '--failures', scratch()])).toBe(0);
    expect(io.out).toContain(`seed ${seed}`);
  });
});

describe('--failures', () => {
  it("'' is refused (it would save into /)", async () => {
    await expectRefused(['check', '--kernel', 'reference', '--runs', '1', '--failures', ''], "--failures '' is empty; give a folder mmcheck can create and write to");
  });

  it('a folder that cannot be created under /proc is refused at once', async () => {
    await expectRefused(['check', '--kernel', 'reference', '--runs', '1', '--failures', '/proc/mmcheck-no-such/x'], "--failures '/proc/mmcheck-no-such/x' cannot be created or written");
  });

  it('a folder inside a regular file, or a regular file, is refused and the file left alone', async () => {
    const file = join(scratch(), 'notes.txt');
    writeFileSync(file, 'keep me');
    await expectRefused(['check', '--kernel', 'reference', '--runs', '1', '--failures', join(file, 'failures')], 'is inside a file, not a folder');
    io.err = '';
    await expectRefused(['check', '--kernel', 'reference', '--runs', '1', '--failures', file], 'is a file, not a folder');
    expect(readdirSync(join(file, '..'))).toEqual(['notes.txt']);
  });

  it('a folder that root cannot write to (sysfs) is refused', async () => {
    await expectRefused(['check', '--kernel', 'reference', '--runs', '1', '--failures', '/sys/mmcheck-failures'], "--failures '/sys/mmcheck-failures'", 'give a folder');
  });

  it('a new nested folder is accepted, left absent when nothing fails, and created for a failure', async () => {
    const root = scratch();
    expect(await main(['check', '--kernel', 'reference', '--runs', '5', '--seed', '1', '--quiet', '--failures', join(root, 'a', 'b')])).toBe(0);
    expect(readdirSync(root)).toEqual([]); // the probe's folders were removed again
    expect(await main(['check', '--kernel', join(variants, 'zapWithoutFlush.ts'), '--runs', '300', '--seed', '3', '--quiet', '--failures', join(root, 'a', 'b')])).toBe(1);
    expect(readdirSync(join(root, 'a', 'b'))).toEqual(['zap-without-flush-small-seed3.json']);
  });

  it("mutants --write-fixtures '' is refused the same way", async () => {
    expect(await main(['mutants', '--only', 'free-before-flush', '--runs', '1', '--seeds', '1', '--write-fixtures', ''])).toBe(2);
    expect(io.err).toBe("mmcheck: --write-fixtures '' is empty; give a folder mmcheck can create and write to\n");
  });
});

describe('an internal error', () => {
  const throwing = join(variants, 'throwsInConstructor.ts');

  it('is one line on stderr and exit 3, not 1 (a failure found) or 2 (bad input)', async () => {
    expect(await main(['cost', '--kernel', throwing])).toBe(3);
    expect(io.err).toBe('mmcheck: internal error: variant set-up failed: no such table\n');
  });

  it('shows its stack with --debug, before or after the command', async () => {
    for (const argv of [['--debug', 'cost', '--kernel', throwing], ['cost', '--kernel', throwing, '--debug']]) {
      io.err = '';
      expect(await main(argv)).toBe(3);
      expect(io.err.startsWith('mmcheck: internal error: variant set-up failed: no such table\n')).toBe(true);
      expect(io.err).toMatch(/\n\s+at new ThrowsInConstructor /);
    }
  });
});
