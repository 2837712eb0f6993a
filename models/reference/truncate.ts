import { folioNrPages } from '../machine/geometry';
import type { Pfn } from '../machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { cachedFolios, fileAt } from '../machine/files';
import { folioAt, frameAt } from '../machine/frames';
import { mark } from '../machine/marks';
import type { OpResult } from '../result';
import { noop } from '../result';
import { MmapPaths } from './mmap';

/** Truncating files (issue 14): unmap the range from every mapping, then drop it from the page cache. */
export abstract class TruncatePaths extends MmapPaths {
  /**
   * Mirrors `truncate_setsize()` + `truncate_pagecache()` (mm/truncate.c, 6.12) for ftruncate()
   * of `file` to `from` pages, followed by ftruncate() back to its full size (the model's files
   * have a fixed size): `unmap_mapping_range(mapping, holebegin, 0, 1)` — every VMA mapping a page
   * at or after `from` is zapped there (`even_cows`: a MAP_PRIVATE mapping's anonymous copies
   * too, as access beyond EOF must not see them) — then `truncate_inode_pages()` drops the folios
   * from the page cache (`filemap_remove_folio()`: the cache's references go, PG_dirty is
   * cancelled), and a large folio that straddles `from` keeps its head part, the rest zeroed
   * (`truncate_inode_partial_folio()` when the split fails; the model never splits it). The disk
   * reads zeros from `from` on. Simplified: atomic, and the runner lets no task be in flight (the
   * kernel holds only i_mmap_rwsem, folio locks and PTLs, so it races with a preempted zap or fork).
   */
  truncateFile(m: Machine, file: number, from: number): OpResult {
    const fs = fileAt(m, file);
    if (from >= fs.store.length) return noop('nothing after the new size');
    this.unmapMappingRange(m, file, from);
    for (const head of cachedFolios(m, file, from)) {
      const f = folioAt(m, head);
      const base = f.mapping!.index;
      if (base < from) {
        for (let k = from - base; k < folioNrPages(f.order); k++) frameAt(m, asPfn(head + k)).content = 0; // folio_zero_range()
        mark(m, 'truncate zeroed the tail of a straddling folio');
      } else this.filemapRemoveFolio(m, head);
    }
    for (let index = from; index < fs.store.length; index++) fs.store[index] = 0;
    return { kind: 'done' };
  }

  /**
   * Mirrors `unmap_mapping_range()` → `unmap_mapping_pages()` → `unmap_mapping_range_tree()`
   * (mm/memory.c, 6.12) with `even_cows`: under `i_mmap_lock_read()`, every VMA of the file's
   * `i_mmap` tree that maps a page at or after `from` is zapped over those pages
   * (`zap_page_range_single()`), one run of consecutive pages at a time.
   */
  unmapMappingRange(m: Machine, file: number, from: number): void {
    for (const mm of m.mms) {
      if (!mm.alive || mm.vmaFile === undefined) continue;
      let start = -1;
      for (let v = 0; v <= mm.vmaFile.length; v++) {
        const vf = mm.vmaFile[v] ?? null;
        const hit = vf !== null && vf.file === file && vf.pgoff >= from;
        if (hit && start < 0) start = v;
        if (!hit && start >= 0) {
          this.zapPageRange(m, mm.id, asVpn(start), asVpn(v));
          start = -1;
        }
      }
    }
  }

  /**
   * Mirrors `truncate_inode_folio()` → `filemap_remove_folio()` (mm/truncate.c, mm/filemap.c,
   * 6.12) for a folio no PTE maps any more: PG_dirty is cancelled (`folio_cancel_dirty()`), the
   * folio leaves the page cache and the cache's references are dropped (`folio_put_refs(folio,
   * nr)`), which frees it.
   */
  filemapRemoveFolio(m: Machine, head: Pfn): void {
    const f = folioAt(m, head);
    const fs = fileAt(m, f.mapping!.file);
    const nr = folioNrPages(f.order);
    this.warnOn(m, this.folioMapcount(m, head) > 0, `truncate removes folio ${f.id} from the page cache while it is still mapped`);
    this.warnOn(m, f.refcount !== nr, `truncate removes folio ${f.id} from the page cache while something else holds it (refcount ${f.refcount})`);
    f.dirty = false;
    for (let k = 0; k < nr; k++) fs.cache[f.mapping!.index + k] = null;
    delete f.mapping;
    mark(m, 'truncate removed a folio from the page cache');
    this.folioPutRefs(m, head, nr);
  }

}
