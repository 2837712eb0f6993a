import type { Geometry } from './geometry';
import { mmNrPages } from './geometry';
import type { MmId, Pfn, Vpn } from './ids';
import type { Folio, Machine } from './state';

/**
 * Files (issue 14): a fixed set of regular files on a disk, each with a backing store (what the
 * disk holds, per page) and a page cache (`struct address_space`'s xarray: per page index, the
 * page that caches it). File 0's page cache holds order-0 folios, file 1's large ones
 * (`fileFolioOrder()`), as a filesystem with large folios (`mapping_set_large_folios()`) reads them
 * in. A VMA maps a file range linearly (`VmaFile`), MAP_SHARED or MAP_PRIVATE.
 */
export interface FileState {
  readonly id: number;
  /** The order of the folios its page cache is read into. */
  readonly order: number;
  /** The disk's copy of each page (0 until written back). */
  readonly store: number[];
  /** The page cache: per page index, the page holding it (a page of a folio whose `mapping` is this file), or null. */
  readonly cache: Array<Pfn | null>;
}

/** What a virtual page of an mm maps when it belongs to a file VMA: `vma->vm_file` and the page's offset in it. */
export interface VmaFile {
  readonly file: number;
  /** `linear_page_index()`: the file page this virtual page maps. */
  readonly pgoff: number;
  /** VM_SHARED (MAP_SHARED): stores reach the page cache. Otherwise MAP_PRIVATE: a store copies the page into an anonymous one (COW). */
  readonly shared: boolean;
}

/** How many files a machine has. */
export const NR_FILES = 2;

/** Pages in each file: two PTE tables' worth, so a mapping of a whole file crosses a table boundary. */
export const fileNrPages = (g: Geometry): number => 2 * g.ptrsPerPte;

/** The order of the folios file `file`'s page cache holds: 0 for file 0; 2 (16K) for file 1, or less when the geometry has no such order. */
export const fileFolioOrder = (g: Geometry, file: number): number => (file === 0 ? 0 : Math.min(2, g.maxFolioOrder));

/** The machine's files, made at first use (absent until then, so a machine without files is byte-identical to one from before they existed). */
export function filesOf(m: Machine): FileState[] {
  if (m.files === undefined) {
    const n = fileNrPages(m.geometry);
    m.files = Array.from({ length: NR_FILES }, (_, id) => ({ id, order: fileFolioOrder(m.geometry, id), store: new Array<number>(n).fill(0), cache: new Array<Pfn | null>(n).fill(null) }));
  }
  return m.files;
}

/** The file state of `file`; throws on a file the machine does not have (ops resolve file numbers first). */
export function fileAt(m: Machine, file: number): FileState {
  const f = filesOf(m)[file];
  if (f === undefined) throw new Error(`no file ${file}`);
  return f;
}

/**
 * The heads of the folios `file`'s page cache holds from page `from` on, once each, in index
 * order: what `filemap_get_folios()` (or `find_lock_entries()`) batches walk. A folio straddling
 * `from` is included. A snapshot, so the caller may drop them from the cache as it goes.
 */
export function cachedFolios(m: Machine, file: number, from = 0): Pfn[] {
  const out: Pfn[] = [];
  for (const page of fileAt(m, file).cache.slice(from)) {
    if (page === null) continue;
    const head = m.frames[page]?.head ?? page;
    if (out[out.length - 1] !== head) out.push(head);
  }
  return out;
}

/** Is (mm, v) in a MAP_SHARED file VMA? */
export const inSharedFileVma = (m: Machine, mm: MmId, v: Vpn | number): boolean => vmaFileAt(m, mm, v)?.shared === true;

/** The file VMA (mm, v) belongs to, or null for the private anonymous VMA. */
export function vmaFileAt(m: Machine, mm: MmId, v: Vpn | number): VmaFile | null {
  return m.mms[mm]?.vmaFile?.[v] ?? null;
}

/** Make (mm, v) part of a file VMA (or, with null, of the anonymous one again). */
export function setVmaFile(m: Machine, mm: MmId, v: number, vf: VmaFile | null): void {
  const state = m.mms[mm];
  if (state === undefined) throw new Error(`no mm ${mm}`);
  if (state.vmaFile === undefined) {
    if (vf === null) return;
    state.vmaFile = new Array<VmaFile | null>(mmNrPages(m.geometry)).fill(null);
  }
  state.vmaFile[v] = vf;
}

/**
 * How many pages from v (at most `max`) lie in the VMA of v: the model keeps no VMA boundaries,
 * so a file VMA is a run of pages mapping consecutive pages of one file the same way (shared or
 * private; adjacent mmaps that continue each other are one VMA, as `vma_merge()` makes them),
 * and the anonymous VMA the run of pages outside any. Batches stop there, as the kernel's
 * per-VMA walks do.
 */
export function vmaRunLength(m: Machine, mm: MmId, v: Vpn | number, max: number): number {
  const first = vmaFileAt(m, mm, v);
  for (let k = 1; k < max; k++) {
    const next = vmaFileAt(m, mm, v + k);
    if (first === null ? next !== null : next === null || next.file !== first.file || next.shared !== first.shared || next.pgoff !== first.pgoff + k) return k;
  }
  return max;
}

/** The first page of the VMA of v (see `vmaRunLength()`), no lower than `lowest`. */
export function vmaStartFrom(m: Machine, mm: MmId, v: Vpn | number, lowest: number): number {
  let start = v;
  while (start > lowest && vmaRunLength(m, mm, start - 1, 2) === 2) start--;
  return start;
}

/** The first page of [start, end) of mm in a file VMA, or `end`. */
export function firstFileVmaPage(m: Machine, mm: MmId, start: Vpn, end: Vpn): Vpn {
  for (let v = start; v < end; v++) if (vmaFileAt(m, mm, v) !== null) return v as Vpn;
  return end;
}

/** Does [start, end) of mm hold any page of a file VMA? */
export function rangeHasFileVma(m: Machine, mm: MmId, start: number, end: number): boolean {
  const vf = m.mms[mm]?.vmaFile;
  if (vf === undefined) return false;
  for (let v = start; v < end; v++) if (vf[v] != null) return true;
  return false;
}

/** `folio_test_anon()`: a folio with no file mapping is anonymous. */
export const folioTestAnon = (f: Folio): boolean => f.mapping === undefined;

/** An anonymous folio MADV_FREE made lazyfree (PG_swapbacked clear); a file folio is never swap-backed and never lazyfree. */
export const folioIsLazyfree = (f: Folio): boolean => folioTestAnon(f) && !f.swapbacked;

/**
 * Does `file`'s page cache hold a PMD-order folio — a THP khugepaged made (`filemap_nr_thps()`;
 * only a file without large folios counts it, as only such a file's THPs come from khugepaged)?
 */
export function fileHasThp(m: Machine, file: number): boolean {
  const fs = m.files?.[file];
  if (fs === undefined || fs.order > 0) return false;
  return fs.cache.some((p) => p !== null && (m.frames[m.frames[p]?.head ?? p]?.folio?.order ?? 0) === m.geometry.maxFolioOrder);
}
