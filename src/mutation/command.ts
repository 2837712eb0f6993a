/**
 * The check Stryker runs for every mutant of models/batched/ (`npm run mutation`,
 * stryker.config.json, docs/mutation.md). Stryker's command runner starts one process per mutant
 * and reads only the exit code: 0 = the mutant survived, anything else = killed.
 *
 * First the hand-written corpus (corpus.ts: states the generator almost never builds), on every
 * kernel of models/batched/; then a fixed, deterministic budget (same seeds, same sequences for
 * every mutant): the batched kernel plain and with schedule ops (`--interleave`), then the three kernels whose own files sit in
 * models/batched/ (BatchedNoMigrc.ts, BatchedNoRcuTableFree.ts, gupRuns.ts), which the default
 * check never runs. The process exits 1 at the first failing sequence, without shrinking: Stryker
 * needs the verdict, not the counterexample, and shrinking would cost more than the search.
 *
 * With MMCHECK_MUTATION_LOG set to a file, each kill appends one JSON line (mutant id, phase,
 * sequences to kill, violation code): the data the budget was chosen from (docs/mutation.md).
 */
import { appendFileSync } from 'node:fs';
import { runCheck, runOne } from '../check/runCheck';
import { MUTATION_CORPUS } from './corpus';
import { geometry } from '../../models/machine/geometry';
import { KERNELS } from '../../models/registry';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';

/** One part of the budget: a registered kernel, how many sequences, with schedule ops or not. */
export interface MutationPhase {
  readonly kernel: string;
  readonly runs: number;
  readonly interleave: boolean;
  readonly seed: number;
}

/**
 * The budget. Chosen so that a surviving mutant costs about 2.3 s on one core (about 0.8 s of it
 * starting node and tsx; models/batched/ has about 1,450 mutants), which keeps all of models/batched/ well under an hour; docs/mutation.md
 * gives the sequences-to-kill figures it was checked against.
 */
export const MUTATION_PHASES: readonly MutationPhase[] = [
  { kernel: 'batched', runs: 20, interleave: false, seed: 1 },
  { kernel: 'batched', runs: 8, interleave: true, seed: 2 },
  { kernel: 'batched-no-migrc', runs: 3, interleave: false, seed: 3 },
  { kernel: 'batched-no-rcu-table-free', runs: 3, interleave: false, seed: 4 },
  { kernel: 'batched-gup-runs', runs: 3, interleave: false, seed: 5 },
];

/** Longest sequence: the default check's. */
const MAX_OPS = 60;

function kernelMaker(name: string): () => ReferenceKernel {
  const entry = KERNELS.find((k) => k.name === name);
  if (entry === undefined) throw new Error(`mutation command: no registered kernel '${name}'`);
  return entry.make;
}

/** The kernels that run the code of models/batched/ (batched-6.15 inherits it): the corpus runs on each. */
const CORPUS_KERNELS: readonly string[] = ['batched', 'batched-no-migrc', 'batched-no-rcu-table-free', 'batched-gup-runs', 'batched-6.15'];

function logKill(kill: { readonly kernel: string; readonly interleave: boolean; readonly sequences: number; readonly code: string; readonly corpus?: string }): void {
  const file = process.env['MMCHECK_MUTATION_LOG'];
  if (file === undefined || file === '') return;
  const mutant = process.env['__STRYKER_ACTIVE_MUTANT__'] ?? null;
  appendFileSync(file, `${JSON.stringify({ mutant, ...kill })}\n`);
}

/** Run the corpus; exit 1 at the first entry that fails on any kernel. */
function runCorpus(): void {
  const small = geometry('small');
  for (const name of CORPUS_KERNELS) {
    const kernel = kernelMaker(name);
    for (const entry of MUTATION_CORPUS) {
      const outcome = runOne({ kernel, geometry: small, ...(entry.machine !== undefined ? { machine: entry.machine } : {}) }, entry.ops);
      if (outcome.ok) continue;
      logKill({ kernel: name, interleave: false, sequences: 0, code: outcome.violation.code, corpus: entry.name });
      process.stdout.write(`killed: corpus ${entry.name} on ${name}, ${outcome.violation.code}\n`);
      process.exit(1);
    }
  }
}

/** Run the corpus, then every phase; exit 1 at the first failing sequence, 0 when all hold. */
function main(): void {
  runCorpus();
  const small = geometry('small');
  for (const phase of MUTATION_PHASES) {
    let sequences = 0;
    runCheck({
      kernel: kernelMaker(phase.kernel),
      geometry: small,
      runs: phase.runs,
      seed: phase.seed,
      maxOps: MAX_OPS,
      interleave: phase.interleave,
      onProgress: (done) => {
        sequences = done;
      },
      onFailure: (_ops, outcome, when) => {
        if (when !== 'found' || outcome.ok) return;
        logKill({ kernel: phase.kernel, interleave: phase.interleave, sequences, code: outcome.violation.code });
        process.stdout.write(`killed: ${phase.kernel}${phase.interleave ? ' --interleave' : ''}, sequence ${sequences}, ${outcome.violation.code}\n`);
        process.exit(1);
      },
    });
  }
  process.stdout.write('survived\n');
}

main();
