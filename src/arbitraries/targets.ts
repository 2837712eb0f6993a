import fc from 'fast-check';
import type { Geometry } from '../../models/machine/geometry';
import type { GenProfile } from './profile';

/** A CPU an op names: one of the profile's (all the machine's in the uniform profile). */
export function cpuArb(p: GenProfile): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: p.nrCpus - 1 });
}

/** An mm index an op names (resolved among the live mms when the op runs). */
export function mmArb(p: GenProfile): fc.Arbitrary<number> {
  return fc.integer({ min: 0, max: p.nrMms - 1 });
}

/** Whether a user access stores: a fair coin as fc.boolean() (it shrinks a store to a load); otherwise the profile's share. */
export function writeArb(p: GenProfile): fc.Arbitrary<boolean> {
  return p.storesIn8 === 4 ? fc.boolean() : fc.integer({ min: 0, max: 7 }).map((x) => x < p.storesIn8);
}

/** fc.oneof over the entries of positive weight (a profile may give some 0: never drawn). */
export function weighted<T>(choices: ReadonlyArray<{ weight: number; arbitrary: fc.Arbitrary<T> }>): fc.Arbitrary<T> {
  const on = choices.filter((c) => c.weight > 0);
  if (on.length === 0) throw new Error('a generator profile with every choice at weight 0');
  return fc.oneof(...on);
}

/**
 * The first of the two hot pages, inside the second table and on no folio or table boundary: the
 * page many entries and chunks revisit, because bugs that need several ops on one page (a fault,
 * a migration and a store from another CPU; a zap preempted under a load) rarely meet by chance
 * among all the pages of an mm. The second hot page is the one after it.
 */
export function hotPage(g: Geometry): number {
  return g.ptrsPerPte + 5;
}

/** One of the two hot pages. */
export function hotPagesArb(g: Geometry): fc.Arbitrary<number> {
  const hot = hotPage(g);
  return fc.integer({ min: hot, max: hot + 1 });
}
