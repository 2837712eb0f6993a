import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { Op } from '../ops/op';
import type { ChunkName, EntryName, GenProfile } from './profile';
import type { SCHEDULE_ENTRIES } from './profile';
import { ENTRY_NAMES, chunksOf, isScheduleEntry, uniformProfile } from './profile';
import { cpuArb, hotPage, hotPagesArb, mmArb, weighted, writeArb } from './targets';
import { grabWindowArb, pinWalkArb, preemptedCollapseArb, preemptedCowArb, preemptedFaultArb, preemptedGupArb, preemptedMigrateArb, preemptedMadviseArb, preemptedReclaimArb, preemptedWriterArb, preemptedZapArb } from './chunks';
import type { SwarmOptions } from './swarm';
import { swarmProfileArb } from './swarm';
import { fullLengthChunksArb } from './fullLength';
import { allocPolicyArb, memHoleArb } from './physMem';
import { changeBetweenAccessesArb, onHotPages, storeAfterCleanArb } from './changeBetweenAccesses';
import { fileNrPages, NR_FILES } from '../../models/machine/files';

/** The table the reclaim entries aim at: the third (the hot pages, hotPage(), are in the second). */
const RECLAIM_PMD = 2;

/** Generator options. Every one is off by default: the arbitrary, and so every seed, is unchanged. */
export interface OpArbOptions {
  /**
   * Emit schedule ops (`preempt`, `resume`: issue 11, docs/concurrency.md), and zaps of the hot
   * pages, so zaps run as preempted kernel tasks and other ops land in their windows.
   */
  readonly interleave?: boolean;
  /** The mix to draw from; the uniform profile (the default weights) when absent. */
  readonly profile?: GenProfile;
}

/**
 * Op generators weighted toward the states where batching bugs live (docs/design.md, "Generation, shrinking, verdicts"): large folios,
 * PTE-mapped and partially mapped; forks of populated mms; pins; zaps that fill a gather;
 * read-only mappings under migration; walkers in flight while tables go away. Addresses cluster
 * on folio and table boundaries. fast-check gives commands no bias of its own, so all of it is
 * here; the weights are the profile's (profile.ts), one named entry each.
 */
export function opArb(g: Geometry, options: OpArbOptions = {}): fc.Arbitrary<Op> {
  const p = options.profile ?? uniformProfile(g);
  const arbs = entryArbs(g, p);
  const names = ENTRY_NAMES.filter((n) => options.interleave === true || !isScheduleEntry(n));
  return weighted(names.map((n) => ({ weight: p.entries[n], arbitrary: arbs[n] })));
}

