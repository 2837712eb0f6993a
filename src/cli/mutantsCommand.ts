import max from 'lodash/max.js';
import sum from 'lodash/sum.js';
import sumBy from 'lodash/sumBy.js';
import uniq from 'lodash/uniq.js';
import pc from 'picocolors';
import { MUTANTS } from '../../models/mutants/index';
import { RACE_MUTANTS } from '../../models/mutants/race/index';
import { RARE_MUTANTS } from '../../models/mutants/rare/index';
import type { Geometry } from '../../models/machine/geometry';
import type { MutantSpec } from '../../models/mutants/mutant';
import { writeCounterexample } from '../counterexample/file';
import type { KillResult } from '../mutants/killMutant';
import { killMutant, median } from '../mutants/killMutant';
import { runOne } from '../check/runCheck';
import type { GenerationMode } from '../check/generation';
import { UsageError } from './usageError';
import type { CommandData, Report, ResultCase } from '../schema/report';
import { REPORT_FORMAT } from '../schema/report';

export interface MutantsCommandOptions {
  readonly geometry: Geometry;
  readonly runs: number;
  readonly maxOps: number;
  readonly seeds: readonly number[];
  readonly only: readonly string[];
  /** Write each mutant's shortest counterexample to this directory (the committed fixtures). */
  readonly fixturesDir: string | null;
  /** The generation modes to run each mutant under (one column group each); the first decides the exit code and the fixtures. */
  readonly modes: readonly GenerationMode[];
}

/** Every registered mutant: the plain ones, the races (need --interleave) and the rare combinations. */
export const ALL_MUTANTS: readonly MutantSpec[] = [...MUTANTS, ...RACE_MUTANTS, ...RARE_MUTANTS];

/**
 * `mmcheck mutants`: the kill matrix. Each mutant runs the standard properties once per seed
 * within the budget, under each generation mode asked for; per mutant and mode it reports the
 * oracle that fired, the median sequences to the first failure, the median shrunk length and the
 * median seconds (find and shrink). Exit 1 if any mutant survives a seed in the first mode.
 */
