import { KERNELS } from '../../models/registry';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';

/** A kernel class a variant file exports: made with no arguments, like the registered ones. */
export type KernelClass = new () => ReferenceKernel;

/** The method names of what a variant extends and what it adds (see variantMethods). */
export interface VariantMethods {
  /** Kernel methods the variant's own classes define again: the functions the patch changes. */
  readonly overrides: string[];
  /** Methods of the variant's own classes that no kernel has: its helpers. */
  readonly helpers: string[];
}

// The registry holds factories, not classes; one instance of each gives its class, by identity.
let registered: ReadonlySet<unknown> | null = null;
function registeredClasses(): ReadonlySet<unknown> {
  registered ??= new Set<unknown>(KERNELS.map((k) => k.make().constructor));
  return registered;
}

/** Methods (and accessors) a prototype defines itself, without its constructor. */
function ownMethodNames(proto: object): string[] {
  return Object.getOwnPropertyNames(proto).filter((n) => {
    if (n === 'constructor') return false;
    const d = Object.getOwnPropertyDescriptor(proto, n);
    return d !== undefined && (typeof d.value === 'function' || d.get !== undefined || d.set !== undefined);
  });
}

/** The class's parent class (its constructor's prototype), or null at the top. */
function parentOf(c: object): object | null {
  const p: unknown = Object.getPrototypeOf(c);
  return typeof p === 'function' ? p : null;
}

/**
 * The nearest registered kernel class on `Ctor`'s chain (ReferenceKernel, BatchedKernel,
 * BatchedNoMigrc or a mutant): what the variant patches. `Ctor` itself when it is registered.
 */
export function registeredBase(Ctor: KernelClass): KernelClass {
  const known = registeredClasses();
  for (let c: object | null = Ctor; c !== null; c = parentOf(c)) if (known.has(c)) return c as KernelClass;
  // Unreachable for a ReferenceKernel subclass: ReferenceKernel itself is registered.
  throw new Error(`${Ctor.name} extends no registered kernel`);
}

/** Every method on the prototype chain of `base`: the kernel functions a variant of it may override. */
export function kernelMethodNames(base: KernelClass): ReadonlySet<string> {
  const names = new Set<string>();
  for (let p: object | null = base.prototype; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const n of ownMethodNames(p)) names.add(n);
  }
  return names;
}

/**
 * The methods the variant's own classes (from `Ctor` up to, not including, its registered base)
 * define, split into overrides of kernel methods and the variant's own helpers; each sorted.
 */
export function variantMethods(Ctor: KernelClass): VariantMethods {
  const base = registeredBase(Ctor);
  const kernel = kernelMethodNames(base);
  const own = new Set<string>();
  for (let c: object | null = Ctor; c !== null && c !== base; c = parentOf(c)) {
    const proto: unknown = (c as { prototype?: unknown }).prototype;
    if (typeof proto === 'object' && proto !== null) for (const n of ownMethodNames(proto)) own.add(n);
  }
  const names = [...own].sort();
  return { overrides: names.filter((n) => kernel.has(n)), helpers: names.filter((n) => !kernel.has(n)) };
}
