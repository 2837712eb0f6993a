import { folioNrPages } from './geometry';
import type { Pfn } from './ids';
import { pfn as asPfn } from './ids';
import type { Folio, Frame, Machine } from './state';
import type { Pte } from './pte';
import { PTE_NONE } from './pte';
import { ModelViolationError } from './violation';
import { findPwcEntryFor, findTlbEntryFor } from './tlb';
import { LOWEST_FIRST } from './physMem';
import { assertNever } from '../assertNever';
import { FRAME_CHUNK, setFrameState } from './frameChunks';

/**
 * The frame allocator and the hazard checks at free time: a frame must not be freed while a TLB
 * entry — used or possibly filled speculatively — still translates to it (tlb.h: unhook, TLB
 * invalidate, then free), and a page-table frame must not be freed while a walker holds it, a
 * CPU's paging-structure cache may point to it, or a PMD still points to it.
 *
 * First fit from the lowest PFN by default, so freed frames are reused at once: that is what turns
 * a missing flush into an observable use-after-free. An `allocPolicy` op makes it look from the top
 * or from a hint instead (physMem.ts); every policy still reuses a freed frame it meets first.
 */

/**
 * The struct page of frame `p` (`pfn_to_page()`). A PFN that is not RAM — a hole, past the end
 * of memory, negative — has none to read: the `touched_non_ram` hazard, naming `by`, the kernel
 * function that computed the PFN (callers that do PFN arithmetic say who they are). A PFN that is
 * not an integer is a model bug (a plain Error).
 */
export function frameAt(m: Machine, p: Pfn, by = 'pfn_to_page()'): Frame {
  const f = m.frames[p];
  if (f !== undefined && f.state !== 'hole') return f;
  if (!Number.isInteger(p)) throw new Error(`no frame ${p}`);
  throw new ModelViolationError({ code: 'touched_non_ram', step: m.clock.step, pfn: p, by });
}

/** The folio fields of the folio containing `p`; throws if `p` is not part of a data folio. */
export function folioAt(m: Machine, p: Pfn, by = 'page_folio()'): Folio {
  const f = frameAt(m, frameAt(m, p, by).head, by).folio;
  if (f === null) throw new Error(`frame ${p} is not part of a folio`);
  return f;
}

export function folioHead(m: Machine, p: Pfn, by = 'page_folio()'): Pfn {
  return frameAt(m, p, by).head;
}

/** Free frames (kept by the allocator, so the MIGRC watermark test does not scan memory). */
export function freeFrameCount(m: Machine): number {
  return m.freeFrames;
}

function isFreeRun(m: Machine, base: number, count: number): boolean {
  // A run of whole chunks is free when the allocator counts none of their frames in use (a
  // 512-frame folio on `realistic` is 8 chunks to look at, not 512 frames).
  if (count % FRAME_CHUNK === 0 && base % FRAME_CHUNK === 0 && base + count <= m.frames.length) {
    for (let c = base / FRAME_CHUNK; c < (base + count) / FRAME_CHUNK; c++) if (m.usedPerChunk[c] !== 0) return false;
    return true;
  }
  for (let i = 0; i < count; i++) if (m.frames[base + i]?.state !== 'free') return false;
  return true;
}

/**
 * Find `count` free, naturally aligned frames where the machine's allocation policy looks first
 * (physMem.ts); null when memory is exhausted. Deterministic: the same state gives the same run.
 */
function findFreeRun(m: Machine, count: number): Pfn | null {
  const n = m.geometry.nrFrames;
  const policy = m.allocPolicy ?? LOWEST_FIRST;
  switch (policy.kind) {
    case 'lowest-first':
      return scanUp(m, m.allocHint - (m.allocHint % count), n, count);
    case 'highest-first':
      for (let base = n - count - ((n - count) % count); base >= 0; base -= count) if (isFreeRun(m, base, count)) return asPfn(base);
      return null;
    case 'from': {
      const from = Math.min(Math.max(0, policy.pfn), n - 1);
      const start = from - (from % count);
      return scanUp(m, start, n, count) ?? scanUp(m, 0, start, count);
    }
    default:
      return assertNever(policy);
  }
}

/** The first free aligned run of `count` frames starting in [start, end) (`start` aligned). */
function scanUp(m: Machine, start: number, end: number, count: number): Pfn | null {
  for (let base = start; base + count <= m.geometry.nrFrames && base < end; base += count) if (isFreeRun(m, base, count)) return asPfn(base);
  return null;
}

export class OutOfFramesError extends Error {
  constructor(readonly order: number) {
    super(`the model ran out of frames allocating order ${order}: the geometry's nrFrames is too small for its caps`);
  }
}

/**
 * A PFN as a small integer. A PFN computed through a division can arrive as an integral double
 * (2.0); stored once into a frame's `head`, it turns that field into a double field for every
 * frame V8 makes from then on, and each new machine's frames then pay a map migration when first
 * touched (measured: a first pass over `small`'s 512 fresh frames cost 536 µs instead of 1 µs).
 */
function smiPfn(p: Pfn): Pfn {
  return asPfn(p | 0);
}

function claimFrame(m: Machine, p: Pfn, head: Pfn): Frame {
  const f = frameAt(m, p);
  if (f.state === 'free') m.freeFrames--;
  setFrameState(m, p, 'data');
  f.gen++;
  f.content = 0;
  f.mapcount = 0;
  f.anonExclusive = false;
  f.head = smiPfn(head);
  f.folio = null;
  f.ptes = null;
  return f;
}

