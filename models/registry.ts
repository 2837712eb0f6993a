import { ReferenceKernel } from './reference/ReferenceKernel';
import { MUTANTS } from './mutants/index';
import { BatchedKernel } from './batched/BatchedKernel';
import { BatchedNoMigrc } from './batched/BatchedNoMigrc';
import { BatchedNoRcuTableFree } from './batched/BatchedNoRcuTableFree';

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
    summary: 'the five optimizations: PTE-batched zap through an mmu_gather, batched fork, GUP once per folio, batched migration with MIGRC, RCU table freeing',
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
    name: 'batched-no-rcu-table-free',
    summary: 'the batched kernel on x86 without MMU_GATHER_RCU_TABLE_FREE: page tables freed right after the freed_tables flush IPI, which waits for GUP-fast; no PT reclaim',
    role: 'kernel',
    make: () => new BatchedNoRcuTableFree(),
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
