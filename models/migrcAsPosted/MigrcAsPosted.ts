import type { CpuId, MmId, Pfn, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { folioAt, folioHead } from '../machine/frames';
import { mark } from '../machine/marks';
import type { KernelSteps } from '../machine/tasks';
import { isZeroPfn } from '../machine/zeroPage';
import type { MigrcReleasePoint } from '../tracepoints';
import { assertNever } from '../assertNever';
import type { OpResult } from '../result';
import type { UnmappedMapping } from '../reference/migrate';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MigrateUbc } from '../batched/migrate';
import { folioClearMigrc, folioSetMigrc, folioTestClearMigrc, folioTestMigrc } from './pgMigrc';

/**
 * MIGRC exactly as posted: seed 002, "[v4 2/3] mm: Defer TLB flush by keeping both src and dst
 * folios at migration" (Byungchul Park, 2023-11-09, against v6.6-rc5), applied to the model's
 * 6.12 batched kernel, registered with role 'posted-patch': checked as posted, never a default.
 * A check holds on it: the mprotect() hole of its review is closed by 6.12's
 * `flush_tlb_batched_pending()` in `change_pte_range()`, and its known race (a write fault on a
 * destination between `remove_migration_ptes()` and `migrc_req_end()`) needs interleaved ops
 * (issue 11). `batched` keeps the model's MIGRC; docs/fidelity/migrc.md compares the two.
 *
 * What the patch has, and this kernel does:
 * - PG_migrc on the source AND the destination (`migrc_mark_pending()`); a folio that still
 *   carries it is never deferred again (`!folio_test_migrc(folio)` in `migrate_pages_batch()`).
 *   The destination keeps the flag after a flush; only a write fault on it or its reallocation
 *   clears it.
 * - Its release points and no others: `do_wp_page()` when the faulting folio has PG_migrc
 *   (`migrc_unpend_if_pending()` → `migrc_flush_free_folios(NULL)`), and
 *   `get_page_from_freelist()` below the watermark (inherited from `batched`). No release on a
 *   PMD write fault, on mprotect(), or when time passes: the patch has none of them.
 * - `migrc_undo_folios()` for a pair whose move failed.
 *
 * Not modelled: the v4 series' patch 3/3 (`migrc_pause()` in `__alloc_pages_slowpath()`, another
 * memory-pressure flush: the model's allocator has no slow path), the per-node `migrc_reqs` lists
 * (one global list; `migrc_flush_free_folios(NULL)` flushes every node anyway) and
 * `migrc_pending_nr` counted as free memory in the watermark check (as in `batched`).
 */
export class MigrcAsPosted extends BatchedKernel {
  override readonly name: string = 'migrc-as-posted';

  /**
   * Mirrors the seed's `can_migrc` in `migrate_pages_batch()` (mm/migrate.c): `mreq &&
   * can_migrc_test() && !folio_test_migrc(folio)`. The last test is what `batched` lacks: a
   * folio with PG_migrc — a destination of an earlier MIGRC migration that no write fault has
   * touched since ("case1" of `migrc_under_processing()`) — is migrated with a flush.
   */
  override canMigrcTest(m: Machine, src: Pfn, batch: MigrateUbc): boolean {
    if (!super.canMigrcTest(m, src, batch)) return false;
    if (!folioTestMigrc(m, src)) return true;
    mark(m, 'migrc-as-posted kept a PG_migrc folio out of MIGRC');
    return false;
  }

  /** Mirrors `migrc_mark_pending()` (mm/migrate.c, seed 002) for the source: the extra reference, and PG_migrc. */
  override migrcMarkPending(m: Machine, src: Pfn): void {
    super.migrcMarkPending(m, src);
    folioSetMigrc(m, src);
  }

