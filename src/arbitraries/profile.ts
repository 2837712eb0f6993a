import type { Geometry } from '../../models/machine/geometry';
import mapValues from 'lodash/mapValues.js';
import type { OpKind } from '../ops/op';

/**
 * The generator's entries: each a way of drawing one op (several per kind where an op has a shape
 * that random fields almost never give, e.g. a zap across a table boundary), with the op kind it
 * draws and its default weight (tuned toward the states where batching bugs live, see ops.ts).
 * Named so that a profile can weigh or omit each, and the report can say what was drawn. The
 * order is the order fc.oneof draws them in: changing it re-draws every seed.
 */
export const ENTRIES = {
  map: { kind: 'map', weight: 6 },
  populate: { kind: 'populate', weight: 2 },
  access: { kind: 'access', weight: 9 },
  fork: { kind: 'fork', weight: 3 },
  zap: { kind: 'zap', weight: 4 },
  'zap across tables': { kind: 'zap', weight: 1 },
  'zap whole table': { kind: 'zap', weight: 1 },
  exit: { kind: 'exit', weight: 1 },
  mprotect: { kind: 'mprotect', weight: 2 },
  'mprotect hot pages': { kind: 'mprotect', weight: 2 },
  mremap: { kind: 'mremap', weight: 1 },
  'mremap straddling a table': { kind: 'mremap', weight: 3 },
  'mremap whole PMDs': { kind: 'mremap', weight: 3 },
  migrate: { kind: 'migrate', weight: 3 },
  'migrate hot pages': { kind: 'migrate', weight: 2 },
  reclaim: { kind: 'reclaim', weight: 2 },
  'reclaim hot pages': { kind: 'reclaim', weight: 2 },
  madvise: { kind: 'madvise', weight: 2 },
  freeTable: { kind: 'freeTable', weight: 2 },
  gup: { kind: 'gup', weight: 4 },
  unpin: { kind: 'unpin', weight: 2 },
  gupRead: { kind: 'gupRead', weight: 3 },
  gupWrite: { kind: 'gupWrite', weight: 2 },
  walkBegin: { kind: 'walkBegin', weight: 2 },
  'reader on the reclaim table': { kind: 'walkBegin', weight: 1 },
  walkEnd: { kind: 'walkEnd', weight: 2 },
  tick: { kind: 'tick', weight: 2 },
  nowaitFail: { kind: 'nowaitFail', weight: 1 },
  // Physical memory (docs/fidelity/physical-memory.md): rare enough not to crowd the other ops
  memHole: { kind: 'memHole', weight: 1 },
  allocPolicy: { kind: 'allocPolicy', weight: 1 },
  // Files (issue 14): MAP_SHARED and MAP_PRIVATE mappings, often over the hot pages so that the
  // hot-page shapes (and the preempted chunks) meet page-cache pages; writeback between stores;
  // truncate; pread/pwrite
  mmapFile: { kind: 'mmapFile', weight: 1 },
  'mmapFile hot pages': { kind: 'mmapFile', weight: 2 },
  // the hot pages' whole PMD range from a PMD-aligned file offset, mostly MAP_PRIVATE: what
  // khugepaged's file collapse needs (collapseFile.ts)
  'mmapFile whole PMD': { kind: 'mmapFile', weight: 2 },
  writeback: { kind: 'writeback', weight: 2 },
  truncate: { kind: 'truncate', weight: 1 },
  fileRead: { kind: 'fileRead', weight: 1 },
  fileWrite: { kind: 'fileWrite', weight: 1 },
  // khugepaged (issue 14): collapse a PMD range of small anonymous pages into a THP
  collapse: { kind: 'collapse', weight: 1 },
  // With --interleave only (the schedule ops, and hot-page ops for the windows):
  preempt: { kind: 'preempt', weight: 4 },
  resume: { kind: 'resume', weight: 3 },
  'zap hot pages': { kind: 'zap', weight: 3 },
  'access hot page': { kind: 'access', weight: 3 },
  'walkBegin before grab': { kind: 'walkBegin', weight: 1 },
} as const satisfies Record<string, { readonly kind: OpKind; readonly weight: number }>;

