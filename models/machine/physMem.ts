import type { Geometry } from './geometry';
import { folioNrPages } from './geometry';
import type { Pfn } from './ids';
import type { Machine } from './state';
import { nextChunkInUse, setFrameState } from './frameChunks';

/**
 * Physical memory as the kernel sees it (issue 12 item 4; docs/fidelity/physical-memory.md):
 * RAM with holes in it, and an allocator whose choice of frame the generator steers. Both are
 * machine-level facts, the same for every kernel: a `memHole` or `allocPolicy` op is not a kernel
 * method, so the reference and the kernel under test see the same memory.
 */

/**
 * Where `findFreeRun()` (frames.ts) looks for a naturally aligned free run:
 * - 'lowest-first': the lowest one (today's first fit; a freed frame is reused at once);
 * - 'highest-first': the highest one (folios land at the top of memory, the last RAM frame
 *   after them is the end of memory);
 * - 'from': the first at or above `pfn` (aligned down), wrapping to PFN 0 — next fit from a hint,
 *   so folios land next to whatever is there, an unrelated folio or a hole.
 * All three are deterministic and all reuse a freed frame when it is the first one they meet.
 * Simplified: the buddy allocator's free lists, per-CPU lists, zones and migratetypes are not
 * modelled; these policies only choose which of the free runs the model's first fit returns.
 */
export const ALLOC_POLICIES = ['lowest-first', 'highest-first', 'from'] as const;
export type AllocPolicyName = (typeof ALLOC_POLICIES)[number];

export type AllocPolicy =
  | { readonly kind: 'lowest-first' }
  | { readonly kind: 'highest-first' }
  | { readonly kind: 'from'; readonly pfn: number };

export const LOWEST_FIRST: AllocPolicy = { kind: 'lowest-first' };

/**
 * `pfn_valid()` (include/linux/mmzone.h, 6.12) as the model knows it: `p` is a frame of RAM
 * (or the shared zero page) with a struct page one may read — not a hole, not past the end of
 * memory, not negative. Simplified: the kernel answers per memory section (and for
 * SPARSEMEM_VMEMMAP, per subsection) whether a memmap exists; the model answers per frame, which
 * is stricter (a hole inside an online section has a memmap in the kernel, PG_reserved and
 * never allocated): reading it is an error here, as reading a reserved page's folio to follow a
 * folio walk past its end is in the kernel.
 */
export function pfnValid(m: Machine, p: number): boolean {
  const f = Number.isInteger(p) && p >= 0 ? m.frames[p] : undefined;
  return f !== undefined && f.state !== 'hole';
}

/** A max-order block: the largest naturally aligned run an allocation asks for. */
const blockSize = (g: Geometry): number => folioNrPages(g.maxFolioOrder);

/**
 * The most max-order blocks holes may touch: a quarter of memory's. The geometry's caps (maxMms
 * mms of pmdsPerMm * ptrsPerPte pages, their tables, maxHandles handles) do not bound the frames a
 * sequence uses (a partially mapped large folio keeps all its frames), so the margin is measured:
 * over 2,000 default sequences of 150 ops in `small` the most frames in use at once was 202 of 512,
 * over 200 in `realistic` 4,573 of 16,384. Three quarters of the blocks whole (384 and 12,288 frames)
 * leave every allocation, of any order, a whole free block: a sequence that holes most of memory
 * stops making holes instead of making the model run out of frames (OutOfFramesError).
 */
export function holeBlockBudget(g: Geometry): number {
  return Math.floor(g.nrFrames / blockSize(g) / 4);
}

/** Max-order blocks that hold at least one hole. */
function blocksWithHoles(m: Machine): Set<number> {
  const size = blockSize(m.geometry);
  const out = new Set<number>();
  for (let p = nextChunkInUse(m, 0); p < m.geometry.nrFrames; p = nextChunkInUse(m, p + 1)) if (m.frames[p]!.state === 'hole') out.add(Math.floor(p / size));
  return out;
}

/**
 * A `memHole` op: the free frames of [pfn, pfn+nr) stop being RAM, as `offline_pages()`
 * (mm/memory_hotplug.c, 6.12) leaves a range it took away, or as firmware's memory map leaves a
 * hole. Frames in use (data, page tables, the zero page) are skipped: the kernel would migrate
 * them first or fail the offline; the model keeps them, so the op never changes what any mm,
 * handle or walker sees. A frame whose hole would touch a block beyond `holeBlockBudget()` is
 * skipped too. Returns how many frames became holes (it may differ between kernels that free at
 * different times: MIGRC keeps migrated-away folios longer).
 * Simplified: memory is never given back (no hot-add), and offlining is per frame, not per section.
 */
export function offlineFreeFrames(m: Machine, pfn: number, nr: number): number {
  const g = m.geometry;
  const size = blockSize(g);
  const budget = holeBlockBudget(g);
  const touched = blocksWithHoles(m);
  const read = framesReadByWalks(m);
  let n = 0;
  for (let p = Math.max(0, pfn); p < Math.min(g.nrFrames, pfn + nr); p++) {
    const f = m.frames[p]!;
    if (f.state !== 'free' || read.has(p)) continue;
    const block = Math.floor(p / size);
    if (!touched.has(block)) {
      if (touched.size >= budget) continue;
      touched.add(block);
    }
    setFrameState(m, p, 'hole');
    m.freeFrames--;
    n++;
  }
  return n;
}

/**
 * The frames a GUP-fast walk in flight has read an entry for, and may still look up
 * (`try_grab_folio_fast()`'s `page_folio()`, after a zap freed the page in its read→grab
 * window): never taken away under it. Simplified: a walk's window is one IRQs-off section, and
 * hot-remove (isolate, migrate, drain, then `remove_memory()` frees the memmap) is far longer;
 * the model's `memHole` is atomic, so without this rule one op of the window would be a whole
 * hot-remove (soak seed 7018, interleaved: a false `touched_non_ram` on a correct kernel).
 */
function framesReadByWalks(m: Machine): Set<number> {
  const out = new Set<number>();
  for (const c of m.cpus) {
    for (const w of [c.walker, c.finishedWalk?.walk ?? null]) {
      if (w === null || w.kind !== 'gupFast') continue;
      if (w.pte !== null && w.pte.kind === 'present') out.add(w.pte.pfn);
      if (w.pmd.kind === 'leaf') for (let k = 0; k < m.geometry.ptrsPerPte; k++) out.add(w.pmd.pfn + k);
    }
  }
  return out;
}

/** The frames that are holes (for reports and tests). */
export function holeFrames(m: Machine): Pfn[] {
  const out: Pfn[] = [];
  for (let p = nextChunkInUse(m, 0); p < m.frames.length; p = nextChunkInUse(m, p + 1)) if (m.frames[p]!.state === 'hole') out.push(p as Pfn);
  return out;
}

/** How many frames are holes: holeFrames(m).length without the list (the differential oracle asks after drain). */
export function holeCount(m: Machine): number {
  let n = 0;
  // A hole is a frame in use to the chunk counts: the chunks where every frame is free are skipped.
  for (let p = nextChunkInUse(m, 0); p < m.frames.length; p = nextChunkInUse(m, p + 1)) if (m.frames[p]!.state === 'hole') n++;
  return n;
}
