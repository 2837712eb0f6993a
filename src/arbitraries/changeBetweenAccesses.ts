import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { Op } from '../ops/op';
import type { GenProfile } from './profile';
import { cpuArb, hotPagesArb, mmArb, writeArb } from './targets';
import { NR_FILES } from '../../models/machine/files';

/**
 * A change between two accesses: a CPU loads or stores one of the hot pages (its TLB now holds
 * the translation), one op of the profile's mix aimed at the hot pages changes them (`middle`:
 * a migration, an mprotect, an mremap, a zap, a fork, a GUP, ...), then a CPU loads or stores one
 * of them. It is the shape of every stale-TLB bug: the change must flush, or give up a deferred
 * flush, before the second access may use what the first one cached. Drawn op by op, the three
 * rarely line up on one page with nothing in between (a tick or an mprotect elsewhere releases a
 * deferred flush); MIGRC's write-fault release was built in 6 sequences in 1,000 (docs/reach.md).
 * The middle op comes from the profile, so focus, weights and swarm apply to it; the shrinker
 * drops the chunk whole and the minimiser (src/check/minimise.ts) any op of it.
 */
export function changeBetweenAccessesArb(g: Geometry, p: GenProfile, middle: fc.Arbitrary<Op>): fc.Arbitrary<Op[]> {
  const page = hotPagesArb(g);
  const write = writeArb(p);
  return fc
    .record({ first: fc.record({ cpu: cpuArb(p), vpn: page, write }), mm: mmArb(p), middle, second: fc.record({ cpu: cpuArb(p), vpn: page, write }) })
    .map(({ first, mm, middle: change, second }): Op[] => [{ kind: 'access', mm, ...first }, change, { kind: 'access', mm, ...second }]);
}

/** The profile whose addresses are all the hot pages: the middle op's (entries with shapes of their own keep them). */
export function onHotPages(p: GenProfile): GenProfile {
  return { ...p, vpn: { anywhere: 0, boundary: 0, hot: 1 } };
}

/**
 * A store lost to a cleaned translation: a CPU stores to a hot page (a dirty, writable TLB
 * entry), the page is cleaned — MADV_FREE clears its PTE's dirty bit (an anonymous page), or
 * writeback write-protects and cleans it (a MAP_SHARED file page) —, the CPU stores again, reclaim
 * takes the page, and another CPU loads it. A kernel that cleans without flushing lets the second
 * store go through the stale entry and leave the PTE clean, so reclaim drops the data (rule R2,
 * docs/kernel-semantics.md §10).
 * Five ops that rarely line up by chance: madvise-free-no-flush needed a median of 1,844 random
 * sequences before this chunk.
 */
export function storeAfterCleanArb(g: Geometry, p: GenProfile): fc.Arbitrary<Op[]> {
  const page = hotPagesArb(g);
  const clean = fc.oneof({ weight: 3, arbitrary: fc.constant('free' as const) }, { weight: 1, arbitrary: fc.constant('writeback' as const) });
  return fc
    .record({ cpu: cpuArb(p), reader: cpuArb(p), mm: mmArb(p), vpn: page, clean, file: fc.integer({ min: 0, max: NR_FILES - 1 }) })
    .map(({ cpu, reader, mm, vpn, clean: how, file }): Op[] => [
      { kind: 'access', cpu, mm, vpn, write: true },
      how === 'free' ? { kind: 'madvise', mm, vpn, nr: 1, advice: 'free' } : { kind: 'writeback', file },
      { kind: 'access', cpu, mm, vpn, write: true },
      { kind: 'reclaim', mm, vpn, count: 1 },
      { kind: 'access', cpu: reader, mm, vpn, write: false },
    ]);
}
