import fc from 'fast-check';

/**
 * Arrays drawn at their full length that still shrink to any length. fast-check draws an array's
 * length between its bounds and shrinks it down to the lower bound: with bounds 1..60 a sixth of
 * the sequences have under 10 ops, too few for most bugs; with both bounds at 60 every sequence is
 * long but no counterexample could lose an op. This draws with the fixed-length array and shrinks
 * with the 1..max array over the same items: both are fast-check array arbitraries, whose shrink
 * contexts have the same shape, so the flexible one shrinks the fixed one's values as its own
 * (a test pins this: properties/generation.test.ts).
 *
 * Drawn at full length, fast-check also draws the items with its bias on (small integers and the
 * ends of ranges more often), so the ops of a sequence meet on the same pages, CPUs and mms.
 */
class FullLengthArrayArbitrary<T> extends fc.Arbitrary<T[]> {
  constructor(
    private readonly fixed: fc.Arbitrary<T[]>,
    private readonly flexible: fc.Arbitrary<T[]>,
  ) {
    super();
  }

  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T[]> {
    return this.fixed.generate(mrng, biasFactor);
  }

  canShrinkWithoutContext(value: unknown): value is T[] {
    return this.flexible.canShrinkWithoutContext(value);
  }

  shrink(value: T[], context: unknown): fc.Stream<fc.Value<T[]>> {
    return this.flexible.shrink(value, context);
  }
}

export function fullLengthArrayArb<T>(item: fc.Arbitrary<T>, length: number): fc.Arbitrary<T[]> {
  return new FullLengthArrayArbitrary(fc.array(item, { minLength: length, maxLength: length }), fc.array(item, { minLength: 1, maxLength: length }));
}
