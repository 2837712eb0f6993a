import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * `npm run soak` on bad input: one line naming what is wrong and the valid choices, exit 2, and
 * nothing run. (It used to run zero steps for `--steps abc` and report "0 failures", a pass that
 * checked nothing, and print a stack trace for an unknown kernel.)
 */
const root = join(import.meta.dirname, '..');
const soak = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'soak', 'main.ts'), ...args], { cwd: root, encoding: 'utf8' });

describe('npm run soak refuses bad input', () => {
  it.each([
    [['--steps', 'abc'], "--steps takes a positive whole number, got 'abc'"],
    [['--runs', '0'], "--runs takes a positive whole number, got '0'"],
    [['--first-seed', '1e9'], '--first-seed takes a whole number from'],
    [['--kernels', 'batched,nope'], "unknown kernel 'nope'; registered kernels: reference, batched"],
    [['--geometries', 'huge'], "unknown geometry 'huge'; valid geometries: small, realistic"],
    [['--bogus'], "Unknown option '--bogus'; valid options: --steps, --kernels"],
    [['--steps'], "Option '--steps <value>' argument missing; valid options:"],
  ])('%j: exit 2 with one line', (args, message) => {
    const r = soak(...args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });
});

describe('npm run soak --help', () => {
  it('prints the options and exits 0, running nothing', () => {
    const r = soak('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run soak/);
    expect(r.stdout).toContain('--interleave');
    expect(r.stdout).not.toContain('mmcheck soak:');
  });
});