/** One arbitrary per entry, its fields drawn from the profile's CPUs, mms, addresses and orders. */
function entryArbs(g: Geometry, p: GenProfile): Record<EntryName, fc.Arbitrary<Op>> {
  const ppt = g.ptrsPerPte;
  const hot = hotPage(g);
  const top = g.pmdsPerMm * ppt;
  const mm = mmArb(p);
  const cpu = cpuArb(p);
  const vpn = weighted([
    { weight: p.vpn.anywhere, arbitrary: fc.integer({ min: 0, max: top - 1 }) },
    // near the start, the middle or the end of a table: folio and table boundaries
    {
      weight: p.vpn.boundary,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: g.pmdsPerMm - 1 }), fc.constantFrom(0, 1, ppt / 2 - 1, ppt / 2, ppt - 2, ppt - 1))
        .map(([i, off]) => i * ppt + off),
    },
    // Two hot pages inside the second table (not on a folio or table boundary) that many ops
    // revisit: bugs that need several ops on one page — a read fault, a migration and a store
    // from another CPU to the same address (MIGRC), or two folios mapped side by side — are
    // otherwise a few-in-a-thousand event with 64 pages to choose from.
    { weight: p.vpn.hot, arbitrary: hotPagesArb(g) },
  ]);
  const nr = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 4 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 * ppt }) },
    { weight: 1, arbitrary: fc.constantFrom(ppt / 2, ppt, 2 * ppt) },
  );
  const order = weighted([
    { weight: p.order.zero, arbitrary: fc.constant(0) },
    { weight: p.order.between, arbitrary: fc.integer({ min: 1, max: g.maxFolioOrder - 1 }) },
    { weight: p.order.largest, arbitrary: fc.constant(g.maxFolioOrder) },
  ]);
  const handle = fc.integer({ min: 0, max: g.maxHandles - 1 });
  // Half the whole-table zaps and PT reclaims, and a reader entry, aim at one table (not the hot
  // pages' one, whose states other bugs need): an RCU table free that must wait for a
  // pte_offset_map() reader needs all three on one table, which uniform tables gave in 0.3-0.5% of
  // sequences (docs/reach.md).
  const reclaimPmd = fc.oneof(fc.constant(RECLAIM_PMD), fc.integer({ min: 0, max: g.pmdsPerMm - 1 }));
  const write = writeArb(p);
  const file = fc.integer({ min: 0, max: NR_FILES - 1 });
  const fileIndex = fc.integer({ min: 0, max: fileNrPages(g) - 1 });
  return {
    map: fc.record({ kind: fc.constant('map'), mm, vpn, order, pmd: fc.boolean(), first: fc.integer({ min: 0, max: ppt - 1 }), count: fc.oneof(fc.constant(ppt), fc.integer({ min: 1, max: ppt })) }),
    // MAP_POPULATE of a range: many folios in one op, so gathers fill and batches repeat in few ops
    populate: fc.record({ kind: fc.constant('populate'), mm, vpn, nr, order }),
    access: fc.record({ kind: fc.constant('access'), cpu, mm, vpn, write }),
    fork: fc.record({ kind: fc.constant('fork'), mm }),
    zap: fc.record({ kind: fc.constant('zap'), mm, vpn, nr }),
    // a zap across a table boundary (with the mremap shape below, it meets folios that span two tables)
    'zap across tables': fc
      .record({ mm, boundary: fc.integer({ min: 1, max: g.pmdsPerMm - 1 }), half: fc.integer({ min: 1, max: ppt }) })
      .map(({ mm: m, boundary, half }): Op => ({ kind: 'zap', mm: m, vpn: boundary * ppt - half, nr: 2 * half })),
    // a zap of one whole table: PT reclaim (`freeTable`) only frees an empty table, and a reader
    // parked on it is what the RCU table free must wait for (see reclaimPmd below)
    'zap whole table': fc
      .record({ mm, pmd: reclaimPmd })
      .map(({ mm: m, pmd }): Op => ({ kind: 'zap', mm: m, vpn: pmd * ppt, nr: ppt })),
    exit: fc.record({ kind: fc.constant('exit'), mm }),
    mprotect: fc.record({ kind: fc.constant('mprotect'), mm, vpn, nr, writable: fc.boolean() }),
    // mprotect of the hot pages: a write-protect between two stores to the same page is what a
    // missing or late mprotect() flush needs to show (the store through the stale writable entry)
    'mprotect hot pages': fc.record({ kind: fc.constant('mprotect'), mm, vpn: fc.constant(hot), nr: fc.integer({ min: 1, max: 2 }), writable: fc.boolean() }),
    mremap: fc.record({ kind: fc.constant('mremap'), mm, from: vpn, to: vpn, nr }),
    // move one folio-sized, folio-aligned range so that it straddles a table boundary: the only
    // way a large folio's PTEs span two tables, where a PTE batch must stop at the table end
    'mremap straddling a table': fc
      .record({
        mm,
        order: fc.integer({ min: 1, max: g.maxFolioOrder }),
        // often a table start, where the boundary-shaped maps put their folios
        slot: fc.oneof(fc.integer({ min: 0, max: top - 1 }), fc.integer({ min: 0, max: g.pmdsPerMm - 1 }).map((i) => i * ppt)),
        boundary: fc.integer({ min: 1, max: g.pmdsPerMm - 1 }),
        shift: fc.integer({ min: 1, max: ppt - 1 }),
      })
      .map(({ mm: m, order: k, slot, boundary, shift }): Op => {
        const n = 1 << k;
        return { kind: 'mremap', mm: m, from: slot - (slot % n), to: boundary * ppt - (shift % n || 1), nr: n };
      }),
    // move whole PMDs: both ends PMD-aligned and the length a multiple of the PMD size, so 6.12's
    // move_page_tables() moves PMD entries (move_normal_pmd() for a table, move_huge_pmd() for a
    // leaf) instead of PTEs; random addresses almost never line up like this
    'mremap whole PMDs': fc
      .record({ mm, src: fc.integer({ min: 0, max: g.pmdsPerMm - 1 }), dst: fc.integer({ min: 0, max: g.pmdsPerMm - 1 }), pmds: fc.integer({ min: 1, max: 2 }) })
      .map(({ mm: m, src, dst, pmds }): Op => ({ kind: 'mremap', mm: m, from: src * ppt, to: dst * ppt, nr: pmds * ppt })),
    migrate: fc.record({ kind: fc.constant('migrate'), mm, vpn, count: fc.integer({ min: 1, max: 4 }) }),
    // migration of the hot pages: MIGRC's deferred flush needs a read-only page that one CPU has
    // read, migrated, then written from another CPU, all on one page (median 418 sequences to
    // catch a missing release on the write fault before this entry)
    'migrate hot pages': fc.record({ kind: fc.constant('migrate'), mm, vpn: fc.constant(hot), count: fc.integer({ min: 1, max: 2 }) }),
    reclaim: fc.record({ kind: fc.constant('reclaim'), mm, vpn, count: fc.integer({ min: 1, max: 4 }) }),
    // reclaim of the hot pages: a page swapped out between two accesses to it (the stale writable
    // entry reclaim must flush before writeback), and swapped in again by the second one
    'reclaim hot pages': fc.record({ kind: fc.constant('reclaim'), mm, vpn: fc.constant(hot), count: fc.integer({ min: 1, max: 2 }) }),
    // MADV_PAGEOUT and MADV_FREE more often than MADV_COLD, which changes no value memory holds
    madvise: fc.record({ kind: fc.constant('madvise'), mm, vpn, nr, advice: fc.constantFrom('pageout', 'pageout', 'free', 'free', 'cold') }),
    freeTable: fc.record({ kind: fc.constant('freeTable'), mm, pmd: reclaimPmd }),
    gup: fc.record({ kind: fc.constant('gup'), cpu, mm, vpn, nr, pin: fc.boolean(), write: fc.boolean(), fast: fc.boolean() }),
    unpin: fc.record({ kind: fc.constant('unpin'), handle }),
    gupRead: fc.record({ kind: fc.constant('gupRead'), handle, index: fc.integer({ min: 0, max: ppt - 1 }) }),
    gupWrite: fc.record({ kind: fc.constant('gupWrite'), handle, index: fc.integer({ min: 0, max: ppt - 1 }) }),
    walkBegin: fc.record({ kind: fc.constant('walkBegin'), cpu, mm, vpn, walker: fc.constantFrom('gupFast', 'pteOffsetMap'), pin: fc.boolean(), write: fc.boolean() }),
    // a pte_offset_map() reader parked on the reclaim table (see reclaimPmd)
    'reader on the reclaim table': fc.record({
      kind: fc.constant('walkBegin'),
      cpu,
      mm,
      vpn: fc.integer({ min: RECLAIM_PMD * ppt, max: RECLAIM_PMD * ppt + ppt - 1 }),
      walker: fc.constant('pteOffsetMap'),
      pin: fc.constant(false),
      write: fc.constant(false),
    }),
    walkEnd: fc.record({ kind: fc.constant('walkEnd'), cpu }),
    tick: fc.record({ kind: fc.constant('tick') }),
    // GFP_NOWAIT failures (row 20): the next zap or table free meets a batch page it cannot have
    nowaitFail: fc.record({ kind: fc.constant('nowaitFail'), nr: fc.integer({ min: 1, max: 3 }) }),
    // Physical memory (docs/fidelity/physical-memory.md): holes next to where folios land, and
    // allocation that is not first-fit
    memHole: memHoleArb(g),
    allocPolicy: allocPolicyArb(g),
    mmapFile: fc.record({ kind: fc.constant('mmapFile'), mm, vpn, nr, file, pgoff: fileIndex, shared: fc.boolean() }),
    // the hot pages (and a few around them) as a file mapping, MAP_SHARED or MAP_PRIVATE, from a
    // folio-aligned offset
    'mmapFile hot pages': fc
      .record({ mm, file, before: fc.integer({ min: 0, max: 3 }), after: fc.integer({ min: 2, max: 6 }), pgoff: fc.integer({ min: 0, max: fileNrPages(g) / 4 - 1 }), shared: fc.boolean() })
      .map(({ mm: m, file: f, before, after, pgoff, shared }): Op => ({ kind: 'mmapFile', mm: m, vpn: hot - before, nr: before + after, file: f, pgoff: 4 * pgoff, shared })),
    'mmapFile whole PMD': fc
      .record({ mm, file: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: file }), half: fc.integer({ min: 0, max: 1 }), shared: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) })
      .map(({ mm: m, file: f, half, shared }): Op => ({ kind: 'mmapFile', mm: m, vpn: hot - (hot % ppt), nr: ppt, file: f, pgoff: half * ppt, shared })),
    writeback: fc.record({ kind: fc.constant('writeback'), file }),
    truncate: fc.record({ kind: fc.constant('truncate'), file, from: fileIndex }),
    fileRead: fc.record({ kind: fc.constant('fileRead'), file, index: fileIndex }),
    fileWrite: fc.record({ kind: fc.constant('fileWrite'), file, index: fileIndex }),
    // khugepaged: mostly the hot pages' table, which the other ops keep populated and young
    collapse: fc.record({ kind: fc.constant('collapse'), mm, pmd: fc.oneof(fc.constant(Math.floor(hot / ppt)), fc.integer({ min: 0, max: g.pmdsPerMm - 1 })) }),
    ...scheduleEntryArbs(g, mm, cpu, write),
  };
}

