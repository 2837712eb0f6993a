import { folioNrPages } from '../machine/geometry';
import type { MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { MigrationAccess } from '../machine/pte';
import { folioAt, folioHead, frameAt, splitFolioFrames } from '../machine/frames';
import { folioTestAnon } from '../machine/files';
import { mark } from '../machine/marks';
import { pmdAt, pmdIndexOf, pteAt, setPmd, setPte } from '../machine/pgtable';
import { PTE_NONE } from '../machine/pte';
import type { FolioMapping } from '../machine/rmapWalk';
import { rmapWalk } from '../machine/rmapWalk';
import { isZeroPfn } from '../machine/zeroPage';
import { swapSlot } from '../machine/swap';
import type { OpResult } from '../result';
import type { PreemptPoint } from '../machine/tasks';
import { ProtectPaths } from './protect';
import { lockAcquire, lockRelease, ownPtls } from '../machine/locks';
import { folioLockOf, splitLocked } from '../machine/lockedCall';

/** A mapping taken down for migration, with what its migration entry remembers. */
export interface UnmappedMapping {
  readonly mapping: FolioMapping;
  /** Page index inside the folio (0 for a PMD mapping). */
  readonly index: number;
  readonly access: MigrationAccess;
  readonly dirty: boolean;
  /** The young bit, kept in the entry (`make_migration_entry_young()`: x86 has room for A/D). */
  readonly young: boolean;
}

/** What `try_to_migrate()` left: the entries it installed, and whether the folio is still mapped. */
export interface TryToMigrateResult {
  readonly unmapped: UnmappedMapping[];
  /**
   * `folio_mapped(src)` afterwards: a mapping whose PageAnonExclusive could not be shared (the
   * folio may be pinned) was restored and the rmap walk stopped there.
   */
  readonly stillMapped: boolean;
}

/**
 * Page migration (NUMA balancing, demotion): unmap every mapping of the folio into migration
 * entries, flush, copy to a new folio, remap, free the source. The reference does one folio at
 * a time and flushes each PTE as it clears it. A migration can fail at two points, as in 6.12:
 * while unmapping (`folio_try_share_anon_rmap_pte()` refuses a maybe-pinned exclusive page) and
 * after unmapping (the move finds references beyond the isolation one); either way the entries
 * already installed are turned back into mappings of the source (`remove_migration_ptes(src, src)`).
 */
export abstract class MigratePaths extends ProtectPaths {
  /**
   * Mirrors `migrate_pages()` (mm/migrate.c) for up to `count` distinct folios mapped in mm from
   * `start` upwards, as `migrate_misplaced_folio()` or demotion would select them. Returns how
   * many were migrated.
   */
  migratePages(m: Machine, mm: MmId, start: Vpn, count: number): OpResult {
    let n = 0;
    const splitFolios: Pfn[] = [];
    for (const head of this.selectFoliosForMigration(m, mm, start, count)) {
      const pieces = this.splitForMigration(m, head);
      if (pieces !== null) splitFolios.push(...pieces);
      else if (this.migrateFolio(m, head)) n++;
    }
    for (const p of splitFolios) if (this.migrateFolio(m, p)) n++;
    return { kind: 'migrated', folios: n };
  }

  /**
   * The first step of `migrate_pages_batch()` (mm/migrate.c, 6.12) for one folio: one with more
   * than two pages, on the deferred split list and PG_partially_mapped (in the model
   * `deferredSplit`, set when an rmap removal left it partially mapped) is split first with
   * `try_split_folio()`. On success the pieces wait on `split_folios`, which `migrate_pages()`
   * migrates after the rest as order-0 folios: the pieces still mapped are returned; an unmapped
   * one holds only the list's reference and goes when it is dropped (`migrate_folio_unmap()`:
   * "Folio was freed from under us"). Null when the folio is migrated whole: not partially
   * mapped, or the split failed (-EAGAIN: a pin or another reference), in which case 6.12 goes on
   * to migrate it whole, and the same reference makes that fail too.
   */
  splitForMigration(m: Machine, head: Pfn): Pfn[] | null {
    const f = folioAt(m, head);
    if (folioNrPages(f.order) <= 2 || !f.deferredSplit) return null;
    this.folioGet(m, head); // isolated on the migration list
    const pieces = this.trySplitFolio(m, head);
    if (pieces === null) {
      this.folioPut(m, head);
      return null;
    }
    const mapped = pieces.filter((p) => frameAt(m, p).mapcount > 0);
    for (const p of pieces) this.folioPut(m, p);
    return mapped;
  }

  /**
   * Mirrors `try_split_folio()` → `split_folio_to_list()` → `split_huge_page_to_list_to_order()`
   * (mm/huge_memory.c, 6.12) to order 0 for an anonymous folio the caller has isolated:
   * `can_split_folio()` (every reference but the caller's is a mapping; a pin, a GUP reference or
   * a GUP-fast walk's grab fails it with -EAGAIN, here null) before anything is touched; then
   * `unmap_folio()` (PMD mappings split first, TTU_SPLIT_HUGE_PMD, then every mapping becomes a
   * migration entry), `__split_huge_page()`, and `remap_page()` (`remove_migration_ptes()` onto
   * each new folio, so every PTE keeps its bits and its page's PageAnonExclusive). Returns the
   * order-0 folios, each with one reference for the caller.
   * Simplified: `unmap_folio()` batches its flush (TTU_BATCH_FLUSH, then `try_to_unmap_flush()`);
   * here each PTE is flushed as it is cleared, which leaves the same TLBs at the end of the op.
   */
  trySplitFolio(m: Machine, head: Pfn): Pfn[] | null {
    const f = folioAt(m, head);
    // The swap cache's references are expected too (can_split_folio()'s extra_pins).
    const cache = f.swap !== null ? folioNrPages(f.order) : 0;
    if (f.refcount - 1 - cache !== f.largeMapcount) return null;
    for (const mp of rmapWalk(m, head)) if (mp.kind === 'pmd') this.splitHugePmd(m, mp.mm, mp.pmdIndex);
    const r = this.tryToMigrate(m, head, true);
    if (r.stillMapped || f.refcount !== 1 + cache) {
      // folio_ref_freeze() failed (cannot happen after can_split_folio() in one op): remap_page(), -EAGAIN.
      this.migrateFolioUndoSrc(m, head, r.unmapped);
      return null;
    }
    const pieces = splitFolioFrames(m, head);
    for (const u of r.unmapped) this.removeMigrationPte(m, asPfn(head + u.index), { ...u, index: 0 });
    mark(m, 'migration split a partially mapped folio');
    return pieces;
  }

  /**
   * Distinct folios mapped in mm from `start` on, in address order (isolate_migratepages /
   * `queue_pages_range()`, mm/mempolicy.c, 6.12). The shared zero page is skipped
   * (`queue_folios_pte_range()`: `vm_normal_folio()` NULL → `continue`). Simplified (issue 14):
   * so are file folios — their migration and reclaim are not modelled yet.
   */
  selectFoliosForMigration(m: Machine, mm: MmId, start: Vpn, count: number): Pfn[] {
    const out: Pfn[] = [];
    const top = m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
    for (let v = start; v < top && out.length < count; v++) {
      const pmd = pmdAt(m, mm, pmdIndexOf(m, asVpn(v)));
      let head: Pfn | null = null;
      if (pmd.kind === 'leaf') head = pmd.pfn;
      else {
        const pte = pteAt(m, mm, asVpn(v));
        if (pte !== null && pte.kind === 'present' && !isZeroPfn(m, pte.pfn)) head = folioHead(m, pte.pfn);
      }
      if (head !== null && folioTestAnon(folioAt(m, head)) && !out.includes(head)) out.push(head);
    }
    return out;
  }

  /**
   * Mirrors `folio_expected_ref_count()` (include/linux/mm.h, 6.12.y / 6.16) for an anon folio:
   * one reference per mapping, plus one per page while it is in the swap cache. Migration asks it
   * once the folio is unmapped, when only the swap cache's are left.
   */
  folioExpectedRefCount(m: Machine, head: Pfn): number {
    const f = folioAt(m, head);
    const cache = f.swap !== null ? folioNrPages(f.order) : 0;
    return cache + (f.order > 0 ? f.largeMapcount : frameAt(m, head).mapcount);
  }

  /**
   * Mirrors the reference count `__migrate_folio()` (mm/migrate.c, 6.12) demands of the unmapped
   * source: `folio_expected_refs()` = 1 for an anon folio without a mapping (the isolation
   * reference), plus whatever mappings are left. Anything beyond it — a GUP reference, a pin, a
   * GUP-fast walk's grab — makes the move fail with -EAGAIN after the folio was unmapped.
   */
  migrateExpectedRefs(m: Machine, src: Pfn): number {
    return this.folioExpectedRefCount(m, src) + 1;
  }

  /**
   * Mirrors `unmap_and_move()` (mm/migrate.c, before batched migration in 6.3; the same steps as
   * 6.12's `migrate_folio_unmap()` + `migrate_folio_move()` for one folio in MIGRATE_SYNC mode):
   * isolate (+1 reference), allocate the destination, `try_to_migrate()` without TTU_BATCH_FLUSH
   * (each PTE flushed as it is cleared), then either move (copy, `remove_migration_ptes(src, dst)`,
   * free the source) or — when the folio stayed mapped or the move finds extra references —
   * undo: `remove_migration_ptes(src, src)`, free the destination, put the source back.
   * Simplified: the kernel retries -EAGAIN up to NR_MAX_MIGRATE_PAGES_RETRY times; nothing can
   * change between two tries inside one op, so one try decides.
   */
  migrateFolio(m: Machine, src: Pfn): boolean {
    const f = folioAt(m, src);
    this.folioGet(m, src); // folio_isolate_lru()
    const queued = f.deferredSplit;
    const dst = this.allocFolio(m, f.order);
    const r = this.tryToMigrate(m, src, true);
    if (!r.stillMapped && this.migrateFolioMove(m, src, dst, r.unmapped, queued)) {
      this.folioPut(m, src); // migrate_folio_done(): the isolation reference, the last one
      return true;
    }
    this.migrateFolioUndoSrc(m, src, r.unmapped);
    this.migrateFolioUndoDst(m, dst);
    this.folioPut(m, src); // putback_movable_pages(): the isolation reference
    return false;
  }

  /**
   * Mirrors `try_to_migrate()` (mm/rmap.c): `try_to_migrate_one()` on every mapping found by the
   * rmap walk, stopping at the first one that fails (rmap_one returning false ends `rmap_walk()`).
   */
  tryToMigrate(m: Machine, src: Pfn, flushNow: boolean): TryToMigrateResult {
    const unmapped: UnmappedMapping[] = [];
    for (const mp of rmapWalk(m, src)) {
      const u = this.tryToMigrateOne(m, src, mp, flushNow);
      if (u === null) return { unmapped, stillMapped: true };
      unmapped.push(u);
    }
    return { unmapped, stillMapped: false };
  }

  /**
   * Mirrors `try_to_migrate_one()` (mm/rmap.c, 6.12) for one mapping. A PMD mapping goes to
   * `setPmdMigrationEntry()`. For a PTE: note PageAnonExclusive, clear the PTE — flushed here
   * with `flushNow` (`ptep_clear_flush()`), otherwise the caller owes a batched flush
   * (`set_tlb_ubc_flush_pending()`) — then, for an exclusive page, `folio_try_share_anon_rmap_pte()`:
   * if the folio may be pinned the PTE is restored as it was and the walk stops (null). Otherwise
   * the migration entry records writable / readable-exclusive / readable with dirty and young,
   * and the rmap and the mapping's reference are dropped.
   */
  tryToMigrateOne(m: Machine, src: Pfn, mp: FolioMapping, flushNow: boolean): UnmappedMapping | null {
    if (mp.kind === 'pmd') return this.setPmdMigrationEntry(m, src, mp);
    const pte = pteAt(m, mp.mm, mp.vpn);
    if (pte === null || pte.kind !== 'present') throw new Error('rmap walk returned a stale PTE mapping');
    const anonExclusive = frameAt(m, pte.pfn).anonExclusive;
    setPte(m, mp.mm, mp.vpn, PTE_NONE);
    if (flushNow) this.flushTlbPage(m, mp.mm, mp.vpn);
    // See folio_try_share_anon_rmap_pte(): clear PTE first.
    if (anonExclusive && !this.folioTryShareAnonRmapPte(m, src, pte.pfn)) {
      setPte(m, mp.mm, mp.vpn, pte);
      return null;
    }
    const access = migrationAccess(pte.writable, anonExclusive);
    setPte(m, mp.mm, mp.vpn, { kind: 'migration', pfn: pte.pfn, access });
    this.folioRemoveRmapPtes(m, pte.pfn, 1, mp.mm);
    this.folioPut(m, src);
    return { mapping: mp, index: pte.pfn - src, access, dirty: pte.dirty, young: pte.young };
  }

  /**
   * Mirrors `folio_try_share_anon_rmap_pte()` → `__folio_try_share_anon_rmap()`
   * (include/linux/rmap.h, 6.12): before an exclusive page is unmapped into a migration entry,
   * PageAnonExclusive is cleared — unless `folio_maybe_dma_pinned()`, which fails with -EBUSY
   * (here false). The caller has cleared (and, unbatched, flushed) the PTE first, so a GUP-fast
   * walk that pins after this test fails its PTE recheck (the A1–A4 / B1–B5 ordering of rmap.h).
   */
  folioTryShareAnonRmapPte(m: Machine, src: Pfn, page: Pfn): boolean {
    if (this.folioMaybeDmaPinned(m, src)) return false;
    frameAt(m, page).anonExclusive = false;
    return true;
  }

  /** Mirrors `folio_try_share_anon_rmap_pmd()` (include/linux/rmap.h, 6.12): as the PTE version, on the head, where a PMD mapping keeps PageAnonExclusive. */
  folioTryShareAnonRmapPmd(m: Machine, head: Pfn): boolean {
    if (this.folioMaybeDmaPinned(m, head)) return false;
    frameAt(m, head).anonExclusive = false;
    return true;
  }

  /**
   * Mirrors `set_pmd_migration_entry()` (mm/huge_memory.c, 6.12), the PMD branch of
   * `try_to_migrate_one()` under CONFIG_ARCH_ENABLE_THP_MIGRATION: `pmdp_invalidate()` flushes
   * the PMD's range at once; for an exclusive head `folio_try_share_anon_rmap_pmd()` may refuse
   * (maybe pinned: the leaf is restored, -EBUSY, here null); then a PMD migration entry
   * (writable, readable-exclusive, or readable) replaces it, and the PMD rmap and the mapping's
   * reference are dropped. There is no deferred variant: only the PTE branch of
   * `try_to_migrate_one()` asks `should_defer_flush()`, so TTU_BATCH_FLUSH (and with it
   * `tlb_ubc`, `tlb_ubc_ro` and MIGRC) never sees a PMD mapping.
   */
  setPmdMigrationEntry(m: Machine, src: Pfn, mp: Extract<FolioMapping, { kind: 'pmd' }>): UnmappedMapping | null {
    const pmd = this.pmdpInvalidate(m, mp.mm, mp.pmdIndex);
    const anonExclusive = frameAt(m, src).anonExclusive;
    if (anonExclusive && !this.folioTryShareAnonRmapPmd(m, src)) {
      setPmd(m, mp.mm, mp.pmdIndex, pmd);
      return null;
    }
    const access = migrationAccess(pmd.writable, anonExclusive);
    setPmd(m, mp.mm, mp.pmdIndex, { kind: 'migration', pfn: pmd.pfn, access });
    this.folioRemoveRmapPmd(m, src, mp.mm);
    this.folioPut(m, src);
    return { mapping: mp, index: 0, access, dirty: pmd.dirty, young: pmd.young };
  }

  /**
   * Mirrors `migrate_folio_undo_src()` (mm/migrate.c, 6.12) for a folio that was mapped:
   * `remove_migration_ptes(src, src)`, so every entry becomes a mapping of the source again with
   * the write, dirty, young and PageAnonExclusive bits its entry kept.
   */
  migrateFolioUndoSrc(m: Machine, src: Pfn, unmapped: readonly UnmappedMapping[]): void {
    for (const u of unmapped) this.removeMigrationPte(m, src, u);
  }

  /** Mirrors `migrate_folio_undo_dst()` (mm/migrate.c): no `put_new_folio`, so `folio_put(dst)` frees it. */
  migrateFolioUndoDst(m: Machine, dst: Pfn): void {
    this.folioPut(m, dst);
  }

  /**
   * Mirrors `migrate_folio_move()` (mm/migrate.c, 6.12): `__migrate_folio()` first checks that the
   * source holds no reference beyond `migrateExpectedRefs()` (else -EAGAIN, false: nothing was
   * copied and the caller undoes the unmap); then copy the contents (`folio_mc_copy()`) and the
   * deferred-split state the source had before it was unmapped (`srcQueued`), then
   * `remove_migration_ptes(src, dst)`: each entry becomes a mapping of the new folio, exclusive
   * unless the entry was plain readable; then drop the allocation reference.
   */
  migrateFolioMove(m: Machine, src: Pfn, dst: Pfn, unmapped: readonly UnmappedMapping[], srcQueued: boolean): boolean {
    if (!this.migrateFolioCopy(m, src, dst, srcQueued)) return false;
    this.migrateFolioRemap(m, dst, unmapped);
    return true;
  }

  /**
   * The first half of `migrate_folio_move()` (mm/migrate.c, 6.12): `__migrate_folio()`'s
   * reference check (false: -EAGAIN, nothing copied), then `folio_mc_copy()` and the deferred-split
   * state. A migration task stops after it, before `migrateFolioRemap()`.
   */
  migrateFolioCopy(m: Machine, src: Pfn, dst: Pfn, srcQueued: boolean): boolean {
    const sf = folioAt(m, src);
    if (sf.refcount !== this.migrateExpectedRefs(m, src)) return false;
    for (let k = 0; k < folioNrPages(sf.order); k++) {
      frameAt(m, asPfn(dst + k), 'folio_mc_copy()').content = frameAt(m, asPfn(src + k), 'folio_mc_copy()').content;
    }
    m.stats.pagesCopied += folioNrPages(sf.order);
    folioAt(m, dst).deferredSplit = srcQueued;
    this.folioMigrateSwapCache(m, src, dst);
    return true;
  }

  /**
   * The swap-cache half of `folio_migrate_mapping()` and `folio_migrate_flags()` (mm/migrate.c,
   * 6.12): a source in the swap cache hands its slots to the destination (`folio->swap`, the
   * cache's entries and their references move over), and PG_dirty and PG_swapbacked go with the
   * data.
   */
  folioMigrateSwapCache(m: Machine, src: Pfn, dst: Pfn): void {
    const sf = folioAt(m, src);
    const df = folioAt(m, dst);
    df.dirty = sf.dirty;
    df.swapbacked = sf.swapbacked;
    if (sf.swap === null) return;
    const nr = folioNrPages(sf.order);
    for (let k = 0; k < nr; k++) swapSlot(m, sf.swap + k).cached = asPfn(dst + k);
    df.swap = sf.swap;
    sf.swap = null;
    df.refcount += nr;
    sf.refcount -= nr;
  }

  /** The second half of `migrate_folio_move()` (mm/migrate.c, 6.12): `remove_migration_ptes(src, dst)`, then drop the allocation reference. */
  migrateFolioRemap(m: Machine, dst: Pfn, unmapped: readonly UnmappedMapping[]): void {
    for (const u of unmapped) this.removeMigrationPte(m, dst, u);
    this.folioPut(m, dst);
  }

  /**
   * `migratePages()` as a task (issue 11, docs/concurrency.md), one folio at a time as the
   * reference migrates: after `try_to_migrate()` ('migrate: folio unmapped'; each PTE was flushed
   * as it was cleared, so nothing is owed) and after the copy ('migrate: folio copied, before
   * remove_migration_ptes()'). The same steps as `migratePages()` → `migrateFolio()`, which keep
   * their bodies so that a variant overriding them keeps working; a kernel that overrides one of
   * them below this twin does not run migration as a task (src/run/tasks.ts). Returns how many
   * folios moved. Simplified: the folios are selected up front and each is isolated when its turn
   * comes (the kernel isolates them all while queueing).
   */
  *migratePagesSteps(m: Machine, mm: MmId, start: Vpn, count: number): Generator<PreemptPoint, number, void> {
    let n = 0;
    const splitFolios: Pfn[] = [];
    for (const head of this.selectFoliosForMigration(m, mm, start, count)) {
      const pieces = splitLocked(m, head, () => this.splitForMigration(m, head));
      if (pieces !== null) splitFolios.push(...pieces);
      else if (yield* this.migrateFolioSteps(m, head)) n++;
    }
    for (const p of splitFolios) if (yield* this.migrateFolioSteps(m, p)) n++;
    return n;
  }

  /** `migrateFolio()` with its two preemption points (see `migratePagesSteps()`). */
  *migrateFolioSteps(m: Machine, src: Pfn): Generator<PreemptPoint, boolean, void> {
    const f = folioAt(m, src);
    this.folioGet(m, src); // folio_isolate_lru()
    const queued = f.deferredSplit;
    const dst = this.allocFolio(m, f.order);
    // migrate_folio_unmap(): folio_trylock(src) until migrate_folio_move()/undo unlocks it; the
    // rmap walks take each mapping's PTL themselves (page_vma_mapped_walk()).
    const lock = folioLockOf(src);
    lockAcquire(m, lock, { trylock: true });
    const r = ownPtls(m, () => this.tryToMigrate(m, src, true));
    if (!r.stillMapped) {
      yield 'migrate: folio unmapped';
      if (this.migrateFolioCopy(m, src, dst, queued)) {
        yield 'migrate: folio copied, before remove_migration_ptes()';
        ownPtls(m, () => this.migrateFolioRemap(m, dst, r.unmapped));
        lockRelease(m, lock); // folio_unlock(src)
        this.folioPut(m, src); // migrate_folio_done()
        return true;
      }
    }
    ownPtls(m, () => this.migrateFolioUndoSrc(m, src, r.unmapped));
    lockRelease(m, lock);
    this.migrateFolioUndoDst(m, dst);
    this.folioPut(m, src); // putback_movable_pages()
    return false;
  }

  /**
   * Mirrors `remove_migration_pte()` (mm/migrate.c, 6.12) for one entry, remapping it to `dst`
   * (the new folio, or the source itself when undoing): write from the entry, young and dirty as
   * the entry kept them, RMAP_EXCLUSIVE unless the entry was plain readable. No flush: the entry
   * was non-present.
   */
  removeMigrationPte(m: Machine, dst: Pfn, u: UnmappedMapping): void {
    if (u.mapping.kind === 'pmd') {
      this.removeMigrationPmd(m, dst, u.mapping, u.dirty, u.young);
      return;
    }
    // page_vma_mapped_walk() finds only this folio's migration entry: where something else
    // replaced it inside a migration task's window (a fault that mapped over it, in a broken
    // kernel), there is nothing to remap.
    const cur = pteAt(m, u.mapping.mm, u.mapping.vpn);
    if (cur === null || cur.kind !== 'migration') return;
    const writable = u.access === 'writable';
    const exclusive = u.access !== 'readable';
    this.folioGet(m, dst);
    const page = asPfn(dst + u.index);
    this.folioAddAnonRmapPtes(m, page, 1, exclusive, u.mapping.mm);
    setPte(m, u.mapping.mm, u.mapping.vpn, { kind: 'present', pfn: page, writable, dirty: u.dirty, young: u.young });
  }

  /**
   * Mirrors `remove_migration_pmd()` (mm/huge_memory.c, 6.12): the PMD migration entry becomes a
   * PMD leaf of the new folio, writable if the entry was writable, with an entire mapping that is
   * PageAnonExclusive (RMAP_EXCLUSIVE) unless the entry was plain readable, and one reference.
   * Dirty and young as the old leaf was (the kernel: folio dirty and entry dirty; the entry's
   * young bit). No flush: the entry was non-present.
   */
  removeMigrationPmd(m: Machine, dst: Pfn, mp: Extract<FolioMapping, { kind: 'pmd' }>, dirty: boolean, young: boolean): void {
    const entry = pmdAt(m, mp.mm, mp.pmdIndex);
    if (entry.kind !== 'migration') throw new Error(`remove_migration_pmd: mm ${mp.mm} pmd ${mp.pmdIndex} holds a ${entry.kind}, not a migration entry`);
    this.folioGet(m, dst);
    this.folioAddAnonRmapPmd(m, dst, entry.access !== 'readable', mp.mm);
    setPmd(m, mp.mm, mp.pmdIndex, { kind: 'leaf', pfn: dst, writable: entry.access === 'writable', dirty, young });
  }
}

/** make_{writable,readable_exclusive,readable}_migration_entry(). */
function migrationAccess(writable: boolean, exclusive: boolean): MigrationAccess {
  if (writable) return 'writable';
  return exclusive ? 'readableExclusive' : 'readable';
}
