import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { geometry } from '../models/machine/geometry';
import type { Op, OpKind } from '../src/ops/op';
import { opsArb } from '../src/arbitraries/ops';
import { fullLengthArrayArb, fullLengthChunksArb } from '../src/arbitraries/fullLength';
import { chunksOf, uniformProfile } from '../src/arbitraries/profile';
import { hotPage } from '../src/arbitraries/targets';
import { FocusError, applyFocus, applyWeights, parseFocus, parseWeights } from '../src/arbitraries/focus';
import type { Generation } from '../src/check/generation';
import { sequencesArb } from '../src/check/generation';
import { runCheck } from '../src/check/runCheck';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { batchPastFolioEnd } from '../models/mutants/batchPastFolioEnd';

const G = geometry('small');
const gen = (mode: Generation['mode'], more: Partial<Generation> = {}): Generation => ({ mode, focus: [], weights: {}, ...more });
const sample = (g: Generation, n = 300, interleave = false): Op[][] => fc.sample(sequencesArb(G, 60, g, interleave), { seed: 5, numRuns: n });
const has = (s: readonly Op[], kind: OpKind): boolean => s.some((op) => op.kind === kind);
const share = (seqs: readonly Op[][], test: (s: readonly Op[]) => boolean): number => seqs.filter(test).length / seqs.length;

describe('full-length sequences', () => {
  it('are drawn at full length and still shrink to one item (the 1..max array shrinks the fixed one)', () => {
    const arb = fullLengthArrayArb(fc.integer({ min: 0, max: 100 }), 20);
    expect(fc.sample(arb, { seed: 1, numRuns: 50 }).every((xs) => xs.length === 20)).toBe(true);
    const r = fc.check(fc.property(arb, (xs) => xs.every((x) => x <= 50)), { seed: 1 });
    expect(r.failed).toBe(true);
    expect(r.counterexample![0]).toEqual([51]);
  });

  it('drawn as chunks, keep only the chunks the sequence shows, so dropping one brings no unseen items in', () => {
    // Chunks of one or two copies of a number that never shrinks: a shrink candidate can only drop
    // chunks, and a cut last chunk hides only a copy of a shown number. Drawn with the surplus
    // chunks kept (cut off by a map, as before), dropping a chunk pulled unseen numbers in at the end.
    const chunk = fc.noShrink(fc.tuple(fc.integer({ min: 0, max: 1e9 }), fc.boolean())).map(([x, two]) => (two ? [x, x] : [x]));
    const unseenAfterShrink = (arb: fc.Arbitrary<number[]>): number => {
      let original: Set<number> | null = null;
      let unseen = 0;
      fc.check(
        fc.property(arb, (xs) => {
          if (original !== null) {
            unseen += xs.filter((x) => !original!.has(x)).length;
            return true;
          }
          original = new Set(xs);
          return false; // fails the first draw only: every first shrink candidate is then tried
        }),
        { seed: 1 },
      );
      return unseen;
    };
    expect(unseenAfterShrink(fullLengthChunksArb(chunk, 21))).toBe(0);
    expect(unseenAfterShrink(fullLengthArrayArb(chunk, 21).map((cs) => cs.flat().slice(0, 21)))).toBeGreaterThan(0);
    expect(fc.sample(fullLengthChunksArb(chunk, 21), { seed: 1, numRuns: 20 }).every((xs) => xs.length === 21)).toBe(true);
  });

  it('every generated op sequence has maxOps ops', () => {
    for (const mode of ['uniform', 'swarm'] as const) expect(sample(gen(mode), 40).every((s) => s.length === 60)).toBe(true);
    expect(sample(gen('uniform'), 40, true).every((s) => s.length === 60)).toBe(true);
  });
});

describe('uniform generation', () => {
  it('is the default-weights arbitrary itself (same seed, same sequences)', () => {
    expect(sample(gen('uniform'), 30)).toEqual(fc.sample(opsArb(G, 60, { profile: uniformProfile(G) }), { seed: 5, numRuns: 30 }));
  });
});

describe('a change between two accesses', () => {
  // The stale-TLB shape (changeBetweenAccesses.ts): drawn op by op, a hot-page access, a migration
  // of the hot pages and another hot-page access lined up in 2 of 300 sequences.
  const hot = hotPage(G);
  const onHot = (op: Op): boolean => op.kind === 'access' && (op.vpn === hot || op.vpn === hot + 1);
  const between = (kind: OpKind) => (s: readonly Op[]): boolean => s.some((op, i) => onHot(op) && s[i + 1]?.kind === kind && s[i + 2] !== undefined && onHot(s[i + 2]!));

  it('puts an op on the hot pages between two accesses to them in many plain sequences', () => {
    const seqs = sample(gen('uniform'));
    for (const kind of ['migrate', 'mprotect', 'zap'] as const) expect(share(seqs, between(kind))).toBeGreaterThan(0.15);
  });

  it('is left out with its accesses (--weights access=0), and not drawn with --interleave', () => {
    expect(sample(gen('uniform', { weights: { access: 0 } })).some(between('migrate'))).toBe(false);
    expect(applyWeights(uniformProfile(G), { access: 0 }).chunks['change between two accesses']).toBe(0);
    expect(chunksOf(true)).not.toContain('change between two accesses');
  });
});

