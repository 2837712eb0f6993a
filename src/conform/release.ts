import { release } from 'node:os';

/** The running kernel's version, as `uname -r` gives it. */
export interface KernelRelease {
  readonly text: string;
  readonly major: number;
  readonly minor: number;
}

export function parseRelease(text: string): KernelRelease | null {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m === null ? null : { text, major: Number(m[1]), minor: Number(m[2]) };
}

export function runningRelease(): KernelRelease {
  return parseRelease(release()) ?? { text: release(), major: 0, minor: 0 };
}

const atLeast = (r: KernelRelease, major: number, minor: number): boolean => r.major > major || (r.major === major && r.minor >= minor);

/**
 * The registered reference kernel whose policy matches a release: 6.15 brought large-folio COW
 * reuse (`__wp_can_reuse_large_anon_folio()`, docs/fidelity/reuse.md), so from 6.15 on it is
 * reference-6.15; before, the 6.12 reference.
 */
export function referenceFor(r: KernelRelease): 'reference' | 'reference-6.15' {
  return atLeast(r, 6, 15) ? 'reference-6.15' : 'reference';
}
