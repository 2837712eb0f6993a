import type { MmId } from './ids';
import type { Machine } from './state';

/**
 * `struct tlbflush_unmap_batch` (include/linux/mm_types_task.h; x86 `arch_tlbflush_unmap_batch`):
 * the per-task record of TLB flushes that batched unmapping (TTU_BATCH_FLUSH) still owes, as
 * plain data. On x86 the owed flush is a full flush of a CPU mask.
 */
export interface TlbUbc {
  /** arch.cpumask: CPUs that may still hold translations of what was unmapped. */
  readonly cpus: boolean[];
  /** flush_required. */
  flushRequired: boolean;
  /** writable: a dirty/writable entry may be cached (reclaim must flush before I/O). */
  writable: boolean;
}

export function newTlbUbc(m: Machine): TlbUbc {
  // Stryker disable next-line ArrayDeclaration,BooleanLiteral: visits nothing more that matters; an extra flush or write-protect, or a gather full sooner: more cost, same behaviour; writable/dirty entries are flushed anyway; only a clean read-only source is held longer; a bit no oracle reads (young, cleared_pmds, private dirty)
  return { cpus: new Array<boolean>(m.geometry.nrCpus).fill(false), flushRequired: false, writable: false };
}

/** `arch_tlbbatch_add_pending()` on x86: the CPUs that ran `mm` join the mask. */
export function tlbbatchAddPending(m: Machine, ubc: TlbUbc, mm: MmId): void {
  // Stryker disable next-line ArrayDeclaration,OptionalChaining: the other side is unreachable in the model
  const mask = m.mms[mm]?.cpumask ?? [];
  mask.forEach((on, c) => {
    if (on) ubc.cpus[c] = true;
  });
}

/** `arch_tlbbatch_fold()`: `into` also owes what `from` owes. */
export function tlbbatchFold(into: { readonly cpus: boolean[] }, from: { readonly cpus: readonly boolean[] }): void {
  from.cpus.forEach((on, c) => {
    if (on) into.cpus[c] = true;
  });
}

/** `arch_tlbbatch_clear()` plus the flags: nothing owed. */
// Stryker disable next-line BlockStatement: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
export function tlbUbcClear(ubc: TlbUbc): void {
  // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
  ubc.cpus.fill(false);
  // Stryker disable next-line BooleanLiteral: writable/dirty entries are flushed anyway; only a clean read-only source is held longer
  ubc.flushRequired = false;
  // Stryker disable next-line BooleanLiteral: a bit no oracle reads (young, cleared_pmds, private dirty)
  ubc.writable = false;
}
