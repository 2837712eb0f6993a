import type { MmId } from '../../models/machine/ids';
import { vpn as asVpn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { folioNrPages, mmNrPages } from '../../models/machine/geometry';
import { mappedPfn, mmAt, pmdAt, pmdIndexOf } from '../../models/machine/pgtable';
import { isZeroPfn } from '../../models/machine/zeroPage';
import { assertNever } from '../../models/assertNever';
import type { Op } from '../ops/op';
import { unpopulated } from './pageAt';
import { fileAt, folioTestAnon, rangeHasFileVma, vmaFileAt } from '../../models/machine/files';
import { folioAt, folioHead } from '../../models/machine/frames';
import type { VmaLayout } from './vmaLayout';

/** Facts about the real machine that decide what a user program can reproduce. */
export interface UserLevelMachine {
  /**
   * The running kernel maps the shared zero page on a read fault of an untouched page. Most do;
   * a kernel that forbids it (`mm_forbids_zeropage()`, or a VM's `pvm_no_zero_page=1`) allocates a
   * fresh page instead (kernelZeroPage.ts probes which). conform makes the model follow the kernel.
   */
  readonly kernelZeroPage: boolean;
  /** The model maps the shared zero page on a read fault (the zeroPage machine option). */
  readonly modelZeroPage: boolean;
  /** NUMA nodes with memory: migration through move_pages() needs two. */
  readonly numaNodes: number;
}

/** The most mms a conform program creates (the C runtime's command channels). */
export const MAX_PROGRAM_MMS = 16;
/** The most pages one vmsplice() get may reference (the runtime sizes the pipe for them). */
export const MAX_GET_PAGES = 256;

/** Whether an op, as resolved against the model's state, can be done from user space on a real kernel. */
export type UserLevelPlan = { readonly run: true } | { readonly run: false; readonly reason: string };

const RUN: UserLevelPlan = { run: true };
const skip = (reason: string): UserLevelPlan => ({ run: false, reason });

/**
 * Decide, before it runs, whether a resolved op has a user-level counterpart that does exactly
 * what the model will do. An op without one is left out of the program on both sides (it is not
 * applied to the model either), so the rest still compares. A model no-op always has one: the C
 * side then does nothing.
 */
export function planOp(m: Machine, layout: VmaLayout, op: Op, on: UserLevelMachine): UserLevelPlan {
  switch (op.kind) {
    case 'map': {
      const nr = folioNrPages(Math.min(Math.max(0, op.order), m.geometry.maxFolioOrder));
      const base = op.vpn - (op.vpn % nr);
      return touchesFileVma(m, op.mm as MmId, base, base + nr) ? skip(ANON_OVER_FILE) : planMap(m, layout, op.mm as MmId, op.vpn, op.order, op.pmd, op.first, op.count);
    }
    case 'populate':
      return touchesFileVma(m, op.mm as MmId, op.vpn, op.vpn + op.nr + folioNrPages(op.order)) ? skip(ANON_OVER_FILE) : planPopulate(m, layout, op.mm as MmId, op.vpn, op.nr, op.order);
    case 'access':
      // (a file page's read fault maps the page-cache page on both sides, never the zero page)
      if (!op.write && on.kernelZeroPage !== on.modelZeroPage && unpopulated(m, op.mm as MmId, asVpn(op.vpn)) && vmaFileAt(m, op.mm as MmId, op.vpn) === null) {
        return skip(zeroPageMismatch(on));
      }
      return RUN;
    case 'fork':
      if (m.mms.length >= MAX_PROGRAM_MMS) return skip(`a program makes at most ${MAX_PROGRAM_MMS} mms`);
      if (mapsPrivateFilePage(m, op.mm as MmId)) return skip(FORK_OF_PRIVATE_FILE);
      return mapsZeroPage(m, op.mm as MmId) ? skip(FORK_OF_ZERO_PAGE) : RUN;
    case 'gup':
      if (touchesFileVma(m, op.mm as MmId, op.vpn, op.vpn + op.nr)) return skip('GUP of a file mapping is not modelled: the model stops at the file VMA, the kernel would take its pages');
      return planGup(m, op.mm as MmId, op.vpn, op.nr, op.pin, op.write, on);
    case 'migrate':
      return skip(`migration is move_pages() between NUMA nodes; this machine has ${on.numaNodes} node${on.numaNodes === 1 ? '' : 's'}, and the runtime does not migrate`);
    case 'mremap':
      if (touchesFileVma(m, op.mm as MmId, op.from, op.from + op.nr) || touchesFileVma(m, op.mm as MmId, op.to, op.to + op.nr)) {
        return skip('mremap() of or onto a file mapping: the runtime refills the source with anonymous memory, and the VMA layout is not followed for files');
      }
      return RUN;
    case 'exit':
    case 'zap':
    case 'mprotect':
    case 'unpin':
    case 'gupRead':
    case 'gupWrite':
      return RUN;
    case 'freeTable':
    case 'walkBegin':
    case 'walkEnd':
    case 'tick':
    case 'nowaitFail':
    case 'drain':
      return skip('a kernel-internal event: no system call makes it happen at this point');
    case 'reclaim':
    case 'madvise':
      return skip('reclaim swaps pages out, and conform programs run without a swap device (the model always has one): what pagemap would show differs by design');
    case 'preempt':
    case 'resume':
      return skip('a schedule op: a program cannot choose where the kernel is preempted');
    case 'mmapFile':
    case 'writeback':
    case 'truncate':
    case 'fileWrite':
      return op.file === 0 ? RUN : skip(LARGE_FOLIO_FILE);
    case 'fileRead':
      if (op.file !== 0) return skip(LARGE_FOLIO_FILE);
      return fileAt(m, op.file).cache[op.index] === null ? skip('pread() of a page tmpfs does not hold reads zeros without caching one; the model reads the page into its page cache') : RUN;
    case 'collapse':
      return skip('khugepaged runs on its own schedule, and MADV_COLLAPSE (which a program can call) is a different collapse: no max_ptes limits, no referenced test, swap-in; not exported yet');
    case 'memHole':
    case 'allocPolicy':
      return skip('physical memory layout: no system call makes a hole in RAM or chooses which frame the allocator returns');
    default:
      return assertNever(op);
  }
}

/**
 * `map`: the model populates pages [first, first+count) of a new folio; a program does it with a
 * THP fault over the whole folio (only its order enabled) and MADV_DONTNEED of the rest. The
 * kernel places the folio only where the whole aligned range is unpopulated, writable and one VMA
 * (`alloc_anon_folio()`: `thp_vma_suitable_order()`, `pte_range_none()`; a PMD folio needs a none
 * PMD), and a PTE-mapped PMD-sized folio only by splitting a PMD mapping. There is no order-1
 * anonymous THP.
 */
function planMap(m: Machine, layout: VmaLayout, mm: MmId, vpn: number, order: number, pmd: boolean, first: number, count: number): UserLevelPlan {
  const max = m.geometry.maxFolioOrder;
  const nr = folioNrPages(order);
  const base = vpn - (vpn % nr);
  const pmdEntry = pmdAt(m, mm, pmdIndexOf(m, asVpn(base)));
  // The model's own no-ops (mapAnonFolio()): nothing happens on either side.
  if (pmd && (order !== max || pmdEntry.kind !== 'none')) return RUN;
  if (!pmd && pmdEntry.kind === 'leaf') return RUN;
  const lo = Math.min(first, nr - 1);
  const n = pmd ? nr : Math.max(1, Math.min(count, nr - lo));
  const start = pmd ? base : base + lo;
  for (let v = start; v < start + n; v++) if (!unpopulated(m, mm, asVpn(v))) return RUN;
  if (order === 1) return skip('the kernel has no order-1 anonymous THP (the smallest anon mTHP is order 2)');
  for (let v = base; v < base + nr; v++) {
    if (!unpopulated(m, mm, asVpn(v))) return skip('other pages of the folio range are populated: the kernel would not place the folio there');
  }
  const writable = mmAt(m, mm).vmaWritable;
  for (let v = base; v < base + nr; v++) if (writable[v] !== true) return skip('the folio range is not all writable: the fault that places it would fail');
  if (!layout.oneVma(mm, base, base + nr)) return skip('the folio range spans two VMAs (after mremap): the kernel would not place a THP across them');
  if (order === max && pmdEntry.kind !== 'none') {
    return skip('a PTE-mapped PMD-sized folio comes from splitting a PMD mapping, which needs a none PMD');
  }
  return RUN;
}

/** `populate`: the model maps whole folios on the unpopulated aligned chunks; each must be reproducible as a `map`. */
function planPopulate(m: Machine, layout: VmaLayout, mm: MmId, vpn: number, nrPages: number, order: number): UserLevelPlan {
  const nr = folioNrPages(order);
  const end = Math.min(vpn + nrPages, mmNrPages(m.geometry));
  for (let base = Math.ceil(vpn / nr) * nr; base + nr <= end; base += nr) {
    const pmd = order === m.geometry.maxFolioOrder && pmdAt(m, mm, pmdIndexOf(m, asVpn(base))).kind === 'none';
    const p = planMap(m, layout, mm, base, order, pmd, 0, nr);
    if (!p.run) return p;
  }
  return RUN;
}

/**
 * GUP from user space: io_uring's IORING_REGISTER_BUFFERS pins with FOLL_WRITE | FOLL_LONGTERM,
 * all pages or none; vmsplice() takes read-only FOLL_GET references. Other combinations have no
 * such system call. The model stops at the first page it cannot get, so a pin must cover only
 * writable pages to match io_uring's all-or-nothing.
 */
function planGup(m: Machine, mm: MmId, vpn: number, nr: number, pin: boolean, write: boolean, on: UserLevelMachine): UserLevelPlan {
  const end = Math.min(vpn + nr, mmNrPages(m.geometry));
  if (pin && !write) return skip('a read-only FOLL_PIN has no user-level counterpart here (io_uring pins FOLL_WRITE)');
  if (!pin && write) return skip('a FOLL_GET | FOLL_WRITE has no user-level counterpart here (vmsplice() gets read-only)');
  if (pin) {
    const writable = mmAt(m, mm).vmaWritable;
    for (let v = vpn; v < end; v++) if (writable[v] !== true) return skip('io_uring registers all pages or none; the model would pin up to the read-only page');
    return RUN;
  }
  if (end - vpn > MAX_GET_PAGES) return skip(`a vmsplice() get covers at most ${MAX_GET_PAGES} pages here`);
  if (on.kernelZeroPage !== on.modelZeroPage) {
    for (let v = vpn; v < end; v++) if (unpopulated(m, mm, asVpn(v))) return skip(zeroPageMismatch(on));
  }
  return RUN;
}


/**
 * The model's files are memfds in a program (tmpfs, src/conform/c/runtime.c), whose page cache
 * holds order-0 folios while shmem THP is off: file 0's, not file 1's 16K folios.
 */
const LARGE_FOLIO_FILE = "file 1's page cache holds 16K folios; a memfd's holds order-0 folios (shmem THP off), so only file 0 is exported";

/** An anonymous THP fault needs the folio range in an anonymous VMA. */
const ANON_OVER_FILE = 'the folio range meets a file mapping: the fault there is a file fault, not an anonymous THP';

/** Does [start, end) of `mm` meet a file VMA? */
function touchesFileVma(m: Machine, mm: MmId, start: number, end: number): boolean {
  return rangeHasFileVma(m, mm, Math.max(0, start), Math.min(end, mmNrPages(m.geometry)));
}

/**
 * Why a fork of an mm that maps a page-cache page through a MAP_PRIVATE file mapping is left
 * out: `vma_needs_copy()` (mm/memory.c, 6.18) copies a private file VMA's page tables only when it
 * has an `anon_vma` (a COW copy was made in it); the model has no `anon_vma` and always copies
 * them (models/reference/fork.ts), so the child's pagemap would differ.
 */
const FORK_OF_PRIVATE_FILE = "fork of an mm mapping a page-cache page MAP_PRIVATE: vma_needs_copy() copies such a VMA's page tables only with an anon_vma, the model always does";

/** Does `mm` map a page-cache page through a MAP_PRIVATE file VMA? */
function mapsPrivateFilePage(m: Machine, mm: MmId): boolean {
  if (!mmAt(m, mm).alive) return false;
  for (let v = 0; v < mmNrPages(m.geometry); v++) {
    const vf = vmaFileAt(m, mm, v);
    if (vf === null || vf.shared) continue;
    const p = mappedPfn(m, mm, asVpn(v));
    if (p !== null && !folioTestAnon(folioAt(m, folioHead(m, p)))) return true;
  }
  return false;
}

/**
 * Why a fork of an mm that maps the shared zero page is left out. Simplified (found by conform on
 * a kernel with the zero page): `copy_page_range()` (mm/memory.c, 6.18) returns at once when
 * `vma_needs_copy()` is false — an anonymous VMA without an `anon_vma` (only read faults, so only
 * zero-page PTEs) gets no page tables in the child, which faults them again later. The model has
 * no `anon_vma` and copies the zero-page PTEs; both read 0, but pagemap differs.
 */
const FORK_OF_ZERO_PAGE =
  "fork of an mm mapping the zero page: 6.18's vma_needs_copy() copies no page tables of a VMA without anon_vma, the model copies its zero-page PTEs (not modelled yet)";

/** Does `mm` map the shared zero page anywhere? */
function mapsZeroPage(m: Machine, mm: MmId): boolean {
  if (!mmAt(m, mm).alive) return false;
  for (let v = 0; v < mmNrPages(m.geometry); v++) {
    const p = mappedPfn(m, mm, asVpn(v));
    if (p !== null && isZeroPfn(m, p)) return true;
  }
  return false;
}

/** Why a read fault of an untouched page cannot be compared: one side maps the shared zero page and the other does not. */
function zeroPageMismatch(on: UserLevelMachine): string {
  return on.kernelZeroPage
    ? 'a read fault of an untouched page maps the shared zero page here, which this model run lacks (fidelity row 24)'
    : 'a read fault of an untouched page gets a fresh page on this kernel (no zero page), where the model maps the zero page';
}
