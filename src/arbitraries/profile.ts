import type { Geometry } from '../../models/machine/geometry';
import type { OpKind } from '../ops/op';

/**
 * The generator's entries: each a way of drawing one op (several per kind where an op has a shape
 * that random fields almost never give, e.g. a zap across a table boundary). Named so that a
 * profile can weigh or omit each, and the report can say what was drawn.
 */
export const OP_ENTRIES = {
  map: 'map',
  populate: 'populate',
  access: 'access',
  fork: 'fork',
  zap: 'zap',
  'zap across tables': 'zap',
  'zap whole table': 'zap',
  exit: 'exit',
  mprotect: 'mprotect',
  'mprotect hot pages': 'mprotect',
  mremap: 'mremap',
  'mremap straddling a table': 'mremap',
  'mremap whole PMDs': 'mremap',
  migrate: 'migrate',
  'migrate hot pages': 'migrate',
  freeTable: 'freeTable',
  gup: 'gup',
  unpin: 'unpin',
  gupRead: 'gupRead',
  gupWrite: 'gupWrite',
  walkBegin: 'walkBegin',
  'reader on the reclaim table': 'walkBegin',
  walkEnd: 'walkEnd',
  tick: 'tick',
  nowaitFail: 'nowaitFail',
  memHole: 'memHole',
  allocPolicy: 'allocPolicy',
  // With --interleave only (the schedule ops, and hot-page ops for the windows):
  preempt: 'preempt',
  resume: 'resume',
  'zap hot pages': 'zap',
  'access hot page': 'access',
  'walkBegin before grab': 'walkBegin',
} as const satisfies Record<string, OpKind>;

export type EntryName = keyof typeof OP_ENTRIES;

/** The entries drawn only with --interleave. */
export const SCHEDULE_ENTRIES = ['preempt', 'resume', 'zap hot pages', 'access hot page', 'walkBegin before grab'] as const satisfies readonly EntryName[];

export const isScheduleEntry = (n: EntryName): boolean => (SCHEDULE_ENTRIES as readonly EntryName[]).includes(n);

/**
 * The multi-op chunks: several ops drawn as one, because they rarely line up by chance. 'single
 * op' is one op from the entries. 'change between two accesses' (changeBetweenAccesses.ts) is
 * drawn without --interleave; the others open a window in an interleaved check
 * (src/arbitraries/chunks.ts), where they already put hot-page accesses around the change.
 */
export const CHUNKS = [
  'single op',
  'change between two accesses',
  'preempted zap',
  'preempted migrate',
  'preempted fault',
  'preempted mprotect',
  'preempted fork',
  'pin walk',
  'preempted COW',
  'preempted GUP',
  'grab window',
] as const;

export type ChunkName = (typeof CHUNKS)[number];

/** The chunks a sequence is drawn from, in the order fc.oneof draws them. */
export function chunksOf(interleave: boolean): readonly ChunkName[] {
  return interleave ? CHUNKS.filter((c) => c !== 'change between two accesses') : ['single op', 'change between two accesses'];
}

/** The op kinds each chunk emits (besides 'preempt'): a kind weighted 0 takes the chunks that need it out too. */
export const CHUNK_KINDS: Readonly<Record<Exclude<ChunkName, 'single op'>, readonly OpKind[]>> = {
  // its middle op is drawn from the profile's entries, which the weights already set
  'change between two accesses': ['access'],
  'preempted zap': ['preempt', 'zap', 'access'],
  'preempted migrate': ['preempt', 'migrate', 'access'],
  'preempted fault': ['preempt', 'access'],
  'preempted mprotect': ['preempt', 'mprotect', 'walkBegin', 'walkEnd'],
  'preempted fork': ['preempt', 'fork', 'walkBegin', 'walkEnd'],
  'pin walk': ['walkBegin', 'walkEnd'],
  'preempted COW': ['preempt', 'access', 'fork', 'zap', 'exit'],
  'preempted GUP': ['preempt', 'gup', 'zap', 'migrate'],
  'grab window': ['walkBegin', 'walkEnd', 'access', 'zap', 'migrate'],
};

