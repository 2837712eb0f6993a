import type { MmId, Pfn, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { mmAt, pteAt } from '../machine/pgtable';
import { mark } from '../machine/marks';
import type { FolioMapping } from '../machine/rmapWalk';
import { rmapWalk } from '../machine/rmapWalk';
import type { OpResult } from '../result';
import type { PreemptPoint } from '../machine/tasks';
import { overriddenBelow, runToEnd } from '../machine/tasks';
import type { UnmappedMapping } from '../reference/migrate';
import type { TlbUbc } from '../machine/tlbUbc';
import { newTlbUbc, tlbbatchAddPending, tlbbatchFold, tlbUbcClear } from '../machine/tlbUbc';
import type { MigrcReq } from './migrc';
import { BatchedMigrc } from './migrc';
import { lockAcquire, lockRelease, ownPtls } from '../machine/locks';
import { folioLockOf, splitLocked } from '../machine/lockedCall';

/** TLB_FLUSH_BATCH_PENDING_LARGE (mm/rmap.c): half the 15-bit pending field of `tlb_flush_batched`. */
// Stryker disable next-line ArithmeticOperator: the other side is unreachable in the model
export const TLB_FLUSH_BATCH_PENDING_LARGE = Math.floor(((1 << 15) - 1) / 2);

/**
 * The unmap bookkeeping of one folio inside `migrate_pages_batch()`: the task's `tlb_ubc`, the
 * seed's `tlb_ubc_ro` for read-only mappings, and `current->can_migrc`.
 */
export interface MigrateUbc {
  readonly ubc: TlbUbc;
  readonly ro: TlbUbc;
  canMigrc: boolean;
}

/** A folio unmapped in phase 1, waiting for the batch's flush before it is moved. */
export interface UnmappedFolio {
  readonly src: Pfn;
  readonly dst: Pfn;
  readonly unmapped: readonly UnmappedMapping[];
  /** The source was on the deferred split queue before it was unmapped. */
  readonly queued: boolean;
  /** MIGRC keeps the source alive instead of flushing. */
  readonly migrc: boolean;
}

/**
 * Batched migration (mm/migrate.c, 6.12 `migrate_pages_batch()`): phase 1 unmaps every folio of
 * the batch into migration entries without flushing (TTU_BATCH_FLUSH, the owed flush recorded
 * in `tlb_ubc`), then ONE `try_to_unmap_flush()`, then phase 2 moves each folio and frees its
 * source. With MIGRC, a folio whose mappings were all read-only and clean skips the flush. PMD
 * mappings are the exception to both: `set_pmd_migration_entry()` flushes each one at once
 * (`pmdp_invalidate()`), so a PMD-mapped folio owes the batch nothing and MIGRC never defers it.
 *
 * The flush is x86's `arch_tlbbatch_flush()`: a full flush of the CPU mask gathered from the mms
 * unmapped, not per-mm range flushes — one call whatever the number of mms and folios, which is
 * what the batching is for. Keeps: no source is freed before that flush (rule R1 (docs/kernel-semantics.md §10)), and the
 * destination folios are allocated in the reference's order, one per folio, so logical ids match.
 * Simplified: TTU_BATCH_FLUSH is used even when only this CPU ran the mm (`should_defer_flush()`
 * has no "current CPU" to compare with).
 */
export abstract class BatchedMigrate extends BatchedMigrc {
  /**
   * Mirrors `migrate_pages()` (mm/migrate.c, 6.12): the selected folios as one batch, the partially
   * mapped ones split first (`splitForMigration()`, done here before the batch: splitting
   * allocates nothing, so the destinations come in the same order); then the pieces of the split
   * folios as a batch of their own, as `migrate_pages()` does with `split_folios`.
   */
  override migratePages(m: Machine, mm: MmId, start: Vpn, count: number): OpResult {
    const whole: Pfn[] = [];
    const splitFolios: Pfn[] = [];
    for (const head of this.selectFoliosForMigration(m, mm, start, count)) {
      const pieces = this.splitForMigration(m, head);
      if (pieces === null) whole.push(head);
      else splitFolios.push(...pieces);
    }
    return { kind: 'migrated', folios: this.migratePagesBatch(m, whole) + this.migratePagesBatch(m, splitFolios) };
  }

  /**
   * Mirrors `migrate_pages_batch()` (mm/migrate.c, 6.12) with the seed's MIGRC hooks; returns how
   * many folios moved. Phase 1 unmaps (a folio that stays mapped is undone at once by
   * `migrate_folio_unmap()`), one `try_to_unmap_flush()`, phase 2 moves; the folios whose move
   * failed are undone at the end ("Cleanup remaining folios"), MIGRC's hold released first
   * (`migrc_undo_folios()`). Simplified: one pass instead of NR_MAX_MIGRATE_PAGES_RETRY (nothing
   * changes between passes inside one op).
   */
  migratePagesBatch(m: Machine, folios: readonly Pfn[]): number {
    return runToEnd(this.migratePagesBatchSteps(m, folios));
  }


  /**
   * `migratePages()` as a task (issue 11, docs/concurrency.md): the same batches as the plain
   * method, with the points of `migratePagesBatchSteps()`, which the plain `migratePagesBatch()`
   * runs to its end; a kernel that overrides a plain step below this twin does not run migration
   * as a task (src/run/tasks.ts).
   */
  override *migratePagesSteps(m: Machine, mm: MmId, start: Vpn, count: number): Generator<PreemptPoint, number, void> {
    const whole: Pfn[] = [];
    const splitFolios: Pfn[] = [];
    for (const head of this.selectFoliosForMigration(m, mm, start, count)) {
      const pieces = splitLocked(m, head, () => this.splitForMigration(m, head));
      if (pieces === null) whole.push(head);
      else splitFolios.push(...pieces);
    }
    const moved = yield* this.migratePagesBatchSteps(m, whole);
    return moved + (yield* this.migratePagesBatchSteps(m, splitFolios));
  }

  /**
   * `migratePagesBatch()` with preemption points: 'migrate: folio unmapped' after each folio's
   * `try_to_migrate()` in phase 1 — its migration entries are in place, the folio is locked, and
   * the batch's `try_to_unmap_flush()` is owed (other CPUs may still hold the old translations) —
   * then the flush and phase 2 (`migrateFlushAndMoveSteps()`), then the cleanup of the failed ones.
   */
  *migratePagesBatchSteps(m: Machine, folios: readonly Pfn[]): Generator<PreemptPoint, number, void> {
    const ubc = newTlbUbc(m);
    const ro = newTlbUbc(m);
    const req = this.migrcReqStart(m);
    const unmappedFolios: UnmappedFolio[] = [];
    for (const src of folios) {
      // Stryker disable next-line BooleanLiteral: one correct configuration for another
      const batch: MigrateUbc = { ubc, ro, canMigrc: true }; // can_migrc_init()
      // migrate_folio_unmap(): folio_trylock(src) — a trylock, as other folios of the batch are
      // locked already — held until phase 2 is done with it; the rmap walk takes each PTL itself.
      lockAcquire(m, folioLockOf(src), { trylock: true });
      const u = ownPtls(m, () => this.migrateFolioUnmap(m, src, batch));
      if (u === null) lockRelease(m, folioLockOf(src));
      else {
        const migrc = this.canMigrcTest(m, src, batch);
        if (migrc) {
          this.migrcMarkPending(m, src);
          this.foldUbcRoToMigrc(req, ro);
        }
        unmappedFolios.push({ ...u, migrc });
      }
      this.foldUbcRo(ubc, ro);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: a preemption point more or less: more or fewer schedules explored, same behaviour; message text
      if (u !== null) yield 'migrate: folio unmapped';
    }
    const { moved, failed } = yield* this.migrateFlushAndMoveSteps(m, ubc, req, unmappedFolios);
    // Simplified: a moved folio's lock is dropped here, after phase 2, rather than right after
    // its remove_migration_ptes() (no other path of the model takes a folio lock).
    for (const u of unmappedFolios) if (!failed.includes(u)) lockRelease(m, folioLockOf(u.src));
    this.migrcReqEnd(m, req);
    for (const u of failed) {
      if (folioAt(m, u.src).migrcPending) this.migrcUndoFolios(m, u.src);
      ownPtls(m, () => this.migrateFolioUndoSrc(m, u.src, u.unmapped));
      lockRelease(m, folioLockOf(u.src)); // migrate_folio_undo_src(): folio_unlock(src)
      this.migrateFolioUndoDst(m, u.dst);
      this.folioPut(m, u.src); // putback_movable_pages(): the isolation reference
      // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
      mark(m, 'migration undone after the move failed');
    }
    return moved;
  }

  /**
   * The middle of `migrate_pages_batch()` (mm/migrate.c, 6.12): `try_to_unmap_flush()`, then
   * `migrate_folio_move()` for each folio — copy, 'migrate: folio copied, before
   * remove_migration_ptes()', remap — and `migrate_folio_done()`. The flush comes first so that no
   * store through a stale TLB entry can reach a source after it was copied. Returns how many moved
   * and the folios whose move failed (-EAGAIN: a reference beyond the expected ones).
   */
  *migrateFlushAndMoveSteps(
    m: Machine,
    ubc: TlbUbc,
    req: MigrcReq,
    unmappedFolios: readonly UnmappedFolio[],
  ): Generator<PreemptPoint, { moved: number; failed: UnmappedFolio[] }, void> {
    this.tryToUnmapFlush(m, ubc);
    const failed: UnmappedFolio[] = [];
    let moved = 0;
    for (const u of unmappedFolios) {
      // A variant that overrides migrateFolioMove() (migrc-as-posted) has it called whole: no
      // point between the copy and the remap then (such a kernel never runs migration as a task).
      // Stryker disable next-line BlockStatement,ConditionalExpression,StringLiteral: a preemption point more or less: more or fewer schedules explored, same behaviour; the registered kernels run the *Steps twin
      if (overriddenBelow(this, 'migrateFlushAndMoveSteps', 'migrateFolioMove')) {
        // Stryker disable next-line ArrowFunction,BlockStatement,BooleanLiteral,ConditionalExpression: the registered kernels run the *Steps twin
        if (!ownPtls(m, () => this.migrateFolioMove(m, u.src, u.dst, u.unmapped, u.queued))) {
          failed.push(u);
          continue;
        }
      } else {
        if (!this.migrateFolioCopy(m, u.src, u.dst, u.queued)) {
          failed.push(u);
          continue;
        }
        // Stryker disable next-line StringLiteral: message text
        yield 'migrate: folio copied, before remove_migration_ptes()';
        ownPtls(m, () => this.migrateFolioRemap(m, u.dst, u.unmapped)); // remove_migration_ptes(): each PTL in turn
      }
      this.migrateFolioDone(m, u.src);
      if (u.migrc) this.migrcExpandReq(req, u.src);
      moved++;
    }
    return { moved, failed };
  }

  /**
   * Mirrors `can_migrc_test()` (mm/migrate.c, seed 002): the folio's flush may be deferred when no
   * mapping was writable or dirty, at least one read-only one was unmapped, and it is not pending
   * already. Only PTE mappings count: a PMD mapping was flushed at once and never reaches
   * `tlb_ubc_ro`, so a folio mapped only by PMDs is never deferred (a folio that also has
   * read-only PTE mappings elsewhere defers those, as the seed does).
   */
  // Stryker disable next-line BlockStatement: one correct configuration for another
  canMigrcTest(m: Machine, src: Pfn, batch: MigrateUbc): boolean {
    // Stryker disable next-line BooleanLiteral,ConditionalExpression,LogicalOperator: writable/dirty entries are flushed anyway; only a clean read-only source is held longer; one correct configuration for another
    return batch.canMigrc && batch.ro.flushRequired && !folioAt(m, src).migrcPending;
  }

  /**
   * Mirrors `migrate_folio_unmap()` (mm/migrate.c, 6.12): isolate (+1 reference), allocate the
   * destination (`get_new_folio()`), then `try_to_migrate(src, TTU_BATCH_FLUSH)`. If the folio is
   * still mapped afterwards (a maybe-pinned exclusive page refused to be shared), the entries
   * already installed are undone at once (`migrate_folio_undo_src()`), the destination freed, and
   * null returned (-EAGAIN).
   */
  migrateFolioUnmap(m: Machine, src: Pfn, batch: MigrateUbc): Omit<UnmappedFolio, 'migrc'> | null {
    const f = folioAt(m, src);
    this.folioGet(m, src); // folio_isolate_lru()
    const queued = f.deferredSplit;
    const dst = this.allocFolio(m, f.order);
    const unmapped: UnmappedMapping[] = [];
    for (const mp of rmapWalk(m, src)) {
      // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
      const u = this.tryToMigrateOne(m, src, mp, false, batch);
      if (u === null) {
        this.migrateFolioUndoSrc(m, src, unmapped);
        this.migrateFolioUndoDst(m, dst);
        this.folioPut(m, src); // putback: the isolation reference
        // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
        mark(m, 'migration backed off: the folio may be pinned');
        return null;
      }
      unmapped.push(u);
    }
    return { src, dst, unmapped, queued };
  }

  /**
   * Mirrors `try_to_migrate_one()` (mm/rmap.c, 6.12) with TTU_BATCH_FLUSH: as the reference, but a
   * PTE is cleared with `ptep_get_and_clear()` and `set_tlb_ubc_flush_pending()` records who must
   * be flushed — before the share test, so a PTE restored because the folio may be pinned still
   * leaves its (harmless) flush owed, as in the kernel. A PMD mapping never is deferred: its
   * branch (`set_pmd_migration_entry()` → `pmdp_invalidate()`) flushes at once, so it adds
   * nothing to `tlb_ubc` or `tlb_ubc_ro` and cannot make its folio a MIGRC candidate.
   */
  override tryToMigrateOne(m: Machine, src: Pfn, mp: FolioMapping, flushNow: boolean, batch?: MigrateUbc): UnmappedMapping | null {
    if (mp.kind === 'pte' && !flushNow && batch !== undefined) {
      const pte = pteAt(m, mp.mm, mp.vpn);
      // Stryker disable next-line LogicalOperator: the other side is unreachable in the model
      if (pte !== null && pte.kind === 'present') this.setTlbUbcFlushPending(m, batch, mp.mm, pte.writable, pte.dirty);
    }
    return super.tryToMigrateOne(m, src, mp, flushNow);
  }

  /**
   * Mirrors `set_tlb_ubc_flush_pending()` (mm/rmap.c) as the seed changes it: a writable or dirty
   * entry goes to `tlb_ubc` and rules MIGRC out for this folio (`can_migrc_fail()`); a clean
   * read-only one goes to `tlb_ubc_ro`. Simplified: every entry counts as `pte_accessible()`.
   */
  setTlbUbcFlushPending(m: Machine, batch: MigrateUbc, mm: MmId, writable: boolean, dirty: boolean): void {
    // Stryker disable next-line ConditionalExpression,LogicalOperator: one correct configuration for another; visits nothing more that matters
    const into = writable || dirty ? batch.ubc : batch.ro;
    // Stryker disable next-line BooleanLiteral,ConditionalExpression,LogicalOperator: one correct configuration for another; writable/dirty entries are flushed anyway; only a clean read-only source is held longer
    if (writable || dirty) batch.canMigrc = false;
    tlbbatchAddPending(m, into, mm);
    into.flushRequired = true;
    this.incTlbFlushBatched(m, mm);
    // Stryker disable next-line BooleanLiteral,ConditionalExpression: a bit no oracle reads (young, cleared_pmds, private dirty)
    if (dirty) into.writable = true;
  }

  /**
   * The `mm->tlb_flush_batched` update of `set_tlb_ubc_flush_pending()` (mm/rmap.c, 6.12): one more
   * pending batched flush; past TLB_FLUSH_BATCH_PENDING_LARGE both counts restart at 1 and 0 so
   * `pending` can never wrap round to equal `flushed`. The seed leaves it as it is, so the
   * read-only entries MIGRC defers count too.
   */
  incTlbFlushBatched(m: Machine, mm: MmId): void {
    const b = mmAt(m, mm).tlbFlushBatched;
    // Stryker disable next-line BlockStatement,ConditionalExpression,EqualityOperator: visits nothing more that matters; the other side is unreachable in the model
    if (b.pending > TLB_FLUSH_BATCH_PENDING_LARGE) {
      b.pending = 1;
      b.flushed = 0;
    // Stryker disable next-line UpdateOperator: visits nothing more that matters
    } else b.pending++;
  }

  /** Mirrors `fold_ubc_ro()` (mm/rmap.c, seed): the read-only batch joins the normal one. */
  foldUbcRo(ubc: TlbUbc, ro: TlbUbc): void {
    if (!ro.flushRequired) return;
    tlbbatchFold(ubc, ro);
    ubc.flushRequired = true;
    // Stryker disable next-line AssignmentOperator: a bit no oracle reads (young, cleared_pmds, private dirty)
    ubc.writable ||= ro.writable;
    tlbUbcClear(ro);
  }

  /** Mirrors `fold_ubc_ro_to_migrc()` (mm/migrate.c, seed): the read-only batch's CPUs are owed by the MIGRC request instead. */
  // Stryker disable next-line BlockStatement: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
  foldUbcRoToMigrc(req: MigrcReq, ro: TlbUbc): void {
    // Stryker disable next-line BooleanLiteral,ConditionalExpression: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour; visits nothing more that matters
    if (!ro.flushRequired) return;
    tlbbatchFold(req, ro);
    tlbUbcClear(ro);
  }

  /** Mirrors `migrate_folio_done()` (mm/migrate.c): drop the isolation reference; frees the source unless MIGRC holds it. */
  migrateFolioDone(m: Machine, src: Pfn): void {
    this.folioPut(m, src);
  }
}
