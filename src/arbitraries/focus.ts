import type { OpKind } from '../ops/op';
import type { ChunkName, EntryName, GenProfile } from './profile';
import { CHUNK_KINDS, CHUNKS, GENERATED_KINDS, chunksOf, entriesOfKind } from './profile';

/**
 * Focus: where a review spends its runs. `--focus` (or a variant's static `focus`) names op kinds
 * or areas; their entries and race chunks get FOCUS_BOOST times their weight, and swarm testing
 * never leaves them out. The other ops stay in the mix: a patch's bug usually needs them to
 * build its state.
 */
export const FOCUS_AREAS = {
  cow: ['fork', 'access', 'access hot page', 'preempted COW'],
  fork: ['fork', 'preempted fork', 'pin walk'],
  gup: ['gup', 'unpin', 'gupRead', 'gupWrite', 'walkBegin', 'walkEnd', 'walkBegin before grab', 'pin walk', 'preempted GUP', 'grab window'],
  zap: ['zap', 'zap across tables', 'zap whole table', 'zap hot pages', 'exit', 'preempted zap'],
  tables: ['freeTable', 'walkBegin', 'reader on the reclaim table', 'walkEnd', 'exit', 'zap', 'zap across tables', 'zap whole table', 'tick', 'nowaitFail'],
  migration: ['migrate', 'migrate hot pages', 'access', 'access hot page', 'preempted migrate'],
  mprotect: ['mprotect', 'mprotect hot pages', 'preempted mprotect'],
  reclaim: ['reclaim', 'reclaim hot pages', 'madvise', 'access', 'access hot page', 'fork', 'preempted reclaim', 'preempted madvise'],
  mremap: ['mremap', 'mremap straddling a table', 'mremap whole PMDs'],
  physmem: ['memHole', 'allocPolicy'],
  races: ['preempt', 'resume', ...chunksOf(true).filter((c) => c !== 'single op')],
} as const satisfies Record<string, ReadonlyArray<EntryName | ChunkName>>;

export type FocusArea = keyof typeof FOCUS_AREAS;

export const FOCUS_BOOST = 4;

export interface Focus {
  /** The names as given (op kinds and areas), for the report. */
  readonly names: readonly string[];
  readonly targets: ReadonlySet<EntryName | ChunkName>;
}

export class FocusError extends Error {}

/** Resolve op kinds and area names; unknown names throw FocusError naming the valid choices. */
export function parseFocus(names: readonly string[]): Focus {
  const targets = new Set<EntryName | ChunkName>();
  for (const name of names) {
    if (name in FOCUS_AREAS) {
      for (const t of FOCUS_AREAS[name as FocusArea]) targets.add(t);
    } else if ((GENERATED_KINDS as readonly string[]).includes(name)) {
      for (const e of entriesOfKind(name as OpKind)) targets.add(e);
    } else {
      throw new FocusError(`unknown focus '${name}'; valid: areas ${Object.keys(FOCUS_AREAS).join(', ')} or op kinds ${GENERATED_KINDS.join(', ')}`);
    }
  }
  return { names: [...names], targets };
}


/** The profile with the focus's entries and chunks boosted. */
export function applyFocus(p: GenProfile, focus: Focus): GenProfile {
  const entries = { ...p.entries };
  for (const e of Object.keys(entries) as EntryName[]) if (focus.targets.has(e)) entries[e] *= FOCUS_BOOST;
  const chunks = { ...p.chunks };
  for (const c of CHUNKS) if (focus.targets.has(c)) chunks[c] *= FOCUS_BOOST;
  return { ...p, entries, chunks };
}

/**
 * `--weights kind=n,...`: each named kind's entries together weigh n (split as the defaults
 * split them, at least 1 each when n > 0); 0 leaves the kind out, with the race chunks that emit it. Throws FocusError on a bad list.
 */
export function parseWeights(spec: string): Partial<Record<OpKind, number>> {
  const out: Partial<Record<OpKind, number>> = {};
  for (const part of spec.split(',').filter((s) => s.trim() !== '')) {
    const m = /^\s*([A-Za-z]+)\s*=\s*(\d+)\s*$/.exec(part);
    const kind = m?.[1];
    if (m === null || kind === undefined || !GENERATED_KINDS.includes(kind as OpKind)) {
      throw new FocusError(`bad --weights entry '${part}'; write kind=n (n ≥ 0) with kind one of ${GENERATED_KINDS.join(', ')}`);
    }
    out[kind as OpKind] = Number(m[2]);
  }
  return out;
}

export function applyWeights(p: GenProfile, weights: Partial<Record<OpKind, number>>): GenProfile {
  const entries = { ...p.entries };
  for (const [kind, total] of Object.entries(weights) as Array<[OpKind, number]>) {
    const names = entriesOfKind(kind);
    const sum = names.reduce((s, e) => s + p.entries[e], 0);
    for (const e of names) entries[e] = total === 0 ? 0 : Math.max(1, Math.round((total * p.entries[e]) / sum));
  }
  const chunks = { ...p.chunks };
  for (const [c, kinds] of Object.entries(CHUNK_KINDS) as Array<[ChunkName, readonly OpKind[]]>) if (kinds.some((k) => weights[k] === 0)) chunks[c] = 0;
  return { ...p, entries, chunks };
}
