import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_MUTANTS } from '../cli/mutantsCommand';
import { PACKAGE_ROOT } from '../packageRoot';
import { median } from '../stats/median';
import { ratio, row } from './timing';

const BIN = join(PACKAGE_ROOT, 'bin', 'mmcheck.js');

/** One run of the real command: its wall time (startup included), exit code and output. */
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { ms: number; code: number | null; out: string } {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: PACKAGE_ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  return { ms: performance.now() - t, code: r.status, out: r.stdout };
}

/** The checked steps a `check` printed (`steps 122000 (…)`). */
const stepsOf = (out: string): number => Number(/^\s+steps\s+(\d+)/m.exec(out)?.[1] ?? NaN);

/**
 * The CLI as a user meets it, each a child process timed from spawn to exit: startup from the build
 * and from the sources (`mmcheck models`), the default check with one worker thread and with
 * `jobs` (checked steps per second of wall time, startup included), and every mutant found and
 * shrunk by `mmcheck check --kernel <mutant> --seed 1` (races with --interleave): the median,
 * the slowest, and any not found within `runs` sequences.
 */
export function benchCli(jobs: number, runs: number, mutantRuns: number): string[] {
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'mmcheck-bench-'));
  try {
    const built = median([1, 2, 3].map(() => cli(['models']).ms)) ?? 0;
    const sources = median([1, 2, 3].map(() => cli(['models'], { MMCHECK_SOURCES: '1' }).ms)) ?? 0;
    lines.push(row('startup (mmcheck models)', 34, ['build ms', 'sources ms', 'ratio']), row('', 34, [built.toFixed(0), sources.toFixed(0), ratio(sources, built)]));
    lines.push(row(`check --seed 1 --runs ${runs} (small)`, 34, ['steps', 'wall s', 'steps/s', 'ratio']));
    let one = 0;
    for (const j of [1, jobs]) {
      const r = cli(['check', '--seed', '1', '--runs', String(runs), '--quiet', '--jobs', String(j), '--failures', dir]);
      if (r.code !== 0) throw new Error(`bench: mmcheck check --jobs ${j} exited ${String(r.code)}`);
      const rate = (stepsOf(r.out) / r.ms) * 1000;
      if (j === 1) one = rate;
      lines.push(row(`  --jobs ${j}`, 34, [String(stepsOf(r.out)), (r.ms / 1000).toFixed(2), rate.toFixed(0), ratio(rate, one)]));
      if (jobs === 1) break;
    }
    const kills = ALL_MUTANTS.map((mu) => {
      const r = cli(['check', '--kernel', mu.name, '--seed', '1', '--runs', String(mutantRuns), '--quiet', '--failures', dir, ...(mu.needsInterleave === true ? ['--interleave'] : [])]);
      return { name: mu.name, ms: r.ms, found: r.code === 1 };
    });
    const found = kills.filter((k) => k.found);
    const slowest = [...found].sort((a, b) => b.ms - a.ms)[0];
    lines.push(
      `  mutants found and shrunk by mmcheck check --seed 1 (startup included): ${found.length}/${kills.length} within ${mutantRuns} sequences; median ${((median(found.map((k) => k.ms)) ?? 0) / 1000).toFixed(2)} s, slowest ${slowest?.name ?? '-'} ${((slowest?.ms ?? 0) / 1000).toFixed(2)} s, under 1 s: ${found.filter((k) => k.ms < 1000).length}`,
    );
    const missed = kills.filter((k) => !k.found).map((k) => k.name);
    if (missed.length > 0) lines.push(`  not found at seed 1 within the budget (the kill matrix uses 5 seeds): ${missed.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}