describe('swarm generation', () => {
  // Swarm testing's point: some sequences leave whole kinds out. A fixed mix of 22 kinds almost
  // never does in a long sequence; a swarm leaves each out of about half of them.
  it('leaves op kinds out of long sequences that a fixed mix always has', () => {
    const long = (seqs: Op[][]): Op[][] => seqs.filter((s) => s.length >= 40);
    const uniform = long(sample(gen('uniform')));
    const swarm = long(sample(gen('swarm')));
    expect(uniform.length).toBeGreaterThan(50);
    expect(swarm.length).toBeGreaterThan(50);
    for (const kind of ['fork', 'migrate', 'zap', 'mprotect'] as const) {
      // (13%, 6%, 2% and 7% of uniform sequences lack them; tick, whose one entry weighs 2 of about
      // 80, is missing from a third already, so it does not show the difference)
      expect(share(uniform, (s) => !has(s, kind))).toBeLessThan(0.3);
      expect(share(swarm, (s) => !has(s, kind))).toBeGreaterThan(0.35);
    }
  });

  it('draws the CPUs and mms a sequence names per sequence: some use one CPU only', () => {
    const cpus = (s: readonly Op[]): Set<number> => new Set(s.flatMap((op) => ('cpu' in op ? [op.cpu] : [])));
    const swarm = sample(gen('swarm')).filter((s) => s.filter((op) => 'cpu' in op).length >= 8);
    const uniform = sample(gen('uniform')).filter((s) => s.filter((op) => 'cpu' in op).length >= 8);
    expect(share(swarm, (s) => cpus(s).size === 1)).toBeGreaterThan(0.1);
    expect(share(uniform, (s) => cpus(s).size === 1)).toBe(0);
  });
});

describe('focus and weights', () => {
  it('a focus multiplies the weight of its ops, and swarm never leaves them out', () => {
    const migrations = (seqs: Op[][]): number => seqs.flat().filter((op) => op.kind === 'migrate').length / seqs.flat().length;
    expect(migrations(sample(gen('uniform', { focus: ['migration'] })))).toBeGreaterThan(2 * migrations(sample(gen('uniform'))));
    const focused = sample(gen('swarm', { focus: ['migrate'] })).filter((s) => s.length >= 40);
    expect(share(focused, (s) => has(s, 'migrate'))).toBeGreaterThan(0.9);
  });

  it('--weights sets a kind to n, and 0 takes it out, with the race chunks that emit it', () => {
    const none = sample(gen('uniform', { weights: { fork: 0 } }), 200, true);
    expect(none.some((s) => has(s, 'fork'))).toBe(false);
    const p = applyWeights(uniformProfile(G), { mremap: 12 });
    expect(p.entries.mremap + p.entries['mremap straddling a table'] + p.entries['mremap whole PMDs']).toBe(12);
    expect(applyWeights(uniformProfile(G), { fork: 0 }).chunks['preempted COW']).toBe(0);
  });

  it('unknown focus names and malformed weights are refused, naming the valid choices', () => {
    expect(() => parseFocus(['gupp'])).toThrow(FocusError);
    expect(() => parseFocus(['gupp'])).toThrow(/areas cow, fork, gup/);
    expect(() => parseWeights('fork=x')).toThrow(/kind=n/);
    expect(() => parseWeights('forks=1')).toThrow(FocusError);
    expect(parseWeights('fork=3, zap=0')).toEqual({ fork: 3, zap: 0 });
    expect(applyFocus(uniformProfile(G), parseFocus(['gup'])).entries.gup).toBe(4 * uniformProfile(G).entries.gup);
  });
});

describe('guided generation', () => {
  const check = (seed: number) => runCheck({ kernel: () => new BatchedKernel(), geometry: G, runs: 60, seed, maxOps: 30, generation: gen('guided') });

  it('is deterministic for a seed: the same sequences, coverage and corpus', () => {
    const a = check(9);
    const b = check(9);
    expect(b.steps).toBe(a.steps);
    expect(b.coverage).toEqual(a.coverage);
    expect(b.guided).toEqual(a.guided);
    expect(a.guided!.corpus).toBeGreaterThan(5);
    expect(a.guided!.mutated).toBeGreaterThan(15);
  });

  it('finds a failure and hands it to fast-check, which shrinks it', () => {
    const r = runCheck({ kernel: batchPastFolioEnd.make, geometry: G, runs: 3000, seed: 1, maxOps: 60, generation: gen('guided') });
    expect(r.failure).not.toBeNull();
    expect(batchPastFolioEnd.caughtBy).toContain(r.failure!.outcome.violation.code);
    expect(r.failure!.ops.length).toBeLessThanOrEqual(10);
    expect(r.failure!.ops.length).toBeLessThan(r.failure!.originalLength);
  });
});
