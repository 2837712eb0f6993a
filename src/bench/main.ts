import { cpus } from 'node:os';
import { geometry } from '../../models/machine/geometry';
import { WORKLOADS } from '../cost/workloads/index';
import { benchCheck } from './checkSpeed';
import { benchWorkloads } from './workloadSpeed';
import { timeMs } from './timing';
import { benchCli } from './cliSpeed';

/**
 * `npm run bench`: how fast mmcheck runs — never part of `npm test`. Machines are noisy, so what
 * it reports are ratios between measurements taken in this one run (same sequences, alternating
 * repetitions, medians), not absolute numbers to compare across runs. About ten minutes; MMCHECK_BENCH_REPS sets the
 * repetitions of the check (default 3).
 */
function main(): void {
  const print = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  const reps = Number(process.env['MMCHECK_BENCH_REPS'] ?? 3);
  print(`mmcheck bench: node ${process.version}, ${cpus()[0]?.model ?? 'unknown cpu'}; ratios are within this run`);
  const total = timeMs(() => {
    print('');
    print(`random check (runCheck, seed 1, up to 60 ops per sequence, the same sequences in each pair of rows; median of ${reps}; ratio = steps/s over the reference alone's; for --interleave, over batched vs reference):`);
    for (const line of benchCheck([{ geometry: geometry('small'), runs: 1500 }, { geometry: geometry('realistic'), runs: 250 }], reps)) print(line);
    print('');
    print(`the CLI, as child processes (bin/mmcheck.js; the build when it is fresh, npm run build), ${cpus().length} cores:`);
    for (const line of benchCli(Math.max(2, cpus().length), 2000, 3000)) print(line);
    print('');
    print('cost workloads, model wall time of the measured phase (realistic, oracles off, median of 15):');
    for (const line of benchWorkloads(WORKLOADS, geometry('realistic'), 15)) print(line);
  });
  print('');
  print(`total ${(total / 1000).toFixed(1)} s`);
}

main();
