import { folioNrPages } from '../machine/geometry';
import type { MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { MigrationAccess } from '../machine/pte';
import { folioAt, folioHead, frameAt } from '../machine/frames';
import { pmdAt, pmdIndexOf, pteAt, setPmd, setPte } from '../machine/pgtable';
import type { FolioMapping } from '../machine/rmapWalk';
import { rmapWalk } from '../machine/rmapWalk';
import type { OpResult } from '../result';
import { ProtectPaths } from './protect';

/** A mapping taken down for migration, with what its migration entry remembers. */
export interface UnmappedMapping {
  readonly mapping: FolioMapping;
  /** Page index inside the folio (0 for a PMD mapping). */
  readonly index: number;
  readonly access: MigrationAccess;
  readonly dirty: boolean;
}

/**
 * Page migration (NUMA balancing, demotion): unmap every mapping of the folio into migration
 * entries, flush, copy to a new folio, remap, free the source. The reference does one folio at
 * a time and flushes each PTE as it clears it.
 */
export abstract class MigratePaths extends ProtectPaths {
  /**
   * Mirrors `migrate_pages()` (mm/migrate.c) for up to `count` distinct folios mapped in mm from
   * `start` upwards, as `migrate_misplaced_folio()` or demotion would select them. Returns how
   * many were migrated.
   */
  migratePages(m: Machine, mm: MmId, start: Vpn, count: number): OpResult {
    let n = 0;
    for (const head of this.selectFoliosForMigration(m, mm, start, count)) if (this.migrateFolio(m, head)) n++;
    return { kind: 'migrated', folios: n };
  }

  /** Distinct folios mapped in mm from `start` on, in address order (isolate_migratepages / queue_pages_range). */
  selectFoliosForMigration(m: Machine, mm: MmId, start: Vpn, count: number): Pfn[] {
    const out: Pfn[] = [];
    const top = m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
    for (let v = start; v < top && out.length < count; v++) {
      const pmd = pmdAt(m, mm, pmdIndexOf(m, asVpn(v)));
      let head: Pfn | null = null;
      if (pmd.kind === 'leaf') head = pmd.pfn;
      else {
        const pte = pteAt(m, mm, asVpn(v));
        if (pte !== null && pte.kind === 'present') head = folioHead(m, pte.pfn);
      }
      if (head !== null && !out.includes(head)) out.push(head);
    }
    return out;
  }

  /**
   * Mirrors `folio_expected_ref_count()` (include/linux/mm.h) for an unswapped anon folio: one
   * reference per mapping. Anything beyond it (a GUP reference or pin) makes migration fail with
   * -EAGAIN, which is why pinned folios are never migrated.
   */
  folioExpectedRefCount(m: Machine, head: Pfn): number {
    const f = folioAt(m, head);
    return f.order > 0 ? f.largeMapcount : frameAt(m, head).mapcount;
  }

  /**
   * Mirrors `unmap_and_move()` (mm/migrate.c, before batched migration in 6.3): one folio,
   * synchronously: isolate (+1 reference), unmap each mapping with an immediate flush
   * (`try_to_migrate()` without TTU_BATCH_FLUSH), copy, remap (`remove_migration_ptes()`), and
   * free the source (`migrate_folio_done()`).
   */
  migrateFolio(m: Machine, src: Pfn): boolean {
    const f = folioAt(m, src);
    if (f.refcount !== this.folioExpectedRefCount(m, src)) return false;
    this.folioGet(m, src); // folio_isolate_lru()
    const queued = f.deferredSplit;
    const dst = this.allocFolio(m, f.order);
    const unmapped = rmapWalk(m, src).map((mp) => this.tryToMigrateOne(m, src, mp, true));
    this.migrateFolioMove(m, src, dst, unmapped, queued);
    this.folioPut(m, src); // migrate_folio_done(): the isolation reference, the last one
    return true;
  }

  /**
   * Mirrors `try_to_migrate_one()` (mm/rmap.c) for one mapping: replace it by a migration entry
   * that remembers writable / readable-exclusive / readable, drop the rmap and the mapping's
   * reference. A PMD mapping goes to `setPmdMigrationEntry()`, which flushes at once whatever
   * `flushNow` says. For a PTE, with `flushNow` the translation is flushed here
   * (`ptep_clear_flush()`); otherwise the caller owes a batched flush (`set_tlb_ubc_flush_pending()`).
   */
  tryToMigrateOne(m: Machine, src: Pfn, mp: FolioMapping, flushNow: boolean): UnmappedMapping {
    if (mp.kind === 'pmd') return this.setPmdMigrationEntry(m, src, mp);
    const pte = pteAt(m, mp.mm, mp.vpn);
    if (pte === null || pte.kind !== 'present') throw new Error('rmap walk returned a stale PTE mapping');
    const access = migrationAccess(pte.writable, frameAt(m, pte.pfn).anonExclusive);
    setPte(m, mp.mm, mp.vpn, { kind: 'migration', pfn: pte.pfn, access });
    if (flushNow) this.flushTlbPage(m, mp.mm, mp.vpn);
    this.folioRemoveRmapPtes(m, pte.pfn, 1, mp.mm);
    this.folioPut(m, src);
    return { mapping: mp, index: pte.pfn - src, access, dirty: pte.dirty };
  }

  /**
   * Mirrors `set_pmd_migration_entry()` (mm/huge_memory.c, 6.12), the PMD branch of
   * `try_to_migrate_one()` under CONFIG_ARCH_ENABLE_THP_MIGRATION: `pmdp_invalidate()` flushes
   * the PMD's range at once, then a PMD migration entry (writable, readable-exclusive from the
   * head's PageAnonExclusive, or readable) replaces it, and the PMD rmap and the mapping's
   * reference are dropped. There is no deferred variant: only the PTE branch of
   * `try_to_migrate_one()` asks `should_defer_flush()`, so TTU_BATCH_FLUSH (and with it
   * `tlb_ubc`, `tlb_ubc_ro` and MIGRC) never sees a PMD mapping.
   * Simplified as the PTE branch is (row 13): no `folio_try_share_anon_rmap_pmd()`.
   */
  setPmdMigrationEntry(m: Machine, src: Pfn, mp: Extract<FolioMapping, { kind: 'pmd' }>): UnmappedMapping {
    const pmd = this.pmdpInvalidate(m, mp.mm, mp.pmdIndex);
    const access = migrationAccess(pmd.writable, frameAt(m, src).anonExclusive);
    setPmd(m, mp.mm, mp.pmdIndex, { kind: 'migration', pfn: pmd.pfn, access });
    this.folioRemoveRmapPmd(m, src, mp.mm);
    this.folioPut(m, src);
    return { mapping: mp, index: 0, access, dirty: pmd.dirty };
  }

  /**
   * Mirrors `migrate_folio_move()` (mm/migrate.c): copy the contents (`folio_mc_copy()`) and the
   * deferred-split state the source had before it was unmapped (`srcQueued`), then
   * `remove_migration_ptes()`: each entry becomes a PTE of the new folio, exclusive unless the
   * entry was plain readable; then drop the allocation reference.
   */
  migrateFolioMove(m: Machine, src: Pfn, dst: Pfn, unmapped: readonly UnmappedMapping[], srcQueued: boolean): void {
    const sf = folioAt(m, src);
    for (let k = 0; k < folioNrPages(sf.order); k++) {
      frameAt(m, asPfn(dst + k)).content = frameAt(m, asPfn(src + k)).content;
    }
    m.stats.pagesCopied += folioNrPages(sf.order);
    folioAt(m, dst).deferredSplit = srcQueued;
    for (const u of unmapped) this.removeMigrationPte(m, dst, u);
    this.folioPut(m, dst);
  }

  /** Mirrors `remove_migration_pte()` (mm/migrate.c) for one entry; no flush: the entry was non-present. */
  removeMigrationPte(m: Machine, dst: Pfn, u: UnmappedMapping): void {
    if (u.mapping.kind === 'pmd') {
      this.removeMigrationPmd(m, dst, u.mapping, u.dirty);
      return;
    }
    const writable = u.access === 'writable';
    const exclusive = u.access !== 'readable';
    this.folioGet(m, dst);
    const page = asPfn(dst + u.index);
    this.folioAddAnonRmapPtes(m, page, 1, exclusive, u.mapping.mm);
    setPte(m, u.mapping.mm, u.mapping.vpn, { kind: 'present', pfn: page, writable, dirty: u.dirty, young: true });
  }

  /**
   * Mirrors `remove_migration_pmd()` (mm/huge_memory.c, 6.12): the PMD migration entry becomes a
   * PMD leaf of the new folio, writable if the entry was writable, with an entire mapping that is
   * PageAnonExclusive (RMAP_EXCLUSIVE) unless the entry was plain readable, and one reference.
   * Dirty as the old leaf was (the kernel: folio dirty and entry dirty). No flush: the entry was
   * non-present. Simplified as the PTE path is: the new leaf is young.
   */
  removeMigrationPmd(m: Machine, dst: Pfn, mp: Extract<FolioMapping, { kind: 'pmd' }>, dirty: boolean): void {
    const entry = pmdAt(m, mp.mm, mp.pmdIndex);
    if (entry.kind !== 'migration') throw new Error(`remove_migration_pmd: mm ${mp.mm} pmd ${mp.pmdIndex} holds a ${entry.kind}, not a migration entry`);
    this.folioGet(m, dst);
    this.folioAddAnonRmapPmd(m, dst, entry.access !== 'readable', mp.mm);
    setPmd(m, mp.mm, mp.pmdIndex, { kind: 'leaf', pfn: dst, writable: entry.access === 'writable', dirty, young: true });
  }
}

/** make_{writable,readable_exclusive,readable}_migration_entry(). */
function migrationAccess(writable: boolean, exclusive: boolean): MigrationAccess {
  if (writable) return 'writable';
  return exclusive ? 'readableExclusive' : 'readable';
}
