import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { specFor } from '../../models/specFor';

/**
 * Whether a kernel under test is checked alone (per-kernel oracles only) rather than side by
 * side with the reference: only when it is an instance of exactly the reference's class. Decided
 * by identity, never by name, so a subclass is compared whatever `name` it claims. The one rule
 * the check, `run`, `explain` and the reports share.
 */
export function runsAlone(kernel: ReferenceKernel, reference: ReferenceKernel = specFor(kernel)()): boolean {
  return Object.getPrototypeOf(kernel) === Object.getPrototypeOf(reference);
}

/** How the check's header names the specification: "reference", or "reference (reference-6.15)" for another policy's. */
export function againstWhom(spec: () => ReferenceKernel): string {
  const name = spec().name;
  return name === 'reference' ? 'reference' : `reference (${name})`;
}
