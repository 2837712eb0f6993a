import type { ReferenceKernel } from './reference/ReferenceKernel';
import { ReferenceKernel as Reference612 } from './reference/ReferenceKernel';
import { Reference615 } from './v615/Reference615';
import { Batched615 } from './v615/Batched615';

/**
 * The pristine specification a kernel under test is compared with: kernels of the same COW-reuse
 * policy, since the equivalence oracle would otherwise report 6.15's large-folio reuse as a
 * divergence from 6.12's copy. Chosen by class identity (instanceof), never by name or by anything
 * the kernel says about itself, so a variant cannot pick its own judge: a kernel extending
 * reference-6.15 or batched-6.15 is compared with reference-6.15, every other one with the 6.12
 * reference.
 */
export function specFor(kernel: ReferenceKernel): () => ReferenceKernel {
  if (hasCowReuse615(kernel)) return () => new Reference615();
  return () => new Reference612();
}

/** Whether a kernel follows 6.15's large-folio COW reuse (extends reference-6.15 or batched-6.15). */
export function hasCowReuse615(kernel: ReferenceKernel): boolean {
  return kernel instanceof Reference615 || kernel instanceof Batched615;
}
