import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { geometry, GEOMETRY_NAMES } from '../../models/machine/geometry';
import { KERNELS, kernelEntry } from '../../models/registry';
import { describeViolation } from '../../models/machine/violation';
import { runCheck } from '../check/runCheck';
import { writeCounterexample } from '../counterexample/file';
import { parseGeometry, parsePositiveInt, parseSeed } from '../cli/options';
import { UsageError } from '../cli/usageError';
import { resetSerialStats, serialStats } from '../oracles/serialisable';

/**
 * `npm run soak`: the long run that says whether the correct kernels really hold — never part of
 * `npm test`. Every (kernel, geometry) pair gets its share of a total step budget, spent as
 * checks of `--runs` sequences on consecutive seeds, cycling the longest sequence through
 * MAX_OPS so short and long sequences both get their turn. Any failure is saved under
 * `.mmcheck/soak/` and makes the exit code 1: on a correct kernel it is a bug to root-cause.
 */

const MAX_OPS = [20, 60, 150] as const;
/** By default every kernel registered as correct (role 'kernel'): each must hold, so each is soaked. */
const CORRECT_KERNELS = KERNELS.filter((k) => k.role === 'kernel').map((k) => k.name);
/** realistic costs about 35× small per step, so it gets a small share of the steps (still tens of thousands of sequences). */
const SHARE: Readonly<Record<string, number>> = { small: 0.95, realistic: 0.05 };

interface PairTotal {
  kernel: string;
  geometry: string;
  checks: number;
  sequences: number;
  steps: number;
  ms: number;
  failures: string[];
}

const OPTIONS = {
  steps: { type: 'string', default: '10000000' },
  kernels: { type: 'string', default: CORRECT_KERNELS.join(',') },
  geometries: { type: 'string', default: GEOMETRY_NAMES.join(',') },
  'first-seed': { type: 'string', default: '1' },
  runs: { type: 'string', default: '500' },
  // Schedule ops too: kernel tasks preempted in their windows (docs/concurrency.md).
  interleave: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

const USAGE = `usage: npm run soak -- [--steps N] [--kernels a,b] [--geometries ${GEOMETRY_NAMES.join(',')}] [--first-seed S] [--runs N] [--interleave]
  --steps N        total step budget, shared by the (kernel, geometry) pairs (default 10000000)
  --kernels a,b    kernels to soak (default: every correct kernel: ${CORRECT_KERNELS.join(', ')})
  --geometries g   ${GEOMETRY_NAMES.join(', ')} (default: both)
  --first-seed S   first seed; each check takes the next (default 1)
  --runs N         sequences per check (default 500)
  --interleave     schedule ops too: kernel tasks preempted in their windows`;

/** parseArgs, with its own errors (an unknown option, a missing value) turned into a usage error. */
function parseOptions(): ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'] {
  try {
    return parseArgs({ options: OPTIONS }).values;
  } catch (e) {
    const names = Object.keys(OPTIONS).map((o) => `--${o}`).join(', ');
    throw new UsageError(`${e instanceof Error ? e.message : String(e)}; valid options: ${names}`);
  }
}

