import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './__helpers__/runCli';
import { REPO } from './__helpers__/tempVariant';

// bin/mmcheck.js runs the built CLI (dist/cli/, `npm run build`) while it is fresh, the sources
// otherwise or when a command loads a user's TypeScript file; both give the same results.

const BUILT = join(REPO, 'dist', 'cli', 'cli.mjs');
/** The same command forced to run from the sources (MMCHECK_SOURCES=1). */
const fromSources = (args: readonly string[]): { out: string; code: number | null } => {
  const r = spawnSync(process.execPath, [join(REPO, 'bin', 'mmcheck.js'), ...args], { cwd: REPO, env: { ...process.env, MMCHECK_SOURCES: '1' }, encoding: 'utf8' });
  return { out: r.stdout, code: r.status };
};
const ranFrom = (err: string): string | undefined => /mmcheck: ran from (the build|the sources)/.exec(err)?.[1];

describe('the built CLI', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO, 'src', 'build', 'main.ts')], { cwd: REPO, stdio: 'ignore' });
  }, 120_000);

  it('runs a command from the build, with the same output as from the sources', async () => {
    const built = await runCli(['--debug', 'models']);
    expect(ranFrom(built.err)).toBe('the build');
    expect(built.out).toBe(fromSources(['models']).out);
    expect(built.code).toBe(0);
  });

  it('finds and saves the same counterexample as the sources do (its check worker is built too)', async () => {
    const a = mkdtempSync(join(tmpdir(), 'mmcheck-built-'));
    const b = mkdtempSync(join(tmpdir(), 'mmcheck-sources-'));
    const built = await runCli(['--debug', 'check', '--kernel', 'free-before-flush', '--seed', '1', '--runs', '300', '--quiet', '--failures', a]);
    expect(ranFrom(built.err)).toBe('the build');
    expect(built.code).toBe(1);
    const file = 'free-before-flush-small-seed1.json';
    expect(fromSources(['check', '--kernel', 'free-before-flush', '--seed', '1', '--runs', '300', '--quiet', '--failures', b]).code).toBe(1);
    expect(readFileSync(join(a, file), 'utf8')).toBe(readFileSync(join(b, file), 'utf8'));
  }, 60_000);

  it('runs a command that loads a variant from the sources (its classes must be the sources\')', async () => {
    const r = await runCli(['--debug', 'check', '--kernel', 'docs/examples/gatherFlushThenFree.ts', '--seed', '1', '--runs', '20', '--quiet', '--failures', mkdtempSync(join(tmpdir(), 'mmcheck-built-'))]);
    expect(ranFrom(r.err)).toBe('the sources');
    expect(r.out).toContain('kernel gather-flush-then-free against the reference');
    expect([0, 5]).toContain(r.code);
  }, 60_000);

  it('is not used once a source file is newer than it', async () => {
    const t = statSync(BUILT);
    const before = new Date(t.mtimeMs - 10 * 365 * 24 * 3600 * 1000);
    try {
      utimesSync(BUILT, before, before);
      const r = await runCli(['--debug', 'models']);
      expect(ranFrom(r.err)).toBe('the sources');
    } finally {
      utimesSync(BUILT, t.atime, t.mtime);
    }
    expect(ranFrom((await runCli(['--debug', 'models'])).err)).toBe('the build');
  });
});
