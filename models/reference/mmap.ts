import type { MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { fileNrPages, setVmaFile } from '../machine/files';
import { mmAt, mmapLockOf } from '../machine/pgtable';
import { lockAcquire, lockRelease } from '../machine/locks';
import type { OpResult } from '../result';
import { noop } from '../result';
import { ZapPaths } from './zap';

/** Mapping files (issue 14): mmap() of a file range over part of the address space. */
export abstract class MmapPaths extends ZapPaths {
  /**
   * Mirrors `do_mmap()` → `mmap_region()` (mm/mmap.c, 6.12) for `mmap(MAP_SHARED | MAP_FIXED,
   * PROT_READ | PROT_WRITE)` (or MAP_PRIVATE, `shared` false) of `file` pages [pgoff, pgoff +
   * (end - start)) at [start, end):
   * MAP_FIXED first unmaps what the range mapped (`do_vmi_munmap()`: its pages are zapped; the
   * emptied tables stay, as after MADV_DONTNEED), then the new VMA maps the file linearly. Nothing
   * is faulted in. Holds `mmap_lock` for write. A MAP_SHARED mapping is of a file opened
   * read-write, so the open's `do_dentry_open()` comes first (`releaseFileThps()`).
   */
  mmapFile(m: Machine, mm: MmId, start: Vpn, end: Vpn, file: number, pgoff: number, shared: boolean): OpResult {
    if (start >= end || pgoff + (end - start) > fileNrPages(m.geometry)) return noop('range outside the file');
    if (shared) this.releaseFileThps(m, file);
    lockAcquire(m, mmapLockOf(mm, 'write'));
    this.zapPageRange(m, mm, start, end);
    const state = mmAt(m, mm);
    for (let v: number = start; v < end; v++) {
      setVmaFile(m, mm, v, { file, pgoff: pgoff + (v - start), shared });
      state.vmaWritable[v] = true;
    }
    lockRelease(m, mmapLockOf(mm, 'write'));
    return { kind: 'done' };
  }
}