/**
 * The schedule ops, and zaps of the hot pages: a race in a zap window needs a `preempt` right
 * before a zap and a second op on the same pages while it is in flight (another zap, a load from
 * a CPU that still holds the translation), which random addresses over 64 pages rarely give.
 * Drawn only with --interleave, after the default choices, so the default arbitrary stays as it was.
 */
function scheduleEntryArbs(g: Geometry, mm: fc.Arbitrary<number>, cpu: fc.Arbitrary<number>, write: fc.Arbitrary<boolean>): Record<(typeof SCHEDULE_ENTRIES)[number], fc.Arbitrary<Op>> {
  const hot = hotPage(g);
  // Points a zap of a few tables passes: one per table it changes, and one before tlb_finish_mmu().
  const points = fc.integer({ min: 1, max: 4 });
  return {
    preempt: fc.record({ kind: fc.constant('preempt'), cpu, at: points }),
    resume: fc.record({ kind: fc.constant('resume'), cpu, points }),
    'zap hot pages': fc.record({ kind: fc.constant('zap'), mm, vpn: fc.constant(hot), nr: fc.integer({ min: 1, max: 2 }) }),
    // Loads and stores of a hot page: a CPU that holds its translation when a zap of it is preempted
    'access hot page': fc.record({ kind: fc.constant('access'), cpu, mm, vpn: fc.constant(hot), write }),
    // Rarely, a GUP-fast walk of a hot page that stops before its grab (its read → grab window).
    'walkBegin before grab': fc.record({
      kind: fc.constant('walkBegin'),
      cpu,
      mm,
      vpn: fc.constant(hot),
      walker: fc.constant('gupFast'),
      pin: fc.boolean(),
      write: fc.boolean(),
      stop: fc.constant('grab'),
    }),
  };
}

