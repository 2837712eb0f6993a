import { ReferenceKernel } from './reference/ReferenceKernel';
import { MUTANTS } from './mutants/index';
import { BatchedKernel } from './batched/BatchedKernel';
import { BatchedNoMigrc } from './batched/BatchedNoMigrc';
import { Reference615 } from './v615/Reference615';
import { Batched615 } from './v615/Batched615';

/** A registered kernel: a name, one line on what it is, and how to make one. */
export interface KernelEntry {
  readonly name: string;
  readonly summary: string;
  /** 'kernel' for reference/batched, 'mutant' for a deliberately broken one. */
  readonly role: 'kernel' | 'mutant';
  readonly make: () => ReferenceKernel;
}

/** The one list of named kernels. */
export const KERNELS: readonly KernelEntry[] = [
  {
    name: 'reference',
    summary: 'Linux 6.12, per page, unbatched, synchronous: the specification by construction (large folios are never reused on COW, as in 6.12)',
    role: 'kernel',
    make: () => new ReferenceKernel(),
  },
  {
    name: 'batched',
    summary: 'Linux 6.12 with the five optimizations: PTE-batched zap through the page+nr mmu_gather (seed 000, as merged), PTE-batched fork, GUP once per run of a folio (seed 004, wider than 6.12), batched migration with MIGRC (seed 002 v4 plus the review fixes, never merged), RCU table freeing (seed 003)',
    role: 'kernel',
    make: () => new BatchedKernel(),
  },
  {
    name: 'batched-no-migrc',
    summary: 'the batched kernel without MIGRC (not merged upstream): mainline batching, one flush per migration batch',
    role: 'kernel',
    make: () => new BatchedNoMigrc(),
  },
  {
    name: 'reference-6.15',
    summary: "the reference with Linux 6.15's large-folio COW reuse (MM_ID slots, __wp_can_reuse_large_anon_folio(); seed 001): the specification for patches against 6.15 and later",
    role: 'kernel',
    make: () => new Reference615(),
  },
  {
    name: 'batched-6.15',
    summary: "the batched kernel with Linux 6.15's large-folio COW reuse, compared with reference-6.15",
    role: 'kernel',
    make: () => new Batched615(),
  },
  ...MUTANTS.map((mu) => ({ name: mu.name, summary: `${mu.breaks} (${mu.violates})`, role: 'mutant' as const, make: mu.make })),
];

export class UnknownKernelError extends Error {
  constructor(readonly given: string) {
    super(`unknown kernel '${given}'; registered kernels: ${KERNELS.map((k) => k.name).join(', ')} (or a path to a variant .ts file)`);
  }
}

export function kernelEntry(name: string): KernelEntry {
  const k = KERNELS.find((e) => e.name === name);
  if (k === undefined) throw new UnknownKernelError(name);
  return k;
}
