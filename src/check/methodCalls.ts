import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';

/**
 * Counts, per watched kernel method, the generated sequences that called it. Each kernel
 * instance (one per sequence) gets the watched methods replaced on the instance by a wrapper
 * that notes the call and forwards to the class's method; since every internal call goes through
 * `this`, every call the kernel makes is seen. Only instances passed to `watch` are touched.
 */
export class MethodCalls {
  private readonly sequences = new Map<string, number>();
  private readonly current = new Set<string>();

  constructor(private readonly methods: readonly string[]) {
    for (const name of methods) this.sequences.set(name, 0);
  }

  watch(kernel: ReferenceKernel): ReferenceKernel {
    if (this.methods.length === 0) return kernel;
    const target = kernel as unknown as Record<string, unknown>;
    for (const name of this.methods) {
      const method = target[name];
      if (typeof method !== 'function') continue;
      const current = this.current;
      target[name] = function (this: unknown, ...args: unknown[]): unknown {
        current.add(name);
        return (method as (...a: unknown[]) => unknown).apply(this, args);
      };
    }
    return kernel;
  }

  /** The watched methods the sequence running now has called so far. */
  calledThisSequence(): ReadonlySet<string> {
    return this.current;
  }

  /** The sequence run by the last watched instance is over: count what it called. */
  endSequence(): void {
    for (const name of this.current) this.sequences.set(name, (this.sequences.get(name) ?? 0) + 1);
    this.current.clear();
  }

  /** The sequence was cut short (`--time`): what it called is not counted, as it is not checked. */
  discardSequence(): void {
    this.current.clear();
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.sequences);
  }
}