export function mutantsCommand(o: MutantsCommandOptions, print: (s: string) => void): MutantsReport {
  const started = Date.now();
  const tests: ResultCase[] = [];
  const rows: CommandData<'mutants'>['mutants'] = [];
  const unknown = o.only.filter((n) => !ALL_MUTANTS.some((mu) => mu.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown mutant(s) ${unknown.join(', ')}; registered: ${ALL_MUTANTS.map((mu) => mu.name).join(', ')}`);
  const chosen = ALL_MUTANTS.filter((mu) => o.only.length === 0 || o.only.includes(mu.name));
  print(pc.bold(`kill matrix: ${chosen.length} mutants × ${o.seeds.length} seeds, budget ${o.runs} sequences of up to ${o.maxOps} ops, geometry ${o.geometry.name}, modes ${o.modes.join(', ')}`));
  print(`${'mutant'.padEnd(38)} ${'mode'.padEnd(8)} ${'killed'.padEnd(7)} ${'oracle'.padEnd(26)} ${'seqs (median)'.padEnd(14)} ${'ops (median)'.padEnd(13)} s (median)`);
  const totals = new Map<GenerationMode, { runs: number[]; lens: number[]; secs: number[]; survivors: number; slowest: { name: string; runs: number } | null }>(
    o.modes.map((m) => [m, { runs: [], lens: [], secs: [], survivors: 0, slowest: null }]),
  );
  for (const mu of chosen) {
    o.modes.forEach((mode, mi) => {
      const results: KillResult[] = o.seeds.map((seed) => killMutant(mu, { geometry: o.geometry, runs: o.runs, maxOps: o.maxOps, generation: { mode, focus: [], weights: {} } }, seed));
      const t = totals.get(mode)!;
      const killed = results.filter((r) => r.killed);
      if (killed.length < results.length) t.survivors++;
      const oracles = uniq(killed.map((r) => `${r.oracle}${r.expectedOracle ? '' : '(!)'}`)).join(',');
      // A seed that survived counts as the whole budget: the median says how hard it was to kill.
      const runs = median(results.map((r) => r.runsToKill ?? o.runs));
      const lens = median(killed.map((r) => r.shrunkLength ?? 0));
      const secs = median(results.map((r) => r.ms / 1000)) ?? 0;
      t.runs.push(...results.map((r) => r.runsToKill ?? o.runs));
      t.lens.push(...killed.map((r) => r.shrunkLength ?? 0));
      t.secs.push(secs);
      if (runs !== null && (t.slowest === null || runs > t.slowest.runs)) t.slowest = { name: mu.name, runs };
      const kind = mu.needsInterleave === true ? 'race' : RARE_MUTANTS.includes(mu) ? 'rare' : 'plain';
      const name = mi > 0 ? '' : kind === 'plain' ? mu.name : `${mu.name} (${kind})`;
      const line = `${name.padEnd(38)} ${mode.padEnd(8)} ${`${killed.length}/${results.length}`.padEnd(7)} ${oracles.padEnd(26)} ${String(runs ?? '-').padEnd(14)} ${String(lens ?? '-').padEnd(13)} ${secs.toFixed(2)}`;
      print(killed.length === results.length ? line : pc.red(line));
      if (mi === 0) writeFixture(o, mu, killed);
      const all = killed.length === results.length;
      const survived = results.filter((r) => !r.killed).map((r) => r.seed);
      tests.push({ name: `mutant ${mu.name} (${mode})`, status: all ? 'pass' : 'fail', message: all ? null : `survived seed${survived.length > 1 ? 's' : ''} ${survived.join(', ')} within ${o.runs} sequences`, details: all ? [] : [line], elapsedMs: Math.round(sumBy(results, (r) => r.ms)) });
      rows.push({
        name: mu.name,
        kind,
        mode,
        killed: killed.length,
        seeds: results.length,
        oracles: uniq(killed.map((r) => r.oracle ?? '')),
        unexpectedOracle: killed.some((r) => !r.expectedOracle),
        medianSequences: runs ?? o.runs,
        medianShrunkOps: lens,
        medianSeconds: secs,
        results: results.map((r) => ({ seed: r.seed, killed: r.killed, oracle: r.oracle, sequences: r.runsToKill, shrunkOps: r.shrunkLength })),
      });
    });
  }
  for (const [mode, t] of totals) {
    print(`${mode}: killed ${chosen.length - t.survivors}/${chosen.length} on every seed; median sequences to kill ${median(t.runs)} (slowest mutant ${t.slowest?.name ?? '-'}, median ${t.slowest?.runs ?? '-'}), median shrunk length ${median(t.lens)} ops, longest ${max(t.lens) ?? 0} ops; median seconds per mutant ${(median(t.secs) ?? 0).toFixed(2)}, total ${sum(t.secs).toFixed(0)}`);
  }
  const exitCode = totals.get(o.modes[0]!)!.survivors === 0 ? 0 : 1;
  return { format: REPORT_FORMAT, command: 'mutants', exitCode, elapsedMs: Date.now() - started, tests, data: { geometry: o.geometry.name, runs: o.runs, maxOps: o.maxOps, seeds: [...o.seeds], modes: [...o.modes], mutants: rows } };
}

/** The kill matrix's result: exit 1 if a mutant survived a seed in the first mode. */
export type MutantsReport = Extract<Report, { command: 'mutants' }>;

/** The fixture: the shortest kill by an oracle the mutant's header expects (any kill if none did). */
function writeFixture(o: MutantsCommandOptions, mu: MutantSpec, killed: readonly KillResult[]): void {
  const byLength = [...killed].sort((a, b) => (a.shrunkLength ?? 0) - (b.shrunkLength ?? 0));
  const best = byLength.find((r) => r.expectedOracle) ?? byLength[0];
  if (o.fixturesDir === null || mu.needsInterleave === true || best?.ops === null || best === undefined) return;
  const outcome = runOne({ kernel: mu.make, geometry: o.geometry }, best.ops);
  if (!outcome.ok) {
    writeCounterexample(`${o.fixturesDir}/${mu.name}.json`, { format: 'mmcheck-counterexample/1', kernel: mu.name, kernelSpec: mu.name, geometry: o.geometry.name, seed: best.seed, path: '', status: 'shrunk', ops: best.ops, violation: outcome.violation });
  }
}
