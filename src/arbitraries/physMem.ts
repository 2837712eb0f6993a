import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import { folioNrPages } from '../../models/machine/geometry';
import type { Op } from '../ops/op';

/**
 * Physical-memory ops (issue 12 item 4; models/machine/physMem.ts): holes in RAM and the
 * allocator's policy. They matter where folios land, so the holes cluster where the first folios
 * of a sequence go under first fit — PFN 0 takes the first PTE table, a folio of order o the
 * first free o-aligned run — at multiples of a folio size and one either side: the frame right
 * after a folio, or the one that pushes the next folio up against it. A few holes anywhere, and a
 * few wide ones, keep the rest of memory in play; the policies put folios at the top of memory
 * and next to whatever a hint points at.
 */
function physMemTargets(g: Geometry): { pfn: fc.Arbitrary<number>; nr: fc.Arbitrary<number> } {
  const order = fc.integer({ min: 0, max: g.maxFolioOrder });
  const boundary = fc
    .tuple(order, fc.integer({ min: 1, max: 4 }), fc.constantFrom(0, 0, -1, 1))
    .map(([o, k, d]) => Math.max(0, k * folioNrPages(o) + d));
  const pfn = fc.oneof({ weight: 4, arbitrary: boundary }, { weight: 1, arbitrary: fc.integer({ min: 0, max: g.nrFrames - 1 }) });
  const block = folioNrPages(g.maxFolioOrder);
  // Narrow holes, or wide ones: made after some folios, a wide hole takes every free frame around
  // them, so each folio it spans now borders a hole (the holes stop at holeBlockBudget() blocks).
  const nr = fc.oneof(
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 }) },
    { weight: 2, arbitrary: fc.constantFrom(block, 2 * block, 8 * block) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: block }) },
  );
  return { pfn, nr };
}

/** A hole in RAM (`memHole`): where the first folios land, or anywhere; narrow or wide. */
export function memHoleArb(g: Geometry): fc.Arbitrary<Op> {
  const { pfn, nr } = physMemTargets(g);
  return fc.record({ kind: fc.constant('memHole' as const), pfn, nr });
}

/** The allocator's policy (`allocPolicy`): lowest first, highest first, or from a hint. */
export function allocPolicyArb(g: Geometry): fc.Arbitrary<Op> {
  const { pfn } = physMemTargets(g);
  return fc.oneof(
    fc.record({ kind: fc.constant('allocPolicy' as const), policy: fc.constantFrom('lowest-first' as const, 'highest-first' as const) }),
    fc.record({ kind: fc.constant('allocPolicy' as const), policy: fc.constant('from' as const), pfn }),
  );
}

/** Either physical-memory op, holes four times as often (the tests draw from it). */
export function physMemOpArb(g: Geometry): fc.Arbitrary<Op> {
  return fc.oneof({ weight: 4, arbitrary: memHoleArb(g) }, { weight: 1, arbitrary: allocPolicyArb(g) });
}
