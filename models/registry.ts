import { ReferenceKernel } from './reference/ReferenceKernel';
import { MUTANTS } from './mutants/index';
import { BatchedKernel } from './batched/BatchedKernel';
import { BatchedNoMigrc } from './batched/BatchedNoMigrc';
import { BatchedGupRuns } from './batched/gupRuns';

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
    summary: 'per page, unbatched, synchronous: the specification by construction',
    role: 'kernel',
    make: () => new ReferenceKernel(),
  },
  {
    name: 'batched',
    summary: 'the five optimizations: PTE-batched zap through an mmu_gather, batched fork, GUP once per PMD leaf (6.12), batched migration with MIGRC, RCU table freeing',
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
    name: 'batched-gup-runs',
    summary: 'a proposal beyond 6.12: the batched kernel with GUP grabbing each run of PTE-mapped subpages of one folio once (6.12 batches only PMD leaves)',
    role: 'kernel',
    make: () => new BatchedGupRuns(),
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
