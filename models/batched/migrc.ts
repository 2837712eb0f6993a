import type { MigrcReleasePoint } from '../tracepoints';
import type { CpuId, MmId, Pfn, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte, Pte } from '../machine/pte';
import { folioAt, freeFrameCount } from '../machine/frames';
import { mark } from '../machine/marks';
import type { KernelSteps, PreemptPoint } from '../machine/tasks';
import type { OpResult } from '../result';
import type { FaultKind } from '../reference/faults';
import { BatchedGup } from './gup';

/** `struct migrc_req`: the source folios one migration batch kept alive, and the CPUs whose flush they wait for. */
export interface MigrcReq {
  readonly folios: Pfn[];
  readonly cpus: boolean[];
}

/**
 * MIGRC (seed 002, "mm: Defer TLB flush by keeping both src and dst folios at migration"): a
 * folio whose mappings were all read-only (and clean) is migrated without a TLB flush; the source
 * is kept alive with an extra reference (`folio.migrcPending`, on `m.migrc.pending`) so that a
 * stale read-only TLB entry still reads valid data, equal to the destination's. This file holds
 * the pending list and every point that must give the deferral up; migrate.ts decides which folios
 * are deferred.
 *
 * Keeps rule R3 (docs/kernel-semantics.md §10): no translation becomes writable while a CPU may still
 * hold a stale entry to a source folio. The seed gives up in `do_wp_page()` when the faulting
 * folio is a pending destination; the model has no destination flag in Machine and gives up on
 * every write (or unshare) fault instead — `do_anonymous_page()` for a store and every
 * `do_swap_page()` too (a swap-in may map the page writable) — a superset — needed: without a write-fault release a
 * check fails in three ops (load, migrate, store; docs/fidelity/migrc.md). The hole Nadav Amit
 * pointed out (mprotect() upgrading a PTE to writable without a fault) is not the seed's to
 * close: mainline's own `flush_tlb_batched_pending()` at the top of `change_pte_range()`
 * (BatchedMprotect.changePteRange) flushes the mm before any upgrade, because the seed leaves
 * `set_tlb_ubc_flush_pending()`'s `mm->tlb_flush_batched` bump in place for the read-only entries
 * it defers (BatchedMigrate.incTlbFlushBatched); so `batched` has no mprotect release point (an
 * earlier version gave up in `change_pte_range()` and `change_huge_pmd()`). The PMD write-fault
 * give-up (`doHugePmdWpPage`) is not needed either: a PMD mapping is never deferred
 * (`set_pmd_migration_entry()` flushes at once), and a PMD leaf can only come to cover an address
 * whose PTE was cleared with a flush first, so no stale entry to a source lies under one. It stays
 * as a harmless superset of the write-fault release.
 * Neither the seed nor this file covers a write fault that lands between `remove_migration_ptes()`
 * and `migrc_req_end()` (the request is not yet on the pending list, so the release finds nothing
 * to flush): that race needs interleaved ops (issue 11).
 */
export abstract class BatchedMigrc extends BatchedGup {
  /** Mirrors `migrc_req_start()` (mm/migrate.c): an empty request for one migration batch. */
  migrcReqStart(m: Machine): MigrcReq {
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    return { folios: [], cpus: new Array<boolean>(m.geometry.nrCpus).fill(false) };
  }

  /** Mirrors `migrc_mark_pending()` (mm/migrate.c): keep the source alive past `migrate_folio_done()`. */
  migrcMarkPending(m: Machine, src: Pfn): void {
    this.folioGet(m, src);
    folioAt(m, src).migrcPending = true;
  }

  /**
   * Mirrors `folio_migrate_mapping()`'s expected count as the seed changes it (mm/migrate.c,
   * seed 002: `if (migrc_under_processing(folio, newfolio)) expected_count++`): the reference
   * `migrc_mark_pending()` took is expected, so MIGRC alone never makes a move fail.
   */
  override migrateExpectedRefs(m: Machine, src: Pfn): number {
    return super.migrateExpectedRefs(m, src) + (folioAt(m, src).migrcPending ? 1 : 0);
  }

  /**
   * Mirrors `migrc_undo_folios()` (mm/migrate.c, seed 002), called for a folio whose move failed:
   * the pending flag goes and the reference `migrc_mark_pending()` took is dropped (the source is
   * mapped again by the undo, so the stale read-only entries still point at the right page).
   */
  migrcUndoFolios(m: Machine, src: Pfn): void {
    folioAt(m, src).migrcPending = false;
    this.folioPut(m, src);
  }

  /** Mirrors `migrc_expand_req()` (mm/migrate.c): the moved source joins the request. */
  migrcExpandReq(req: MigrcReq, src: Pfn): void {
    req.folios.push(src);
  }

  /** Mirrors `migrc_req_end()` (mm/migrate.c): publish the request's folios and CPUs on the global pending list. */
  migrcReqEnd(m: Machine, req: MigrcReq): void {
    if (req.folios.length === 0) return;
    m.migrc.pending.push(...req.folios);
    req.cpus.forEach((on, c) => {
      if (on) m.migrc.cpus[c] = true;
    });
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    mark(m, 'migrc deferred a flush');
  }