/** How the sequences of a check are drawn. */
export interface OpsArbOptions extends OpArbOptions {
  /** Swarm testing (swarm.ts): each sequence draws its own profile from `profile` first. Absent: every sequence uses `profile`. */
  readonly swarm?: SwarmOptions;
}

/**
 * Sequences of maxOps ops, shrinking to any length (fullLength.ts): drawn at full length because
 * the kill matrix says so — with lengths spread over 1..maxOps (as before issue 12) the median
 * mutant needed 58 sequences of the reach subset, drawn at full length 6 (docs/reach.md).
 */
export function opsArb(g: Geometry, maxOps: number, options: OpsArbOptions = {}): fc.Arbitrary<Op[]> {
  const { swarm, ...rest } = options;
  if (swarm === undefined) return opsOfProfileArb(g, maxOps, rest);
  const base = options.profile ?? uniformProfile(g);
  return swarmProfileArb(g, base, swarm, options.interleave === true).chain((profile) => opsOfProfileArb(g, maxOps, { ...rest, profile }));
}

function opsOfProfileArb(g: Geometry, maxOps: number, options: OpArbOptions): fc.Arbitrary<Op[]> {
  const p = options.profile ?? uniformProfile(g);
  const chunkArbs: Record<ChunkName, fc.Arbitrary<Op[]>> = {
    'single op': opArb(g, options).map((op) => [op]),
    'change between two accesses': changeBetweenAccessesArb(g, p, opArb(g, { ...options, profile: onHotPages(p) })),
    'store after a clean': storeAfterCleanArb(g, p),
    'preempted zap': preemptedZapArb(g, p),
    'preempted migrate': preemptedMigrateArb(g, p),
    'preempted reclaim': preemptedReclaimArb(g, p),
    'preempted madvise': preemptedMadviseArb(g, p),
    'preempted fault': preemptedFaultArb(g, p),
    'preempted mprotect': preemptedWriterArb(g, p, false),
    'preempted fork': preemptedWriterArb(g, p, true),
    'pin walk': pinWalkArb(g, p),
    'preempted COW': preemptedCowArb(g, p),
    'preempted GUP': preemptedGupArb(g, p),
    'grab window': grabWindowArb(g, p),
    'preempted collapse': preemptedCollapseArb(g, p),
  };
  const chunk = weighted(chunksOf(options.interleave === true).map((c) => ({ weight: p.chunks[c], arbitrary: chunkArbs[c] })));
  return fullLengthChunksArb(chunk, maxOps);
}
