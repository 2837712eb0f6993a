import { UsageError } from '../cli/usageError';
import { editDistance } from './editDistance';
import type { KernelClass } from './kernelMethods';
import { kernelMethodNames, registeredBase, variantMethods } from './kernelMethods';

/**
 * How far (in edits, ignoring case) a helper's name may be from a kernel method's before it is
 * taken for a misspelled override: at most 2, and at most a fifth of the kernel name's length.
 * Typos are one or two slips (a dropped `s`, a swapped pair, a wrong case), so 2 catches them;
 * the fifth keeps short kernel names (`tick`, `drain`, `folioGet`) from claiming every short
 * helper one letter away (`pick`, `train`), and the cap keeps long, related names apart.
 */
export function misspellingThreshold(kernelMethod: string): number {
  return Math.min(2, Math.floor(kernelMethod.length / 5));
}

const distance = (a: string, b: string): number => editDistance(a.toLowerCase(), b.toLowerCase());

/** The kernel methods nearest to `name`, nearest first (ties by name), at most `n`. */
export function closestKernelMethods(name: string, kernel: Iterable<string>, n = 3): string[] {
  return [...kernel]
    .map((k) => ({ k, d: distance(name, k) }))
    .sort((x, y) => x.d - y.d || x.k.localeCompare(y.k))
    .slice(0, n)
    .map((x) => x.k);
}

/** True when `helper`, which is no kernel method, is close enough to one to be a misspelled override. */
export function looksMisspelled(helper: string, kernel: Iterable<string>): boolean {
  for (const k of kernel) if (distance(helper, k) <= misspellingThreshold(k)) return true;
  return false;
}

/**
 * Refuse a variant with a method named almost like a kernel method: the kernel never calls it,
 * so the patch it was meant to model would silently not run and the check would pass.
 */
export function refuseMisspelledOverrides(file: string, Ctor: KernelClass): void {
  const kernel = kernelMethodNames(registeredBase(Ctor));
  const bad = variantMethods(Ctor).helpers.filter((h) => looksMisspelled(h, kernel));
  if (bad.length === 0) return;
  const each = bad.map((h) => `${h}() is no kernel method (closest: ${closestKernelMethods(h, kernel).join(', ')})`).join('; ');
  throw new UsageError(`variant ${file}: ${each}; the kernel would never call it — rename it to the method it overrides, or give a helper a name further from the kernel's`);
}