function main(): number {
  const values = parseOptions();
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const total = parsePositiveInt('--steps', values.steps);
  const firstSeed = parseSeed(values['first-seed'], '--first-seed');
  const runs = parsePositiveInt('--runs', values.runs);
  const kernels = values.kernels.split(',');
  const geometries = values.geometries.split(',');
  for (const k of kernels) {
    if (!KERNELS.some((e) => e.name === k)) throw new UsageError(`unknown kernel '${k}'; registered kernels: ${KERNELS.map((e) => e.name).join(', ')}`);
  }
  for (const g of geometries) parseGeometry(g);
  const shareSum = geometries.reduce((s, g) => s + (SHARE[g] ?? 0.1), 0);
  const out = '.mmcheck/soak';
  mkdirSync(out, { recursive: true });
  const print = (s: string): void => {
    process.stdout.write(`${s}\n`);
  };
  print(`mmcheck soak: ${total} steps over ${kernels.join(', ')} × ${geometries.join(', ')}, seeds from ${firstSeed}, ${runs} sequences per check, max ops cycling ${MAX_OPS.join('/')}${values.interleave ? ', interleaved (schedule ops on)' : ''}`);
  const totals: PairTotal[] = [];
  for (const g of geometries) {
    for (const k of kernels) {
      const entry = kernelEntry(k);
      const target = (total * (SHARE[g] ?? 0.1)) / shareSum / kernels.length;
      const t: PairTotal = { kernel: k, geometry: g, checks: 0, sequences: 0, steps: 0, ms: 0, failures: [] };
      resetSerialStats();
      for (let seed = firstSeed; t.steps < target; seed++) {
        const maxOps = MAX_OPS[(seed - firstSeed) % MAX_OPS.length]!;
        const r = runCheck({ kernel: entry.make, geometry: geometry(g), runs, seed, maxOps, ...(values.interleave ? { interleave: true } : {}) });
        t.checks++;
        t.sequences += r.sequences;
        t.steps += r.steps;
        t.ms += r.elapsedMs;
        // A failure that did not happen again on re-run (FLAKY) is a failure of the soak, never a pass.
        const f = r.failure ?? r.flaky;
        if (f !== null) {
          const file = `${out}/${k}-${g}-seed${seed}-max${maxOps}.json`;
          writeCounterexample(file, { format: 'mmcheck-counterexample/1', kernel: k, kernelSpec: k, geometry: geometry(g).name, seed, path: r.failure?.path ?? '', status: r.failure?.fullyShrunk === true ? 'shrunk' : 'found', ops: f.ops, violation: f.outcome.violation });
          const what = r.failure !== null ? 'FAILURE' : 'FLAKY';
          t.failures.push(`${what} seed ${seed} max-ops ${maxOps}: ${describeViolation(f.outcome.violation)} (${f.ops.length} ops) → ${file}`);
          print(`  ${what} ${k} ${g} seed ${seed} max-ops ${maxOps}: ${describeViolation(f.outcome.violation)} → ${file}`);
        }
      }
      totals.push(t);
      print(`  ${k.padEnd(18)} ${g.padEnd(10)} ${String(t.checks).padStart(5)} checks ${String(t.sequences).padStart(8)} sequences ${String(t.steps).padStart(10)} steps ${(t.ms / 1000).toFixed(0).padStart(6)} s  ${t.failures.length} failures`);
      // A property that never reaches its state proves nothing: say how many windows the
      // serialisability oracle checked in the kernel's own runs, and why it skipped the others.
      if (values.interleave) print(`  ${''.padEnd(29)} windows: ${windowsLine(serialStats(entry.make().name), t.steps)}`);
    }
  }
  const all = totals.reduce((s, t) => ({ seq: s.seq + t.sequences, steps: s.steps + t.steps, fail: s.fail + t.failures.length }), { seq: 0, steps: 0, fail: 0 });
  print(`total: ${all.seq} sequences, ${all.steps} steps, ${all.fail} failures`);
  for (const t of totals) for (const f of t.failures) print(`  ${t.kernel} ${t.geometry}: ${f}`);
  return all.fail === 0 ? 0 : 1;
}

function windowsLine(c: ReturnType<typeof serialStats>, steps: number): string {
  const per = (n: number): string => (steps === 0 ? '0' : ((n * 1000) / steps).toFixed(1));
  const skipped = Object.entries(c.skipped).filter(([, n]) => n > 0);
  const total = skipped.reduce((s, [, n]) => s + n, 0);
  return `${c.checked} serialisable (${per(c.checked)} per 1,000 steps), ${total} skipped (${per(total)}${skipped.length > 0 ? `: ${skipped.map(([r, n]) => `${r} ${n}`).join(', ')}` : ''})`;
}

/** Bad input: one line naming what is wrong and the valid choices, exit 2, nothing run. */
function mainOrUsage(): number {
  try {
    return main();
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`mmcheck soak: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

process.exitCode = mainOrUsage();
