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
    /** How many of the drawn items to keep (all when absent); see fullLengthChunksArb(). */
    private readonly keep?: (items: readonly T[]) => number,
  ) {
    super();
  }

  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T[]> {
    const drawn = this.fixed.generate(mrng, biasFactor);
    if (this.keep === undefined) return drawn;
    const n = this.keep(drawn.value);
    return n === drawn.value.length ? drawn : new fc.Value(drawn.value.slice(0, n), prefixContext(drawn.context, n));
  }

  canShrinkWithoutContext(value: unknown): value is T[] {
    return this.flexible.canShrinkWithoutContext(value);
  }

  shrink(value: T[], context: unknown): fc.Stream<fc.Value<T[]>> {
    return this.flexible.shrink(value, context);
  }
}

/** Arrays of exactly `length` items that shrink to any length (op sequences use fullLengthChunksArb() below). */
export function fullLengthArrayArb<T>(item: fc.Arbitrary<T>, length: number): fc.Arbitrary<T[]> {
  return new FullLengthArrayArbitrary(fc.array(item, { minLength: length, maxLength: length }), fc.array(item, { minLength: 1, maxLength: length }));
}

/**
 * Sequences of exactly `length` items drawn as chunks (one item or several that belong together),
 * at full length as above. A draw of `length` chunks holds more than `length` items; only the
 * chunks that reach `length` are kept, the last one cut. Keeping the rest out of the value
 * matters for shrinking: fast-check shrinks an array by dropping items from its front, and with
 * the surplus chunks kept (and cut off by a map) every drop brought unseen ops in at the end,
 * which could mask the failure; a failure at the end of a sequence then shrank for minutes
 * without getting shorter.
 */
export function fullLengthChunksArb<T>(chunk: fc.Arbitrary<T[]>, length: number): fc.Arbitrary<T[]> {
  const keep = (chunks: readonly T[][]): number => {
    let items = 0;
    for (let i = 0; i < chunks.length; i++) {
      items += chunks[i]!.length;
      if (items >= length) return i + 1;
    }
    return chunks.length;
  };
  const arb = new FullLengthArrayArbitrary(fc.array(chunk, { minLength: length, maxLength: length }), fc.array(chunk, { minLength: 1, maxLength: length }), keep);
  return arb.map((chunks) => chunks.flat().slice(0, length));
}

/** fast-check's array shrink context (ArrayArbitrary.wrapper) for the first n items of a drawn array. */
interface ArrayShrinkContext {
  readonly shrunkOnce: boolean;
  readonly lengthContext: unknown;
  readonly itemsContexts: readonly unknown[];
  readonly startIndex: number;
}

function isArrayShrinkContext(c: unknown): c is ArrayShrinkContext {
  return typeof c === 'object' && c !== null && 'itemsContexts' in c && Array.isArray(c.itemsContexts) && 'startIndex' in c && 'shrunkOnce' in c;
}

function prefixContext(context: unknown, n: number): ArrayShrinkContext {
  // A fast-check upgrade that changes the context's shape fails here, loudly, not by shrinking worse.
  if (!isArrayShrinkContext(context)) throw new Error('fast-check array shrink context has an unknown shape (src/arbitraries/fullLength.ts)');
  return { shrunkOnce: false, lengthContext: undefined, itemsContexts: context.itemsContexts.slice(0, n), startIndex: 0 };
}