  /**
   * Mirrors `migrate_folio_move()` (mm/migrate.c) with the other half of the seed's
   * `migrc_mark_pending()`: the destination of a deferred pair gets PG_migrc too. The seed sets
   * it in phase 1; nothing reads the destination's flag before its move, so setting it here, where
   * the pair is known, is the same (`batched` hands the mark only the source).
   */
  override migrateFolioMove(m: Machine, src: Pfn, dst: Pfn, unmapped: readonly UnmappedMapping[], srcQueued: boolean): boolean {
    if (this.migrcUnderProcessingSrc(m, src)) folioSetMigrc(m, dst);
    return super.migrateFolioMove(m, src, dst, unmapped, srcQueued);
  }

  /**
   * The source half of `migrc_under_processing()` (mm/migrate.c, seed 002): the source was marked
   * by this batch (it is pending) and carries PG_migrc — "case3", the only one MIGRC works on.
   */
  migrcUnderProcessingSrc(m: Machine, src: Pfn): boolean {
    const f = folioAt(m, src);
    return f.migrcPending && f.pgMigrc;
  }

  /**
   * Mirrors `migrc_undo_folios()` (mm/migrate.c, seed 002), run from `migrate_pages_batch()`'s
   * cleanup for a deferred pair whose move failed (`batched` calls it before
   * `migrate_folio_undo_src()`): clear PG_migrc and drop the extra source reference. The seed's
   * comment says the flushes are "already done at this moment"; they are not (the read-only batch
   * went to the request, not to `tlb_ubc`), but `remove_migration_ptes(src, src)` maps the source
   * again, so a stale read-only entry to it is harmless. The destination's flag goes with the
   * destination (`migrate_folio_undo_dst()` frees it; a new folio starts with PG_migrc clear).
   */
  override migrcUndoFolios(m: Machine, src: Pfn): void {
    folioClearMigrc(m, src);
    super.migrcUndoFolios(m, src);
  }

  /**
   * Mirrors `do_wp_page()` (mm/memory.c, 6.12) with the seed's hook at its start (after the
   * folio is looked up, before reuse or copy, unshare faults included): if the faulting folio
   * has PG_migrc, clear it and flush and free every pending source. A write fault on a folio
   * without the flag — or on the shared zero page, which has no folio — flushes nothing, even with
   * flushes pending. Overrides the twin `doWpPageSteps()` (the plain `doWpPage()` runs it), so the
   * hook runs for a COW fault that is a task too.
   */
  override *doWpPageSteps(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pte: PresentPte, unshare: boolean): KernelSteps {
    // The shared zero page has no folio (vm_normal_page() NULL), so no PG_migrc to test.
    const folio = isZeroPfn(m, pte.pfn) ? null : folioHead(m, pte.pfn);
    if (folio !== null && folioTestClearMigrc(m, folio)) {
      mark(m, 'migrc-as-posted write fault cleared PG_migrc');
      if (this.migrcFlushFreeFolios(m)) mark(m, 'migrc released by write fault');
    } else if (m.migrc.pending.length > 0) {
      mark(m, 'migrc-as-posted write fault with flushes pending and no PG_migrc');
    }
    yield* super.doWpPageSteps(m, cpu, mm, v, pte, unshare);
  }

  /**
   * The release points of `batched` that the posted patch has, and those it has not: only
   * `get_page_from_freelist()`'s (memory pressure) is in the patch. `batched` also gives up on
   * every write or unshare fault (PTE and PMD) and on a tick; the patch does not,
   * and its own `do_wp_page()` test is in `doWpPageSteps` above.
   */
  override migrcGiveUp(m: Machine, why: MigrcReleasePoint): void {
    switch (why) {
      case 'memory pressure':
        super.migrcGiveUp(m, why);
        return;
      case 'write fault':
      case 'tick':
        return;
      default:
        assertNever(why);
    }
  }

  /**
   * End of a sequence (a model step, no kernel function): the harness needs a quiescent machine,
   * so the pending sources are flushed and freed first, as the patch's allocator hook would once
   * free memory ran short. Drain is the last op, so this hides nothing a later op could have seen.
   */
  override drain(m: Machine): OpResult {
    this.migrcFlushFreeFolios(m);
    return super.drain(m);
  }
}