  /**
   * Mirrors `migrc_flush_free_folios()` (mm/migrate.c): one flush of every CPU the pending folios
   * wait for, then drop the references that kept the sources alive (frees them). Returns whether
   * anything was pending.
   */
  migrcFlushFreeFolios(m: Machine): boolean {
    // Stryker disable next-line BooleanLiteral: tracepoint only (coverage, not behaviour)
    if (m.migrc.pending.length === 0) return false;
    this.archTlbbatchFlush(m, m.migrc.cpus);
    const folios = m.migrc.pending;
    m.migrc.pending = [];
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    m.migrc.cpus.fill(false);
    for (const src of folios) {
      // Stryker disable next-line BooleanLiteral: visits nothing more that matters
      folioAt(m, src).migrcPending = false;
      this.folioPut(m, src);
    }
    // Stryker disable next-line BooleanLiteral: tracepoint only (coverage, not behaviour)
    return true;
  }

  /** Give the deferral up before `why` makes something writable; the tracepoint says which release point fired. */
  migrcGiveUp(m: Machine, why: MigrcReleasePoint): void {
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    if (this.migrcFlushFreeFolios(m)) mark(m, `migrc released by ${why}`);
  }

  /**
   * Mirrors `do_wp_page()` (mm/memory.c) with the seed's hook at its start: flush and free the
   * pending folios before the fault can reuse a page as writable or install a copy. Overrides the
   * twin (`doWpPageSteps()`), which the plain `doWpPage()` runs, so the hook runs for a store
   * whose COW fault is a task as well (issue 11).
   */
  override *doWpPageSteps(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pte: PresentPte, unshare: boolean): KernelSteps {
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    this.migrcGiveUp(m, 'write fault');
    yield* super.doWpPageSteps(m, cpu, mm, v, pte, unshare);
  }

  /**
   * Mirrors `do_anonymous_page()` (mm/memory.c, 6.12) with the write-fault release: a store maps a
   * new page writable where a CPU may still hold a read-only entry to a pending source (the PTE was
   * cleared by a reclaim still in flight, whose flush is owed). Not in the seed, which gives up in
   * `do_wp_page()` only: found by the interleaved soak once reclaim became a task (issue 13).
   */
  override *doAnonymousPageSteps(m: Machine, mm: MmId, v: Vpn, write = true): Generator<PreemptPoint, void, void> {
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    if (write) this.migrcGiveUp(m, 'write fault');
    yield* super.doAnonymousPageSteps(m, mm, v, write);
  }

  /**
   * Mirrors `do_swap_page()` (mm/memory.c, 6.12) with the write-fault release: a swap-in maps the
   * page writable when it is exclusive (for a load too, clean: the next store needs no fault), while
   * a CPU may still hold a read-only entry to the pending source the swapped-out page was migrated
   * from (a preempted reclaim owes its flush). Not in the seed: found by the interleaved soak
   * (seed 29002, realistic) once reclaim became a task (issue 13).
   */
  override doSwapPage(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, orig: Extract<Pte, { kind: 'swap' }>, kind: FaultKind): void {
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    this.migrcGiveUp(m, 'write fault');
    super.doSwapPage(m, cpu, mm, v, orig, kind);
  }

  /** Mirrors `do_huge_pmd_wp_page()` (mm/huge_memory.c) with the same give-up point as `do_wp_page()` (not needed: see the class comment). */
  override doHugePmdWpPage(m: Machine, mm: MmId, i: number, kind: FaultKind): boolean {
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    this.migrcGiveUp(m, 'write fault');
    return super.doHugePmdWpPage(m, mm, i, kind);
  }

  /**
   * Mirrors the seed's hook in `get_page_from_freelist()` (mm/page_alloc.c): when free memory is
   * short (fewer free frames than geometry.migrcFreeWatermark), free the pending folios before
   * allocating. Simplified: the seed also counts pending pages as free in the watermark check.
   */
  override allocFolio(m: Machine, order: number): Pfn {
    // Stryker disable next-line LogicalOperator,StringLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour; tracepoint only (coverage, not behaviour)
    if (m.migrc.pending.length > 0 && freeFrameCount(m) < m.geometry.migrcFreeWatermark) this.migrcGiveUp(m, 'memory pressure');
    return super.allocFolio(m, order);
  }

  /** Time passes: the deferred flush happens (as the next `arch_tlbbatch_flush()` would), then RCU callbacks run. */
  override tick(m: Machine): OpResult {
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    this.migrcGiveUp(m, 'tick');
    return super.tick(m);
  }

  /** Drain: as the reference, and nothing may stay pending. */
  override drain(m: Machine): OpResult {
    const r = super.drain(m);
    // Stryker disable next-line StringLiteral: tracepoint only (coverage, not behaviour)
    this.migrcGiveUp(m, 'tick');
    // Stryker disable next-line StringLiteral: message text
    this.warnOn(m, m.migrc.pending.length > 0, 'MIGRC folios still pending after drain');
    return r;
  }
}
