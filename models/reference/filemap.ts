import { folioNrPages } from '../machine/geometry';
import type { CpuId, MmId, Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import { cachedFolios, fileAt, vmaFileAt, vmaRunLength, vmaStartFrom } from '../machine/files';
import type { VmaFile } from '../machine/files';
import { folioAt, folioHead, frameAt } from '../machine/frames';
import { mmAt, pmdAt, pmdIndexOf, pmdStart, pteAt, setPte } from '../machine/pgtable';
import { underPmdLock, underPtl } from '../machine/lockedCall';
import { tlbInvalidateLocal } from '../machine/tlb';
import { rmapWalk } from '../machine/rmapWalk';
import { mark } from '../machine/marks';
import type { OpResult } from '../result';
import { SwapPaths } from './swap';

/**
 * Files (issue 14): the page cache, faults on MAP_SHARED file mappings with dirty tracking and on
 * MAP_PRIVATE ones (a store copies the page-cache page: COW), writeback and truncate, as 6.12 has
 * them for a filesystem that tracks dirty pages through `page_mkwrite`
 * (`vma_wants_writenotify()`: a shared writable mapping's PTEs start read-only, and the first
 * store to a clean page faults and dirties the folio before its PTE becomes writable).
 * Simplified: no fault-around (`do_fault_around()` maps only the faulting page here), no
 * readahead beyond the folio that holds the page, writeback is synchronous (written and clean
 * in the same call), and there are no PMD mappings of file folios (`do_set_pmd()`).
 */
export abstract class FilemapPaths extends SwapPaths {
  /**
   * Mirrors `filemap_fault()` → `filemap_get_folio()` (mm/filemap.c, 6.12) for page `index` of
   * `file`: the page cache's page with a reference for the caller (`folio_try_get()`), or, on a
   * miss, the folio read in (`filemapReadFolio()`), whose allocation reference is the caller's.
   */
  filemapFault(m: Machine, file: number, index: number): Pfn {
    const cached = fileAt(m, file).cache[index] ?? null;
    if (cached !== null) {
      this.folioGet(m, folioHead(m, cached));
      return cached;
    }
    const head = this.filemapReadFolio(m, file, index);
    return asPfn(head + (index - folioAt(m, head).mapping!.index));
  }

  /**
   * Mirrors `page_cache_ra_order()` → `filemap_add_folio()` + `->read_folio()` (mm/readahead.c,
   * mm/filemap.c, 6.12): a folio of the file's order, aligned, is allocated, filled from the disk
   * and added to the page cache, which takes one reference per page (`folio_ref_add(folio, nr)`
   * in `__filemap_add_folio()`). Returns its head, with the allocation's reference for the caller.
   */
  filemapReadFolio(m: Machine, file: number, index: number): Pfn {
    const fs = fileAt(m, file);
    const nr = folioNrPages(fs.order);
    const base = index - (index % nr);
    const head = this.allocFolio(m, fs.order);
    const f = folioAt(m, head);
    f.mapping = { file, index: base };
    f.swapbacked = false;
    for (let k = 0; k < nr; k++) {
      frameAt(m, asPfn(head + k)).content = fs.store[base + k] ?? 0;
      fs.cache[base + k] = asPfn(head + k);
    }
    this.folioRefAdd(m, head, nr);
    m.stats.pagesCopied += nr;
    mark(m, fs.order > 0 ? 'a large file folio was read into the page cache' : 'a file folio was read into the page cache');
    return head;
  }

  /**
   * Mirrors `folio_add_file_rmap_ptes()` (mm/rmap.c, 6.12): `nr` pages from `page` gain a PTE
   * mapping. A file page is never PageAnonExclusive.
   */
  folioAddFileRmapPtes(m: Machine, page: Pfn, nr: number, mm?: MmId): void {
    const head = folioHead(m, page);
    const f = folioAt(m, head);
    m.stats.rmapCalls++;
    for (let i = 0; i < nr; i++) {
      const fr = frameAt(m, asPfn(page + i), 'folio_add_file_rmap_ptes()');
      this.warnOn(m, fr.head !== head, `rmap batch of ${nr} from ${page} crosses folio ${f.id}`);
      fr.mapcount++;
    }
    if (f.order > 0) this.folioAddLargeMapcount(m, head, nr, mm);
  }

  /**
   * Mirrors `folio_dup_file_rmap_ptes()` (include/linux/rmap.h, 6.12), as fork's
   * `copy_present_ptes()` calls it for a page-cache folio of a MAP_PRIVATE mapping: the child's
   * PTEs add `nr` mappings, like `folio_add_file_rmap_ptes()`.
   */
  folioDupFileRmapPtes(m: Machine, page: Pfn, nr: number, mm?: MmId): void {
    this.folioAddFileRmapPtes(m, page, nr, mm);
  }

  /**
   * Mirrors `folio_mark_dirty()` → `filemap_dirty_folio()` (mm/page-writeback.c, 6.12) for a
   * page-cache folio: PG_dirty, so that writeback writes it.
   */
  folioMarkDirty(m: Machine, head: Pfn): void {
    const f = folioAt(m, head);
    if (!f.dirty) mark(m, 'a file folio was dirtied');
    f.dirty = true;
  }

  /**
   * Mirrors `do_read_fault()` (mm/memory.c, 6.12) for a load from a file VMA with no PTE: first
   * `do_fault_around()`, which maps the pages around it that the page cache already holds; if
   * that mapped the faulting page, done (VM_FAULT_NOPAGE). Otherwise `__do_fault()` +
   * `finish_fault()`: the page cache's page (read in on a miss), mapped read-only — a shared
   * writable mapping with dirty tracking has no write bit in `vm_page_prot` — and clean; the
   * fault's reference becomes the mapping's. If the PTE was filled meanwhile, the reference is
   * dropped. `finish_fault()` maps that one page, not the rest of a large folio (6.12 maps a
   * whole folio only for anonymous shmem).
   */
  doReadFault(m: Machine, mm: MmId, v: Vpn, vf: VmaFile): void {
    if (this.doFaultAround(m, mm, v, vf)) return;
    this.mapFilePage(m, mm, v, vf, false);
  }

  /**
   * Mirrors `do_fault_around()` → `filemap_map_pages()` (mm/memory.c, mm/filemap.c, 6.12): the
   * window of `fault_around_bytes` (64K: `faultAroundPages()`) aligned around v, clamped to the
   * PTE table and the VMA (a run of one file mapping with one protection: mprotect() splits
   * VMAs); under the PTL, every page of it the page cache holds whose PTE is none
   * is mapped read-only and clean (`set_pte_range()`, old except at v), with a reference and a
   * mapcount each (`folio_ref_add()`, `folio_add_file_rmap_ptes()`). Nothing is read in. True
   * when the faulting page was among them. Simplified: no folio is skipped as locked or not
   * uptodate (the model has neither state), and `mmap_miss` does not turn fault-around off.
   */
  doFaultAround(m: Machine, mm: MmId, v: Vpn, vf: VmaFile): boolean {
    const i = pmdIndexOf(m, v);
    const base = pmdStart(m, i);
    const window = this.faultAroundPages(m);
    // The VMA of v: a run of the same file mapping, which mprotect() also splits (the same protection).
    const prot = mmAt(m, mm).vmaWritable;
    const start = vmaStartFrom(m, mm, v, base);
    let lo: number = v;
    while (lo > start && prot[lo - 1] === prot[v]) lo--;
    const first = Math.max(base + Math.floor((v - base) / window) * window, lo);
    let last = Math.min(first + window, base + m.geometry.ptrsPerPte, v + vmaRunLength(m, mm, v, base + m.geometry.ptrsPerPte - v)) - 1;
    for (let u = v + 1; u <= last; u++) {
      if (prot[u] !== prot[v]) {
        last = u - 1;
        break;
      }
    }
    underPmdLock(m, mm, i, () => this.pteAlloc(m, mm, i)); // the preallocated table, installed
    const cache = fileAt(m, vf.file).cache;
    let mapped = 0;
    let hit = false;
    underPtl(m, mm, i, () => {
      for (let u = first; u <= last; u++) {
        const page = cache[vf.pgoff + (u - v)] ?? null;
        const pte = pteAt(m, mm, asVpn(u));
        if (page === null || pte === null || pte.kind !== 'none') continue;
        this.folioGet(m, folioHead(m, page));
        this.folioAddFileRmapPtes(m, page, 1, mm);
        setPte(m, mm, asVpn(u), { kind: 'present', pfn: page, writable: false, dirty: false, young: u === v });
        if (u === v) hit = true;
        else mapped++;
      }
    });
    if (mapped > 0) mark(m, 'fault-around mapped a cached page');
    return hit;
  }

  /** `fault_around_pages` (mm/memory.c, 6.12): `fault_around_bytes` (64K) in pages, at most a table's. */
  faultAroundPages(m: Machine): number {
    return Math.min(16, m.geometry.ptrsPerPte);
  }

  /**
   * Mirrors `do_shared_fault()` (mm/memory.c, 6.12) for a store to a MAP_SHARED file VMA with no
   * PTE: `__do_fault()`, then `do_page_mkwrite()` (the filesystem's `page_mkwrite`, as
   * `filemap_page_mkwrite()`: `folio_mark_dirty()` before the page can be written), then
   * `finish_fault()` maps it writable and dirty, and `fault_dirty_shared_page()`.
   */
  doSharedFault(m: Machine, mm: MmId, v: Vpn, vf: VmaFile): void {
    this.mapFilePage(m, mm, v, vf, true);
  }

  /**
   * Mirrors `do_cow_fault()` (mm/memory.c, 6.12) for a store to a MAP_PRIVATE file VMA with no
   * PTE: a new anonymous page (`vma_alloc_folio()`), then `__do_fault()` (the page-cache page,
   * read in on a miss), `copy_mc_user_highpage()` into the new page, and `finish_fault()` maps the
   * copy — never the page-cache page — writable, dirty and exclusive
   * (`folio_add_new_anon_rmap()`); the page-cache page's reference is dropped (`put_page()`). If
   * the PTE was filled meanwhile (VM_FAULT_NOPAGE), the copy is freed.
   */
  doCowFault(m: Machine, mm: MmId, v: Vpn, vf: VmaFile): void {
    const i = pmdIndexOf(m, v);
    underPmdLock(m, mm, i, () => this.pteAlloc(m, mm, i));
    const copy = this.allocFolio(m, 0);
    const page = this.filemapFault(m, vf.file, vf.pgoff);
    frameAt(m, copy).content = frameAt(m, page).content;
    m.stats.pagesCopied++;
    underPtl(m, mm, i, () => {
      const pte = pteAt(m, mm, v);
      if (pmdAt(m, mm, i).kind !== 'table' || pte === null || pte.kind !== 'none') {
        this.folioPut(m, copy);
        return;
      }
      this.folioAddAnonRmapPtes(m, copy, 1, true, mm);
      setPte(m, mm, v, { kind: 'present', pfn: copy, writable: true, dirty: true, young: true });
    });
    this.folioPut(m, folioHead(m, page));
    mark(m, 'do_cow_fault copied a page-cache page');
  }

  /** The common part of `doReadFault()` and `doSharedFault()`: look the page up, then `finish_fault()` under the PTL. */
  private mapFilePage(m: Machine, mm: MmId, v: Vpn, vf: VmaFile, write: boolean): void {
    const i = pmdIndexOf(m, v);
    underPmdLock(m, mm, i, () => this.pteAlloc(m, mm, i));
    const page = this.filemapFault(m, vf.file, vf.pgoff);
    const head = folioHead(m, page);
    if (write) this.folioMarkDirty(m, head); // do_page_mkwrite()
    underPtl(m, mm, i, () => {
      const pte = pteAt(m, mm, v);
      if (pmdAt(m, mm, i).kind !== 'table' || pte === null || pte.kind !== 'none') {
        this.folioPut(m, head); // finish_fault(): VM_FAULT_NOPAGE, the fault's reference dropped
        return;
      }
      this.folioAddFileRmapPtes(m, page, 1, mm);
      setPte(m, mm, v, { kind: 'present', pfn: page, writable: write, dirty: write, young: true });
    });
    if (write) this.folioMarkDirty(m, head); // fault_dirty_shared_page()
  }

  /**
   * Mirrors `wp_page_shared()` (mm/memory.c, 6.12): a store to a present, read-only PTE of a
   * MAP_SHARED file page (clean since `folio_mkclean()` write-protected it, or never written):
   * `do_page_mkwrite()` dirties the folio, then `wp_page_reuse()` makes the PTE writable and
   * dirty in place — an upgrade, which needs no flush — and `fault_dirty_shared_page()`.
   */
  wpPageShared(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pte: PresentPte): void {
    const head = folioHead(m, pte.pfn);
    this.folioMarkDirty(m, head);
    underPtl(m, mm, pmdIndexOf(m, v), () => {
      const now = pteAt(m, mm, v);
      if (now === null || now.kind !== 'present' || now.pfn !== pte.pfn) return; // finish_mkwrite_fault(): !pte_same, retried
      setPte(m, mm, v, { ...now, writable: true, dirty: true, young: true });
      tlbInvalidateLocal(m, cpu, mm, v);
    });
    mark(m, 'page_mkwrite on a clean shared file page');
  }

  /**
   * Mirrors `folio_mkclean()` → `rmap_walk()` → `page_mkclean_one()` (mm/rmap.c, 6.12): every
   * writable or dirty PTE mapping the folio in a VM_SHARED VMA (`invalid_mkclean_vma()` skips the
   * others) is cleared and flushed (`ptep_clear_flush()`), then set again write-protected and
   * clean, under its PTL. Returns how many were dirty or writable. It begins with `if
   * (!folio_mapped(folio)) return 0;` — which is why zap must not let the mapcount drop before its
   * TLB flush (delayed rmap, rule R2 (docs/kernel-semantics.md §10)): an unmapped folio is cleaned without looking at any TLB.
   */
  folioMkclean(m: Machine, head: Pfn): number {
    if (this.folioMapcount(m, head) === 0) return 0;
    let cleaned = 0;
    for (const at of rmapWalk(m, head)) {
      // (a PMD mapping of a file folio does not exist in the model)
      if (at.kind !== 'pte' || vmaFileAt(m, at.mm, at.vpn)?.shared !== true) continue;
      underPtl(m, at.mm, pmdIndexOf(m, at.vpn), () => {
        const pte = pteAt(m, at.mm, at.vpn);
        if (pte === null || pte.kind !== 'present' || (!pte.writable && !pte.dirty)) return;
        this.pageMkcleanOne(m, at.mm, at.vpn, pte);
        cleaned++;
      });
    }
    if (cleaned > 0) mark(m, 'writeback write-protected a mapped file page');
    return cleaned;
  }

  /** The PTE step of `page_mkclean_one()` (`page_vma_mkclean_one()`, mm/rmap.c, 6.12): `ptep_clear_flush()`, then `pte_wrprotect(pte_mkclean())`. */
  pageMkcleanOne(m: Machine, mm: MmId, v: Vpn, pte: PresentPte): void {
    setPte(m, mm, v, { kind: 'none' });
    this.flushTlbPage(m, mm, v);
    setPte(m, mm, v, { ...pte, writable: false, dirty: false });
  }

  /**
   * Mirrors `file_write_and_wait_range()` → `write_cache_pages()` / `writeback_iter()`
   * (mm/page-writeback.c, 6.12) for the whole file, as fsync() or msync(MS_SYNC) calls it: each
   * dirty folio in index order goes through `folio_clear_dirty_for_io()` — `folio_mkclean()`,
   * and `folio_mark_dirty()` again if it cleaned a PTE, then the dirty bit is cleared — and is
   * written to the disk (`->writepages`). Simplified: the write completes at once.
   */
  writebackFile(m: Machine, file: number): OpResult {
    const fs = fileAt(m, file);
    let written = 0;
    for (const head of cachedFolios(m, file)) {
      const f = folioAt(m, head);
      if (f.dirty && this.folioClearDirtyForIo(m, head)) {
        for (let k = 0; k < folioNrPages(f.order); k++) fs.store[f.mapping!.index + k] = frameAt(m, asPfn(head + k)).content;
        written++;
        mark(m, 'writeback wrote a dirty file folio');
      }
    }
    return written > 0 ? { kind: 'done' } : { kind: 'noop', reason: 'no dirty folio' };
  }

  /**
   * Mirrors `folio_clear_dirty_for_io()` (mm/page-writeback.c, 6.12): write-protect every mapping
   * first (`folio_mkclean()`; a dirty PTE it found dirties the folio again), then clear PG_dirty.
   * True when the folio was dirty, so it must be written.
   */
  folioClearDirtyForIo(m: Machine, head: Pfn): boolean {
    if (this.folioMkclean(m, head) > 0) this.folioMarkDirty(m, head);
    const f = folioAt(m, head);
    const was = f.dirty;
    f.dirty = false;
    return was;
  }

  /**
   * Mirrors `filemap_read()` (mm/filemap.c, 6.12) of one page (pread()): the page cache's page,
   * read in on a miss, copied to the user; the lookup's reference is dropped after.
   */
  fileRead(m: Machine, file: number, index: number): OpResult {
    const page = this.filemapFault(m, file, index);
    const value = frameAt(m, page).content;
    this.folioPut(m, folioHead(m, page));
    return { kind: 'value', value };
  }

  /**
   * Mirrors `generic_perform_write()` (mm/filemap.c, 6.12) of one page (pwrite()) on a file just
   * opened for write (`releaseFileThps()`: `do_dentry_open()`):
   * `write_begin` (the page cache's page, read in on a miss), the copy, `write_end` →
   * `folio_mark_dirty()`; the lookup's reference is dropped after.
   */
  fileWrite(m: Machine, file: number, index: number, value: number): OpResult {
    this.releaseFileThps(m, file);
    const page = this.filemapFault(m, file, index);
    frameAt(m, page).content = value;
    this.folioMarkDirty(m, folioHead(m, page));
    this.folioPut(m, folioHead(m, page));
    return { kind: 'value', value };
  }

  /** `do_dentry_open()`'s release of a file's page-cache THPs when it is opened for write (models/reference/collapseFile.ts). */
  abstract releaseFileThps(m: Machine, file: number): void;

  /** Which file VMA, if any, a fault at (mm, v) is in. */
  fileVmaOf(m: Machine, mm: MmId, v: Vpn | number): VmaFile | null {
    return vmaFileAt(m, mm, asVpn(v));
  }
}
