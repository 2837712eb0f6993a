import { ReferenceKernel } from './reference/ReferenceKernel';
import { assertNever } from './assertNever';
import { MUTANTS } from './mutants/index';
import { RACE_MUTANTS } from './mutants/race/index';
import { RARE_MUTANTS } from './mutants/rare/index';
import { BatchedKernel } from './batched/BatchedKernel';
import { BatchedNoMigrc } from './batched/BatchedNoMigrc';
import { Reference615 } from './v615/Reference615';
import { Batched615 } from './v615/Batched615';
import { MigrcAsPosted } from './migrcAsPosted/MigrcAsPosted';

/**
 * What a registered kernel is, so listings and defaults treat it right:
 * - 'kernel': correct; a check must hold (reference, batched, batched-no-migrc);
 * - 'mutant': one deliberate bug; the kill matrix must catch it (models/mutants/);
 * - 'posted-patch': a patch as it was posted to the list, bugs included, checked as posted: a check
 *   may hold (what its review found may need interleaved ops, or be closed by the base kernel) or
 *   fail; its fidelity doc says which and why. Never a default or part of the soak.
 */
export type KernelRole = 'kernel' | 'mutant' | 'posted-patch';
import { BatchedGupRuns } from './batched/gupRuns';
import { BatchedNoRcuTableFree } from './batched/BatchedNoRcuTableFree';

/** A registered kernel: a name, one line on what it is, and how to make one. */
export interface KernelEntry {
  readonly name: string;
  readonly summary: string;
  readonly role: KernelRole;
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
    summary: 'Linux 6.12 with the five optimizations: PTE-batched zap through the page+nr mmu_gather (seed 000, as merged), PTE-batched fork, GUP per PTE and once per PMD leaf (6.12; seed 004\'s run batching is batched-gup-runs), batched migration with MIGRC (seed 002 v4 plus the review fixes, never merged), RCU table freeing (seed 003)',
    role: 'kernel',
    make: () => new BatchedKernel(),
  },
  {
    name: 'batched-no-migrc',
    summary: 'Linux 6.12 batching without MIGRC (which was never merged): the batched kernel with one flush per migration batch, plus RCU table freeing (seed 003)',
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
  {
    name: 'migrc-as-posted',
    summary:
      "Linux 6.12 batching + MIGRC exactly as posted (seed 002, v4 2/3): PG_migrc, do_wp_page and allocator release points only; has a known race that needs interleaved ops (a write fault before migrc_req_end()), none found by the atomic model (mprotect's hole is closed by 6.12's flush_tlb_batched_pending()): docs/fidelity/migrc.md",
    role: 'posted-patch',
    make: () => new MigrcAsPosted(),
  },
  {
    name: 'batched-gup-runs',
    summary: 'a proposal beyond 6.12: the batched kernel with GUP grabbing each run of PTE-mapped subpages of one folio once (6.12 batches only PMD leaves)',
    role: 'kernel',
    make: () => new BatchedGupRuns(),
  },
  {
    name: 'batched-no-rcu-table-free',
    summary: 'the batched kernel on x86 without MMU_GATHER_RCU_TABLE_FREE: page tables freed right after the freed_tables flush IPI, which waits for GUP-fast; no PT reclaim',
    role: 'kernel',
    make: () => new BatchedNoRcuTableFree(),
  },
  ...MUTANTS.map((mu) => ({ name: mu.name, summary: `${mu.breaks} (${mu.violates})`, role: 'mutant' as const, make: mu.make })),
  ...RACE_MUTANTS.map((mu) => ({ name: mu.name, summary: `${mu.breaks} (${mu.violates}); a race: check it with --interleave`, role: 'mutant' as const, make: mu.make })),
  ...RARE_MUTANTS.map((mu) => ({ name: mu.name, summary: `${mu.breaks} (${mu.violates}); needs a rare combination (docs/reach.md)`, role: 'mutant' as const, make: mu.make })),
];

/** What `mmcheck models` prints for a role: whether a check of it is expected to hold (a posted patch: see its summary). */
export function roleDescription(role: KernelRole): string {
  switch (role) {
    case 'kernel':
      return 'kernel (must hold)';
    case 'mutant':
      return 'mutant (must fail)';
    case 'posted-patch':
      return 'posted patch (checked as posted)';
    default:
      return assertNever(role);
  }
}

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
