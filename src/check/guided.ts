import fc from 'fast-check';
import type { Op } from '../ops/op';
import type { CoverageTracker } from '../coverage/probes';
import { assertNever } from '../../models/assertNever';

/**
 * Guided mode (`--guided`): coverage-guided search in the manner of AFL and libFuzzer, over op
 * sequences. A corpus keeps every sequence that reached something no earlier sequence had: a
 * probe or tracepoint, a tracepoint fired a new order of magnitude of times, a watched method of
 * the kernel under test (a variant's overrides), or a new pair of probes and tracepoints reached
 * together. Half the budget draws fresh sequences (the fixed mix); the rest mutates corpus entries —
 * extends them, inserts ops, deletes a block, repeats a block, replaces an op, or splices two —
 * so a sequence that built a rare state is built on instead of being left to chance again.
 *
 * Every random choice comes from fast-check samples seeded from the check's seed, so a seed gives
 * the same sequences, corpus and counterexample. Shrinking is not done here: the failing sequence
 * goes to fast-check as an example (runCheck).
 */
export interface GuidedSearch {
  readonly seed: number;
  readonly runs: number;
  readonly maxOps: number;
  /** No new sequence starts after this time (ms since the epoch). */
  readonly deadline: number | null;
  /** Fresh sequences (the check's own arbitrary). */
  readonly fresh: fc.Arbitrary<Op[]>;
  /** Short runs of ops to insert or append (a few ops from the same arbitrary). */
  readonly extra: fc.Arbitrary<Op[]>;
  /** Run one sequence; false when it failed (the search stops there). */
  readonly run: (ops: readonly Op[]) => { readonly ok: boolean; readonly features: readonly string[] };
}

export interface GuidedResult {
  /** The first failing sequence, or null. */
  readonly failing: readonly Op[] | null;
  /** Sequences run. */
  readonly sequences: number;
  readonly corpusSize: number;
  /** Sequences run that were mutations of the corpus (the rest were fresh). */
  readonly mutated: number;
  readonly interrupted: boolean;
}

/** Share of the budget (in percent) that draws fresh sequences once the corpus is not empty. */
const FRESH_PERCENT = 50;
/** Plans are sampled in blocks, each from its own seed derived from the check's. */
const BLOCK = 64;

const MUTATIONS = ['extend', 'insert', 'delete', 'repeat', 'replace', 'splice'] as const;
type Mutation = (typeof MUTATIONS)[number];

interface Plan {
  readonly fresh: Op[];
  readonly extra: Op[];
  readonly choice: number;
  readonly mutation: Mutation;
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly len: number;
}

interface Entry {
  readonly ops: readonly Op[];
  /** The features this entry was the first to reach. */
  readonly added: readonly string[];
}

export function guidedSearch(s: GuidedSearch): GuidedResult {
  const plan: fc.Arbitrary<Plan> = fc.record({
    fresh: s.fresh,
    extra: s.extra,
    choice: fc.nat(99),
    mutation: fc.constantFrom(...MUTATIONS),
    a: fc.nat(),
    b: fc.nat(),
    c: fc.nat(),
    len: fc.integer({ min: 1, max: 8 }),
  });
  const seen = new Map<string, number>();
  const corpus: Entry[] = [];
  let sequences = 0;
  let mutated = 0;
  for (let block = 0; sequences < s.runs; block++) {
    const plans = fc.sample(plan, { seed: blockSeed(s.seed, block), numRuns: Math.min(BLOCK, s.runs - sequences) });
    for (const p of plans) {
      if (s.deadline !== null && Date.now() >= s.deadline) return { failing: null, sequences, corpusSize: corpus.length, mutated, interrupted: true };
      const fromCorpus = corpus.length > 0 && p.choice >= FRESH_PERCENT;
      const ops = fromCorpus ? mutate(p, corpus, s.maxOps, seen) : p.fresh;
      if (fromCorpus) mutated++;
      sequences++;
      const r = s.run(ops);
      if (!r.ok) return { failing: ops, sequences, corpusSize: corpus.length, mutated, interrupted: false };
      const added: string[] = [];
      for (const f of r.features) {
        const n = seen.get(f) ?? 0;
        if (n === 0) added.push(f);
        seen.set(f, n + 1);
      }
      if (added.length > 0) corpus.push({ ops, added });
    }
  }
  return { failing: null, sequences, corpusSize: corpus.length, mutated, interrupted: false };
}

function blockSeed(seed: number, block: number): number {
  // A different stream per block, and for each check seed a different one again.
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(block + 1, 0xc2b2ae35)) | 0;
}

/**
 * The parent: the better of two random entries, where an entry is worth more the rarer the
 * features it was first to reach are now (a tournament, so picking costs two entries' features).
 */
function pickParent(corpus: readonly Entry[], a: number, b: number, seen: ReadonlyMap<string, number>): Entry {
  const x = corpus[a % corpus.length]!;
  const y = corpus[b % corpus.length]!;
  const worth = (e: Entry): number => e.added.reduce((w, f) => w + 1 / (seen.get(f) ?? 1), 0);
  return worth(x) >= worth(y) ? x : y;
}

function mutate(p: Plan, corpus: readonly Entry[], maxOps: number, seen: ReadonlyMap<string, number>): readonly Op[] {
  const parent = pickParent(corpus, p.a, p.b, seen).ops;
  const at = p.c % (parent.length + 1);
  let out: readonly Op[];
  switch (p.mutation) {
    case 'extend':
      out = [...parent, ...p.extra];
      break;
    case 'insert':
      out = [...parent.slice(0, at), ...p.extra, ...parent.slice(at)];
      break;
    case 'delete':
      out = [...parent.slice(0, at), ...parent.slice(at + p.len)];
      break;
    case 'repeat':
      out = [...parent.slice(0, at + p.len), ...parent.slice(at, at + p.len), ...parent.slice(at + p.len)];
      break;
    case 'replace':
      out = [...parent.slice(0, at), ...p.extra.slice(0, 1), ...parent.slice(at + 1)];
      break;
    case 'splice': {
      const other = corpus[(p.a + p.b) % corpus.length]!.ops;
      out = [...parent.slice(0, at), ...other.slice(p.len % (other.length + 1))];
      break;
    }
    default:
      return assertNever(p.mutation);
  }
  const cut = out.slice(0, maxOps);
  return cut.length > 0 ? cut : p.fresh;
}

/** A tracepoint's count as a power-of-two bucket: AFL's hit-count classes. */
function bucket(n: number): number {
  return Math.min(8, Math.floor(Math.log2(Math.max(1, n))));
}

/** What a sequence reached, as guided mode counts novelty (see the header). */
export function featuresOf(tracker: CoverageTracker, called: ReadonlySet<string>): string[] {
  const reached = [...tracker.reached].sort();
  const out: string[] = [...reached];
  for (const [name, n] of tracker.markCounts) out.push(`${name}×${bucket(n)}`);
  for (const name of called) out.push(`called ${name}`);
  for (let i = 0; i < reached.length; i++) for (let j = i + 1; j < reached.length; j++) out.push(`${reached[i]} & ${reached[j]}`);
  return out;
}
