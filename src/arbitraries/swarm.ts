import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { OpKind } from '../ops/op';
import type { ChunkName, EntryName, GenProfile } from './profile';
import { ENTRY_NAMES, OP_ENTRIES, chunksOf, isScheduleEntry } from './profile';

/**
 * Swarm testing (Groce et al., "Swarm Testing", ISSTA 2012): every sequence first draws its own
 * profile, then its ops from it. Each op kind (and each chunk) is left out with probability
 * 1/2 and the rest get a weight ×1, ×2 or ×4; the sequence names 1..all CPUs and mms; its
 * addresses favour some shapes (anywhere, boundaries, the hot pages) and drop others; it maps some
 * folio orders and not others; its accesses are even, mostly loads or mostly stores. A fixed mix always has the average of everything, so a state that
 * needs several things to be ABSENT (no zap between a fault and a migration, one CPU only, only
 * large folios) is rare in it; in a swarm some sequences leave out exactly those.
 *
 * The profile is drawn first and shrinks too (fast-check's chain shrinks its source): a kind
 * switched off takes its ops with it, so a counterexample keeps only the kinds it needs.
 */
export interface SwarmOptions {
  /** Entries and chunks never left out (the focus): a review's ops are in every sequence's mix. */
  readonly keep: ReadonlySet<EntryName | ChunkName>;
}

/** One kind's or chunk's switch: off, or on with a weight multiplier. */
const switchArb = fc.oneof(fc.constant(0), fc.constantFrom(1, 2, 4));

export function swarmProfileArb(g: Geometry, base: GenProfile, swarm: SwarmOptions, interleave: boolean): fc.Arbitrary<GenProfile> {
  const entryNames = ENTRY_NAMES.filter((n) => interleave || !isScheduleEntry(n));
  const kinds = [...new Set(entryNames.map((n) => OP_ENTRIES[n]))];
  const chunks = chunksOf(interleave).filter((c) => c !== 'single op');
  return fc
    .record({
      kinds: fc.tuple(...kinds.map(() => switchArb)),
      chunks: fc.tuple(...chunks.map(() => switchArb)),
      nrCpus: fc.integer({ min: 1, max: g.nrCpus }),
      nrMms: fc.integer({ min: 1, max: g.maxMms }),
      vpn: fc.record({ anywhere: fc.constantFrom(0, 1, 3), boundary: fc.constantFrom(0, 2), hot: fc.constantFrom(0, 3, 9) }),
      order: fc.record({ zero: fc.constantFrom(0, 1), between: fc.constantFrom(0, 2), largest: fc.constantFrom(0, 2) }),
      storesIn8: fc.constantFrom(4, 1, 7),
    })
    .map(({ kinds: ks, chunks: cs, nrCpus, nrMms, vpn, order, storesIn8 }): GenProfile => {
      const mult = new Map<OpKind, number>(kinds.map((k, i) => [k, ks[i]!]));
      const entries = { ...base.entries };
      for (const n of entryNames) entries[n] = swarm.keep.has(n) ? base.entries[n] : base.entries[n] * mult.get(OP_ENTRIES[n])!;
      // A profile that leaves out every kind draws from all of them (the sequence must have ops).
      if (entryNames.every((n) => entries[n] === 0)) for (const n of entryNames) entries[n] = base.entries[n];
      const chunkWeights = { ...base.chunks };
      chunks.forEach((c, i) => {
        chunkWeights[c] = swarm.keep.has(c) ? base.chunks[c] : base.chunks[c] * cs[i]!;
      });
      return {
        entries,
        chunks: chunkWeights,
        nrCpus,
        nrMms,
        vpn: vpn.anywhere + vpn.boundary + vpn.hot === 0 ? { ...vpn, anywhere: 1 } : vpn,
        order: order.zero + order.between + order.largest === 0 ? { ...order, zero: 1 } : order,
        storesIn8,
      };
    });
}
