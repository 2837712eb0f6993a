import type { Geometry } from '../../models/machine/geometry';
import { BatchedKernel } from '../../models/batched/BatchedKernel';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { runCheck } from '../check/runCheck';
import { median, ratio, row } from './timing';
import type { UncheckedSpeed } from './uncheckedSpeed';
import { uncheckedRun } from './uncheckedSpeed';
import { entriesTouchedPerStep } from './touchedEntries';

/** One configuration of the random check: which kernel runs against what, on which geometry. */
export interface CheckConfig {
  readonly geometry: Geometry;
  /** Sequences per repetition; every configuration of a geometry runs the same ones (same seed). */
  readonly runs: number;
}

interface Speed {
  readonly steps: number;
  readonly sequences: number;
  readonly ms: number;
}

const SEED = 1;
const MAX_OPS = 60;

function once(kernel: () => ReferenceKernel, c: CheckConfig, interleave = false): Speed {
  const r = runCheck({ kernel, reference: () => new ReferenceKernel(), geometry: c.geometry, runs: c.runs, seed: SEED, maxOps: MAX_OPS, interleave });
  if (r.failure !== null) throw new Error(`bench: the check failed on ${c.geometry.name} (${r.failure.outcome.violation.code}); run mmcheck check --seed ${SEED}`);
  return { steps: r.steps, sequences: r.sequences, ms: r.elapsedMs };
}

/**
 * Steps per second of the random check (src/check/runCheck.ts): the reference alone (its
 * per-kernel oracles), the batched kernel against the reference (both kernels, every oracle,
 * the differential observation), and the same with schedule ops (`interleave`, its ratio over the
 * row above: issue 11's target is within 2×). Repetitions alternate between the two so drift hits both; the
 * median time of each is reported. Returns the printed rows.
 */
export function benchCheck(configs: readonly CheckConfig[], reps: number): string[] {
  const lines = [row('geometry   check', 34, ['sequences', 'steps', 'median s', 'steps/s', 'ratio'])];
  const slowdowns: string[] = [];
  const checking: string[] = [];
  const perStep = new Map<string, { checked: number; unchecked: number }>();
  for (const c of configs) {
    once(() => new BatchedKernel(), { ...c, runs: Math.max(1, Math.floor(c.runs / 10)) }); // warm-up: JIT, caches
    const alone: Speed[] = [];
    const diff: Speed[] = [];
    const interleaved: Speed[] = [];
    const unchecked: UncheckedSpeed[] = [];
    for (let i = 0; i < reps; i++) {
      alone.push(once(() => new ReferenceKernel(), c));
      diff.push(once(() => new BatchedKernel(), c));
      unchecked.push(uncheckedRun(c.geometry, c.runs, SEED, MAX_OPS));
      interleaved.push(once(() => new BatchedKernel(), c, true));
    }
    const a = alone[0];
    const d = diff[0];
    if (a === undefined || d === undefined) continue;
    const aMs = median(alone.map((s) => s.ms));
    const dMs = median(diff.map((s) => s.ms));
    const aRate = (a.steps / aMs) * 1000;
    const dRate = (d.steps / dMs) * 1000;
    lines.push(row(`${c.geometry.name.padEnd(10)} reference alone`, 34, [String(a.sequences), String(a.steps), (aMs / 1000).toFixed(2), aRate.toFixed(0), '1.00']));
    lines.push(row(`${c.geometry.name.padEnd(10)} batched vs reference`, 34, [String(d.sequences), String(d.steps), (dMs / 1000).toFixed(2), dRate.toFixed(0), ratio(dRate, aRate)]));
    // The same sequences with no oracle: what checking costs on top of the two kernels' own work.
    const uMs = median(unchecked.map((u) => u.ms));
    const u = unchecked[0]!;
    const uRate = (u.steps / uMs) * 1000;
    lines.push(row(`${c.geometry.name.padEnd(10)} same, unchecked`, 34, [String(u.sequences), String(u.steps), (uMs / 1000).toFixed(2), uRate.toFixed(0), ratio(uRate, aRate)]));
    checking.push(`${c.geometry.name}: a checked step (batched vs reference) costs ${ratio(uRate, dRate)}× an unchecked one (the target: ≤ 3×); ${((1000 * dMs) / d.steps).toFixed(1)} µs checked, ${((1000 * uMs) / u.steps).toFixed(1)} µs unchecked`);
    perStep.set(c.geometry.name, { checked: dMs / d.steps, unchecked: uMs / u.steps });
    // Other sequences (schedule ops among them), so the time per sequence is the fairer figure:
    // the ratio is over the batched-vs-reference row's steps/s.
    const il = interleaved[0];
    if (il === undefined) continue;
    const iMs = median(interleaved.map((s) => s.ms));
    const iRate = (il.steps / iMs) * 1000;
    lines.push(row(`${c.geometry.name.padEnd(10)} same, --interleave`, 34, [String(il.sequences), String(il.steps), (iMs / 1000).toFixed(2), iRate.toFixed(0), ratio(iRate, dRate)]));
    // What a user waits for: the same number of sequences, with and without schedule ops (their
    // chunks are longer and their ops cheaper, so steps/s alone flatters the interleaved check).
    slowdowns.push(`${c.geometry.name}: --interleave takes ${(iMs / dMs).toFixed(2)}× the time of the plain batched check for ${il.sequences} sequences (the target: ≤ 2×, docs/concurrency.md)`);
  }
  const small = perStep.get('small');
  const realistic = perStep.get('realistic');
  const scale: string[] = [];
  if (small !== undefined && realistic !== undefined) {
    scale.push(`realistic / small per step: ${(realistic.checked / small.checked).toFixed(1)}× checked, ${(realistic.unchecked / small.unchecked).toFixed(1)}× unchecked (the target: ≤ 5× checked)`);
    // What an op touches grows with the geometry (a zap or a fork of a 512-PTE table): the cost
    // per page-table entry written says whether checking grows with the work or with the machine.
    const cs = configs.find((c) => c.geometry.name === 'small');
    const cr = configs.find((c) => c.geometry.name === 'realistic');
    const es = cs === undefined ? 0 : entriesTouchedPerStep(cs.geometry, cs.runs, SEED, MAX_OPS);
    const er = cr === undefined ? 0 : entriesTouchedPerStep(cr.geometry, cr.runs, SEED, MAX_OPS);
    if (es > 0 && er > 0) {
      const perEntry = (p: { checked: number; unchecked: number }, e: number): { checked: number; unchecked: number } => ({ checked: p.checked / e, unchecked: p.unchecked / e });
      const ps = perEntry(small, es);
      const pr = perEntry(realistic, er);
      scale.push(
        `page-table entries written per step (batched): small ${es.toFixed(2)}, realistic ${er.toFixed(2)}; per entry written, realistic / small: ${(pr.checked / ps.checked).toFixed(2)}× checked, ${(pr.unchecked / ps.unchecked).toFixed(2)}× unchecked (${(1000 * ps.checked).toFixed(1)} and ${(1000 * pr.checked).toFixed(1)} µs checked per entry)`,
      );
    }
  }
  return [...lines, ...checking, ...scale, ...slowdowns];
}
