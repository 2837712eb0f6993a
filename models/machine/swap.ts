import type { Pfn } from './ids';
import type { Machine } from './state';
import { ModelViolationError } from './violation';

/**
 * One swap device (issue 13; docs/fidelity/reclaim.md), as plain data: `swap_info_struct`'s
 * `swap_map` and the swap cache (`swap_address_space()`'s xarray), one slot per page.
 *
 * Created on first use (`swapDevice()`), so a machine that never swaps is byte-identical to one
 * from before swap existed. Its size is the geometry's frame count: every page an mm can map
 * fits, so a slot run is missing only when the free slots are fragmented (a large folio then
 * falls back to order-0 slots, as `shrink_folio_list()` does when `add_to_swap()` fails).
 *
 * Simplified: one device, no priorities, no clusters (a run of 2^order slots is found by first
 * fit, naturally aligned, as `get_swap_pages()` returns one for a large folio), no swapoff, no
 * readahead, and the device is a disk (not SWP_SYNCHRONOUS_IO): every swap-in goes through the
 * swap cache, as `swapin_readahead()` does.
 */
export interface SwapDevice {
  /** Indexed by swap offset (`swp_offset()`). */
  /**
   * Indexed by swap offset, made as `swapSlot()` first hands each out: the slots past the end are
   * free and were never used (the ledger audit and the differential check look at none of them).
   */
  readonly slots: SwapSlot[];
  /** Slots the device has (the geometry's nrFrames). */
  readonly size: number;
}

/** One slot: its `swap_map` byte (count and SWAP_HAS_CACHE) and what was written to it. */
export interface SwapSlot {
  /** `swap_count(si->swap_map[offset])`: swap PTEs referring to the slot. */
  count: number;
  /**
   * SWAP_HAS_CACHE plus the swap cache's entry: the page (PFN) in the swap cache for this slot,
   * or null. A slot with count 0 and no cache is free.
   */
  cached: Pfn | null;
  /** What `swap_writepage()` last wrote to the slot (the page's content), 0 before any write. */
  content: number;
  /**
   * The page the slot was allocated for, by logical id ("s3.1/2": page 2 of folio s3.1), so the
   * differential check names swap entries independently of which offset each kernel got.
   */
  id: string;
}

/** The machine's swap device, made on first use. */
export function swapDevice(m: Machine): SwapDevice {
  if (m.swap === undefined) {
    m.swap = { slots: [], size: m.geometry.nrFrames };
  }
  return m.swap;
}

/** Slot `offset`; a model bug if the offset is not a slot of the device. */
export function swapSlot(m: Machine, offset: number): SwapSlot {
  const d = swapDevice(m);
  if (!Number.isInteger(offset) || offset < 0 || offset >= d.size) throw new Error(`no swap slot ${offset}`);
  while (d.slots.length <= offset) d.slots.push({ count: 0, cached: null, content: 0, id: '' });
  return d.slots[offset]!;
}

/** Is the slot free (no swap PTE refers to it and it has no swap-cache page)? */
export function swapSlotFree(s: SwapSlot): boolean {
  return s.count === 0 && s.cached === null;
}

/**
 * The lowest free, naturally aligned run of `nr` slots (`get_swap_pages()` for a folio of `nr`
 * pages); null when there is none.
 */
export function findFreeSwapRun(m: Machine, nr: number): number | null {
  const { slots, size } = swapDevice(m);
  for (let base = 0; base + nr <= size; base += nr) {
    let free = true;
    for (let k = 0; k < nr && free; k++) {
      const s = slots[base + k];
      free = s === undefined || swapSlotFree(s);
    }
    if (free) return base;
  }
  return null;
}

/** Slots in use (for reports and tests). */
export function swapSlotsInUse(m: Machine): number {
  return m.swap === undefined ? 0 : m.swap.slots.filter((s) => !swapSlotFree(s)).length;
}

/**
 * The device side of `swap_writepage()` for page `page` going to `slot`: the write copies what
 * the page holds now. The machine first checks, as hardware would make it matter, that no CPU's
 * TLB still holds a writable translation of the page with its dirty bit cached: a store through
 * it completes without a page walk, so it could land after the copy and be lost
 * (`writeback_with_writable_tlb`). A writable entry whose cached dirty bit is clear is harmless:
 * a store through it re-walks the page tables, finds the swap entry and faults.
 */
export function writePageToSwap(m: Machine, page: Pfn, slot: number): void {
  for (const c of m.cpus) {
    for (const e of c.tlb.values()) {
      if (e.pfn === page && e.writable && e.dirty) {
        throw new ModelViolationError({ code: 'writeback_with_writable_tlb', step: m.clock.step, pfn: page, cpu: c.id, mm: e.mm, vpn: e.vpn });
      }
    }
  }
  const f = m.frames[page];
  if (f === undefined) throw new Error(`no frame ${page}`);
  swapSlot(m, slot).content = f.content;
}
