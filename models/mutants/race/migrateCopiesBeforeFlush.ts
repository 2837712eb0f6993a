import type { Machine } from '../../machine/state';
import type { PreemptPoint } from '../../machine/tasks';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { UnmappedFolio } from '../../batched/migrate';
import type { MigrcReq } from '../../batched/migrc';
import type { TlbUbc } from '../../machine/tlbUbc';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';
import { ownPtls } from '../../machine/locks';

/**
 * Breaks: batched migration copies each unmapped folio before the batch's
 * `try_to_unmap_flush()`, and flushes only before remapping.
 * Violates: mm/migrate.c (6.12) `migrate_pages_batch()`: "Flush TLBs for all unmapped folios"
 * (`try_to_unmap_flush()`) comes before `migrate_folios_move()` copies anything. Until the flush,
 * a CPU may still hold a writable, dirty translation of the source (TTU_BATCH_FLUSH deferred it,
 * `set_tlb_ubc_flush_pending()`), and a store through it needs no page walk: it lands on the
 * source. Copied before that, the store is not in the destination, and the source is freed.
 * Caught by: the user-memory oracle (stale_read: a later load returns the value from before the
 * store), or the serialisability oracle (not_serialisable: the store returned, yet the page holds
 * the value from before it when the window closes, which no order of the store and the migration
 * gives) with `--interleave`, a store from the CPU that holds the translation while the
 * migration is preempted at 'migrate: folio copied, before remove_migration_ptes()'; without
 * schedule ops no store runs between the copy and the flush, so it is equivalent to batched.
 */
export class MigrateCopiesBeforeFlush extends BatchedKernel {
  override readonly name: string = 'migrate-copies-before-flush';

  override *migrateFlushAndMoveSteps(
    m: Machine,
    ubc: TlbUbc,
    req: MigrcReq,
    unmappedFolios: readonly UnmappedFolio[],
  ): Generator<PreemptPoint, { moved: number; failed: UnmappedFolio[] }, void> {
    const failed: UnmappedFolio[] = [];
    const copied: UnmappedFolio[] = [];
    for (const u of unmappedFolios) {
      if (!this.migrateFolioCopy(m, u.src, u.dst, u.queued)) {
        failed.push(u);
        continue;
      }
      copied.push(u);
      yield 'migrate: folio copied, before remove_migration_ptes()';
    }
    // The bug: the flush only now, after the copies.
    this.tryToUnmapFlush(m, ubc);
    for (const u of copied) {
      ownPtls(m, () => this.migrateFolioRemap(m, u.dst, u.unmapped)); // remove_migration_ptes() takes each PTL
      this.migrateFolioDone(m, u.src);
      if (u.migrc) this.migrcExpandReq(req, u.src);
    }
    return { moved: copied.length, failed };
  }
}

export const migrateCopiesBeforeFlush: MutantSpec = defineMutant(MigrateCopiesBeforeFlush, {
  breaks: 'migrate_pages_batch() copies the folios before try_to_unmap_flush()',
  violates: 'mm/migrate.c migrate_pages_batch(): try_to_unmap_flush() before migrate_folios_move() copies',
  caughtBy: ['stale_read', 'pin_unreliable', 'not_serialisable'],
  needsInterleave: true,
});
