import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { Op } from '../ops/op';
import type { GenProfile } from './profile';
import { cpuArb, hotPagesArb, mmArb, writeArb } from './targets';

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
