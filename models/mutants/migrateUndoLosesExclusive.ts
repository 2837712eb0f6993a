import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { UnmappedMapping } from '../reference/migrate';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: when a migration fails after unmapping, `remove_migration_ptes(src, src)` rebuilds the
 * source's mappings as plain readable ones: what the migration entries kept (writable,
 * readable-exclusive) is lost, so an exclusive page comes back shared and read-only.
 * Violates: `migrate_folio_undo_src()` / `remove_migration_pte()` (mm/migrate.c, 6.12): the
 * restored PTE takes write from the entry and RMAP_EXCLUSIVE unless the entry is plain readable;
 * review row 5 ("bugs in the undo path: lost AnonExclusive/dirty/write bits").
 * Caught by: equivalence with the reference (the restored PTE and PageAnonExclusive differ).
 */
export class MigrateUndoLosesExclusive extends BatchedKernel {
  override readonly name: string = 'migrate-undo-loses-exclusive';

  override migrateFolioUndoSrc(m: Machine, src: Pfn, unmapped: readonly UnmappedMapping[]): void {
    super.migrateFolioUndoSrc(m, src, unmapped.map((u) => ({ ...u, access: 'readable' as const })));
  }
}

export const migrateUndoLosesExclusive: MutantSpec = defineMutant(MigrateUndoLosesExclusive, {
  breaks: 'a failed migration restores the source mappings without their write and exclusive bits',
  violates: 'remove_migration_ptes(src, src) restores what the migration entries kept (mm/migrate.c, 6.12); review row 5',
  caughtBy: ['divergence'],
});