export type EntryName = keyof typeof ENTRIES;

/** The op kind each entry draws. */
export const OP_ENTRIES: Readonly<Record<EntryName, OpKind>> = mapValues(ENTRIES, (e) => e.kind);

/** The entries drawn only with --interleave. */
export const SCHEDULE_ENTRIES = ['preempt', 'resume', 'zap hot pages', 'access hot page', 'walkBegin before grab'] as const satisfies readonly EntryName[];

export const isScheduleEntry = (n: EntryName): boolean => (SCHEDULE_ENTRIES as readonly EntryName[]).includes(n);

/**
 * The multi-op chunks: several ops drawn as one, because they rarely line up by chance. 'single
 * op' is one op from the entries. 'change between two accesses' and 'store after a clean'
 * (changeBetweenAccesses.ts) are drawn without --interleave; the others open a window in an interleaved check
 * (src/arbitraries/chunks.ts), where they already put hot-page accesses around the change.
 */
export const CHUNKS = [
  'single op',
  'change between two accesses',
  'store after a clean',
  'preempted zap',
  'preempted migrate',
  'preempted fault',
  'preempted mprotect',
  'preempted fork',
  'pin walk',
  'preempted COW',
  'preempted GUP',
  'grab window',
  'preempted reclaim',
  'preempted madvise',
  'preempted collapse',
] as const;

export type ChunkName = (typeof CHUNKS)[number];

/** The chunks a sequence is drawn from, in the order fc.oneof draws them. */
export function chunksOf(interleave: boolean): readonly ChunkName[] {
  return interleave ? CHUNKS.filter((c) => c !== 'change between two accesses' && c !== 'store after a clean') : ['single op', 'change between two accesses', 'store after a clean'];
}

/** The op kinds each chunk emits (besides 'preempt'): a kind weighted 0 takes the chunks that need it out too. */
export const CHUNK_KINDS: Readonly<Record<Exclude<ChunkName, 'single op'>, readonly OpKind[]>> = {
  // its middle op is drawn from the profile's entries, which the weights already set
  'change between two accesses': ['access'],
  'store after a clean': ['access', 'madvise', 'writeback', 'reclaim'],
  'preempted zap': ['preempt', 'zap', 'access'],
  'preempted migrate': ['preempt', 'migrate', 'access'],
  'preempted fault': ['preempt', 'access'],
  'preempted mprotect': ['preempt', 'mprotect', 'walkBegin', 'walkEnd'],
  'preempted fork': ['preempt', 'fork', 'walkBegin', 'walkEnd'],
  'pin walk': ['walkBegin', 'walkEnd'],
  'preempted COW': ['preempt', 'access', 'fork', 'zap', 'exit'],
  'preempted GUP': ['preempt', 'gup', 'zap', 'migrate'],
  'grab window': ['walkBegin', 'walkEnd', 'access', 'zap', 'migrate'],
  'preempted reclaim': ['preempt', 'reclaim', 'access', 'zap'],
  'preempted madvise': ['preempt', 'madvise', 'access', 'reclaim'],
  'preempted collapse': ['preempt', 'collapse', 'access', 'walkBegin', 'walkEnd', 'gupWrite', 'resume', 'gup', 'zap', 'mprotect', 'fork', 'exit', 'mmapFile'],
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
export const DEFAULT_ENTRY_WEIGHTS: Readonly<Record<EntryName, number>> = mapValues(ENTRIES, (e) => e.weight);

export const DEFAULT_CHUNK_WEIGHTS: Readonly<Record<ChunkName, number>> = {
  'single op': 12,
  'change between two accesses': 1,
  'store after a clean': 1,
  'preempted zap': 3,
  'preempted migrate': 1,
  'preempted fault': 1,
  'preempted mprotect': 1,
  'preempted fork': 1,
  'pin walk': 1,
  'preempted COW': 1,
  'preempted GUP': 1,
  'grab window': 1,
  'preempted reclaim': 1,
  'preempted madvise': 1,
  'preempted collapse': 1,
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
