import type { CpuId, MmId, Vpn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import { pmdAt, pmdIndexOf, pteAt } from '../../machine/pgtable';
import type { FaultKind } from '../../reference/faults';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: the page fault treats a PTE migration entry as an empty PTE: instead of waiting for the
 * migration it maps a new zeroed page over the entry (`do_anonymous_page()`).
 * Violates: mm/memory.c (6.12) `handle_pte_fault()` sends every non-present PTE to
 * `do_swap_page()`, whose `is_migration_entry(entry)` branch calls `migration_entry_wait()`: the
 * fault sleeps on the locked folio and returns 0, so the access is retried after
 * `remove_migration_ptes()` has mapped the new folio; only `pte_none()` reaches
 * `do_anonymous_page()`. Mapping over the entry loses the page's data, and
 * `remove_migration_pte()` then finds no entry to remap (page_vma_mapped_walk() skips it).
 * Caught by: the user-memory oracle (stale_read: the load returns 0, or a later load reads the
 * new page instead of the data stored before the migration), or stale_tlb_divergent_write (a
 * store into the new page while another CPU still holds the unflushed translation of the
 * source, before the batch's flush), or the ledger (deferred_split_missing: a large folio's
 * destination comes out partially mapped without being queued for a deferred split) with
 * `--interleave`, a load from a
 * CPU without the translation while a migration is preempted; without schedule ops no fault
 * ever meets a migration entry, so it is equivalent to batched.
 */
export class FaultIgnoresMigrationEntry extends BatchedKernel {
  override readonly name: string = 'fault-ignores-migration-entry';

  override handleMmFault(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, kind: FaultKind): void {
    const pte = pmdAt(m, mm, pmdIndexOf(m, v)).kind === 'table' ? pteAt(m, mm, v) : null;
    // The bug: a migration entry taken for pte_none().
    if (pte !== null && pte.kind === 'migration' && kind !== 'unshare') {
      this.doAnonymousPage(m, mm, v, kind === 'write');
      return;
    }
    super.handleMmFault(m, cpu, mm, v, kind);
  }
}

export const faultIgnoresMigrationEntry: MutantSpec = defineMutant(FaultIgnoresMigrationEntry, {
  breaks: 'a fault maps a new page over a migration entry instead of waiting (migration_entry_wait())',
  violates: 'mm/memory.c do_swap_page(): is_migration_entry() → migration_entry_wait(), retry the access',
  caughtBy: ['stale_read', 'pin_unreliable', 'stale_tlb_divergent_write', 'deferred_split_missing', 'mapcount_mismatch', 'refcount_mismatch'],
  needsInterleave: true,
});
