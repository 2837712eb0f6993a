import pc from 'picocolors';
import { MUTANTS } from '../../models/mutants/index';
import { RACE_MUTANTS } from '../../models/mutants/race/index';
import type { Geometry } from '../../models/machine/geometry';
import { writeCounterexample } from '../counterexample/file';
import type { KillResult } from '../mutants/killMutant';
import { killMutant, median } from '../mutants/killMutant';
import { runOne } from '../check/runCheck';
import { UsageError } from './usageError';

export interface MutantsCommandOptions {
  readonly geometry: Geometry;
  readonly runs: number;
  readonly maxOps: number;
  readonly seeds: readonly number[];
  readonly only: readonly string[];
  /** Write each mutant's shortest counterexample to this directory (the committed fixtures). */
  readonly fixturesDir: string | null;
}

/**
 * `mmcheck mutants`: the kill matrix. Each mutant runs the standard properties once per seed
 * within the budget; per mutant it reports the oracle that fired, the median runs to the first
 * failure, the median shrunk length and the median time. Exit 1 if any mutant survives.
 */
export function mutantsCommand(o: MutantsCommandOptions, print: (s: string) => void): number {
  // Race mutants (models/mutants/race/) are equivalent to their kernels without schedule ops:
  // killMutant() checks them with --interleave, and the matrix marks them `race`.
  const all = [...MUTANTS, ...RACE_MUTANTS];
  const unknown = o.only.filter((n) => !all.some((mu) => mu.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown mutant(s) ${unknown.join(', ')}; registered: ${all.map((mu) => mu.name).join(', ')}`);
  const chosen = all.filter((mu) => o.only.length === 0 || o.only.includes(mu.name));
  print(pc.bold(`kill matrix: ${chosen.length} mutants × ${o.seeds.length} seeds, budget ${o.runs} sequences of up to ${o.maxOps} ops, geometry ${o.geometry.name}`));
  print(`${'mutant'.padEnd(38)} ${'killed'.padEnd(7)} ${'oracle'.padEnd(26)} ${'runs (median)'.padEnd(14)} ${'ops (median)'.padEnd(13)} ms (median)`);
  let survivors = 0;
  const allRuns: number[] = [];
  const allLens: number[] = [];
  for (const mu of chosen) {
    const results: KillResult[] = o.seeds.map((seed) => killMutant(mu, { geometry: o.geometry, runs: o.runs, maxOps: o.maxOps }, seed));
    const killed = results.filter((r) => r.killed);
    if (killed.length < results.length) survivors++;
    const oracles = [...new Set(killed.map((r) => `${r.oracle}${r.expectedOracle ? '' : '(!)'}`))].join(',');
    const runs = median(killed.map((r) => r.runsToKill ?? 0));
    const lens = median(killed.map((r) => r.shrunkLength ?? 0));
    allRuns.push(...killed.map((r) => r.runsToKill ?? 0));
    allLens.push(...killed.map((r) => r.shrunkLength ?? 0));
    const name = mu.needsInterleave === true ? `${mu.name} (race)` : mu.name;
    const line = `${name.padEnd(38)} ${`${killed.length}/${results.length}`.padEnd(7)} ${oracles.padEnd(26)} ${String(runs ?? '-').padEnd(14)} ${String(lens ?? '-').padEnd(13)} ${median(results.map((r) => r.ms))}`;
    print(killed.length === results.length ? line : pc.red(line));
    // The fixture: the shortest kill by an oracle the mutant's header expects (any kill if none did).
    const byLength = [...killed].sort((a, b) => (a.shrunkLength ?? 0) - (b.shrunkLength ?? 0));
    const best = byLength.find((r) => r.expectedOracle) ?? byLength[0];
    if (o.fixturesDir !== null && mu.needsInterleave !== true && best?.ops !== null && best !== undefined) {
      const outcome = runOne({ kernel: mu.make, geometry: o.geometry }, best.ops);
      if (!outcome.ok) {
        writeCounterexample(`${o.fixturesDir}/${mu.name}.json`, { format: 'mmcheck-counterexample/1', kernel: mu.name, kernelSpec: mu.name, geometry: o.geometry.name, seed: best.seed, path: '', status: 'shrunk', ops: best.ops, violation: outcome.violation });
      }
    }
  }
  print(`killed ${chosen.length - survivors}/${chosen.length}; median runs to kill ${median(allRuns)}, median shrunk length ${median(allLens)} ops, longest ${Math.max(0, ...allLens)} ops`);
  return survivors === 0 ? 0 : 1;
}