/**
 * What one sequence is drawn from: the weight of each entry and chunk (0: never), how many CPUs
 * and mms its ops name, where its addresses fall and which folio orders it maps. The uniform
 * profile is the same for every sequence; swarm testing draws one per sequence (swarm.ts).
 */
export interface GenProfile {
  readonly entries: Readonly<Record<EntryName, number>>;
  readonly chunks: Readonly<Record<ChunkName, number>>;
  /** Ops name CPUs 0..nrCpus-1. */
  readonly nrCpus: number;
  /** Ops name mm indexes 0..nrMms-1 (resolved among the live mms). */
  readonly nrMms: number;
  /** Weights of the three address shapes: anywhere, on a folio or table boundary, the hot pages. */
  readonly vpn: { readonly anywhere: number; readonly boundary: number; readonly hot: number };
  /** Weights of folio orders: 0, between, and the largest. */
  readonly order: { readonly zero: number; readonly between: number; readonly largest: number };
  /**
   * Of 8 user accesses, how many are stores (4: a fair coin). A sequence with few stores leaves
   * pages read-only and clean, as MIGRC and the zero page need; one with many dirties everything.
   */
  readonly storesIn8: number;
}

/** The default weights: tuned toward the states where batching bugs live (see ops.ts). */
export const DEFAULT_ENTRY_WEIGHTS: Readonly<Record<EntryName, number>> = {
  map: 6,
  populate: 2,
  access: 9,
  fork: 3,
  zap: 4,
  'zap across tables': 1,
  'zap whole table': 1,
  exit: 1,
  mprotect: 2,
  'mprotect hot pages': 2,
  mremap: 1,
  'mremap straddling a table': 2,
  'mremap whole PMDs': 3,
  migrate: 3,
  'migrate hot pages': 2,
  freeTable: 2,
  gup: 4,
  unpin: 2,
  gupRead: 3,
  gupWrite: 2,
  walkBegin: 2,
  'reader on the reclaim table': 1,
  walkEnd: 2,
  tick: 2,
  nowaitFail: 1,
  // Physical memory (docs/fidelity/physical-memory.md): rare enough not to crowd the other ops
  memHole: 1,
  allocPolicy: 1,
  preempt: 4,
  resume: 3,
  'zap hot pages': 3,
  'access hot page': 3,
  'walkBegin before grab': 1,
};

export const DEFAULT_CHUNK_WEIGHTS: Readonly<Record<ChunkName, number>> = {
  'single op': 12,
  'change between two accesses': 1,
  'preempted zap': 3,
  'preempted migrate': 1,
  'preempted fault': 1,
  'preempted mprotect': 1,
  'preempted fork': 1,
  'pin walk': 1,
  'preempted COW': 1,
  'preempted GUP': 1,
  'grab window': 1,
};

/** The same mix for every sequence: the default weights, every CPU and mm, every address shape and order. */
export function uniformProfile(g: Geometry): GenProfile {
  return {
    entries: DEFAULT_ENTRY_WEIGHTS,
    chunks: DEFAULT_CHUNK_WEIGHTS,
    nrCpus: g.nrCpus,
    nrMms: g.maxMms,
    vpn: { anywhere: 3, boundary: 2, hot: 3 },
    order: { zero: 1, between: 2, largest: 2 },
    storesIn8: 4,
  };
}

/** Every entry, in the order fc.oneof draws them (the order of OP_ENTRIES). */
export const ENTRY_NAMES = Object.keys(OP_ENTRIES) as EntryName[];

/** The entries that draw ops of `kind`. */
export const entriesOfKind = (kind: OpKind): EntryName[] => ENTRY_NAMES.filter((e) => OP_ENTRIES[e] === kind);

/** The op kinds the generator draws (the ones --focus and --weights can name). */
export const GENERATED_KINDS: readonly OpKind[] = [...new Set(Object.values(OP_ENTRIES))];