/** The struct folio fields of a folio just allocated (or split off): one reference, nothing mapped, no flags. */
function newFolio(id: string, order: number): Folio {
  return {
    id,
    order,
    refcount: 1,
    largeMapcount: 0,
    entireMapcount: 0,
    pincount: 0,
    deferredSplit: false,
    migrcPending: false,
    mmId: [null, null],
    mmIdMapcount: [0, 0],
    maybeMappedShared: false,
    pgMigrc: false,
    swap: null,
    dirty: false,
    swapbacked: true,
  };
}

/**
 * A new zeroed folio of `order` with one reference (the allocation's), nothing mapped.
 * The geometry's caps make exhaustion impossible in a valid run; it throws OutOfFramesError if not.
 */
export function allocFolioFrames(m: Machine, order: number): Pfn {
  const nr = folioNrPages(order);
  const head = findFreeRun(m, nr);
  if (head === null) throw new OutOfFramesError(order);
  for (let i = 0; i < nr; i++) claimFrame(m, asPfn(head + i), head);
  m.clock.folios++;
  frameAt(m, head).folio = newFolio(`s${m.clock.step}.${m.clock.folios}`, order);
  if (m.allocHint === head) m.allocHint = head + nr;
  return head;
}

/** A new, empty PTE table (pte_alloc_one()). */
export function allocTableFrame(m: Machine): Pfn {
  const p = findFreeRun(m, 1);
  if (p === null) throw new OutOfFramesError(0);
  const f = claimFrame(m, p, p);
  setFrameState(m, p, 'table');
  // The shared, frozen none entry (pte.ts): entries are replaced, never changed in place.
  f.ptes = new Array<Pte>(m.geometry.ptrsPerPte).fill(PTE_NONE);
  if (m.allocHint === p) m.allocHint = p + 1;
  return p;
}

function release(m: Machine, p: Pfn): void {
  const f = frameAt(m, p);
  if (f.tlbRefs > 0) {
    const e = findTlbEntryFor(m, p);
    if (e === undefined) throw new Error(`frame ${p}: tlbRefs ${f.tlbRefs} but no TLB entry`);
    throw new ModelViolationError({
      code: 'free_with_stale_tlb',
      step: m.clock.step,
      pfn: p,
      cpu: e.cpu,
      mm: e.entry.mm,
      vpn: e.entry.vpn,
    });
  }
  setFrameState(m, p, 'free');
  m.freeFrames++;
  f.folio = null;
  f.ptes = null;
  f.mapcount = 0;
  f.anonExclusive = false;
  f.head = smiPfn(p);
  if (p < m.allocHint) m.allocHint = p;
}

/** __folio_put(): the last reference is gone; give every frame of the folio back. */
export function freeFolioFrames(m: Machine, head: Pfn): void {
  const folio = folioAt(m, head);
  if (folio.refcount !== 0) throw new Error(`freeing folio ${folio.id} with refcount ${folio.refcount}`);
  const nr = folioNrPages(folio.order);
  for (let i = 0; i < nr; i++) release(m, asPfn(head + i));
}

/** Give a page-table frame back; the caller has unlinked it and waited for every walker that could hold it. */
export function freeTableFrame(m: Machine, table: Pfn): void {
  const f = frameAt(m, table);
  if (f.state !== 'table') throw new Error(`frame ${table} is not a page table`);
  for (const cpu of m.cpus) {
    const w = cpu.walker;
    if (w !== null && w.table === table && w.tableGen === f.gen) {
      throw new ModelViolationError({
        code: 'table_freed_under_walker',
        step: m.clock.step,
        table,
        cpu: cpu.id,
        walker: w.kind,
      });
    }
  }
  const cached = findPwcEntryFor(m, table, f.gen);
  if (cached !== undefined) {
    throw new ModelViolationError({
      code: 'table_freed_with_cached_pointer',
      step: m.clock.step,
      table,
      cpu: cached.cpu.id,
      mm: cached.mm,
      pmdIndex: cached.pmdIndex,
      lazy: cached.cpu.lazy,
    });
  }
  for (const mm of m.mms) {
    mm.pmds.forEach((pmd, i) => {
      if (pmd.kind === 'table' && pmd.table === table) {
        throw new ModelViolationError({
          code: 'table_freed_while_linked',
          step: m.clock.step,
          table,
          mm: mm.id,
          pmdIndex: i,
        });
      }
    });
  }
  m.stats.tablesFreed++;
  release(m, table);
}

/**
 * The struct-page half of `__split_huge_page()` (mm/huge_memory.c, 6.12) to order 0 for an
 * unmapped anonymous folio whose references the caller has frozen: every page becomes a folio of
 * its own with one reference (the head keeps the caller's; each tail gets the one
 * `lru_add_split_folio()` takes for the caller's list), off the deferred split queue.
 * PageAnonExclusive stays per page. The head keeps its logical id; tail k is "<id>~k".
 * A folio in the swap cache stays there page by page: piece k takes slot `swap + k` and one more
 * reference, the swap cache's (`folio_ref_unfreeze(new_folio, 1 + folio_nr_pages(new_folio))`),
 * and every piece keeps PG_dirty and PG_swapbacked.
 */
export function splitFolioFrames(m: Machine, head: Pfn): Pfn[] {
  const folio = folioAt(m, head);
  const pages: Pfn[] = [];
  for (let k = 0; k < folioNrPages(folio.order); k++) {
    const p = asPfn(head + k);
    const f = frameAt(m, p);
    f.head = smiPfn(p);
    const piece = newFolio(k === 0 ? folio.id : `${folio.id}~${k}`, 0);
    piece.dirty = folio.dirty;
    piece.swapbacked = folio.swapbacked;
    if (folio.swap !== null) {
      piece.swap = folio.swap + k;
      piece.refcount++;
    }
    f.folio = piece;
    pages.push(p);
  }
  return pages;
}
