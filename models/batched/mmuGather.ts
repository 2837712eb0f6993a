import type { Geometry } from '../machine/geometry';
import { mmNrPages } from '../machine/geometry';
import type { MmId, Pfn } from '../machine/ids';

/**
 * The state of one `struct mmu_gather` (include/asm-generic/tlb.h) as plain data, plus the pure
 * slot accounting of its page batches. The kernel functions that change a gather are methods of
 * the batched kernel (models/batched/gather.ts), so a variant can override any one of them.
 *
 * A gather lives inside one operation: it is created by `tlbGatherMmu()` and fully flushed and
 * freed by `tlbFinishMmu()` before the op ends — which, for a zap run as a preempted task
 * (issue 11), is when the task completes; the gather then lives in the task's generator, never
 * in Machine.
 */

/**
 * One slot of a batch's `encoded_pages[]` (include/linux/mm_types.h, 6.12). A slot is either a
 * page pointer with flag bits in its low bits — ENCODED_PAGE_BIT_DELAY_RMAP (1) and
 * ENCODED_PAGE_BIT_NR_PAGES_NEXT (2) — or, right after a page whose NR_PAGES_NEXT bit is set,
 * `encode_nr_pages(nr)` = `nr << 2`: a bare number whose flag bits read as 0. The model keeps the
 * slots encoded (not one decoded entry per run) because the kernel's free path cuts the array into
 * chunks by slot count, and "never leave the nr_pages slot behind" is a rule about slots.
 */
export type EncodedSlot =
  | {
      readonly kind: 'page';
      /** First page of the run (not necessarily the folio head). */
      readonly page: Pfn;
      /** ENCODED_PAGE_BIT_DELAY_RMAP: the rmap is removed by `tlb_flush_rmaps()`, after the TLB flush. */
      readonly delayRmap: boolean;
      /** ENCODED_PAGE_BIT_NR_PAGES_NEXT: the next slot holds nr_pages; without it nr_pages is 1. */
      readonly nrPagesNext: boolean;
    }
  | {
      readonly kind: 'nrPages';
      /** Consecutive pages of one folio from the page before: references `folios_put_refs()` drops. */
      readonly nrPages: number;
    };

/**
 * `struct mmu_gather_batch`: slots `encoded_pages[0 .. nr)` used of `max`. As in C, `nr` is the
 * truth and `slots` the backing store: stores go to `slots[nr++]` (gatherLimits.ts checks them).
 */
export interface GatherBatch {
  readonly slots: EncodedSlot[];
  nr: number;
  readonly max: number;
}

export interface MmuGather {
  readonly mm: MmId;
  /**
   * tlb_gather_mmu_fullmm(): the whole mm goes (exit), so flushes are flush_tlb_mm(). Also set by
   * `tlb_finish_mmu()` when gathers of the mm nest (`mm_tlb_flush_nested()`).
   */
  fullmm: boolean;
  /** The tracked range [start, end) in virtual pages (__tlb_adjust_range()). */
  start: number;
  end: number;
  freedTables: boolean;
  clearedPtes: boolean;
  clearedPmds: boolean;
  /** tlb->delayed_rmap: some entry of local/active carries the delay-rmap bit. */
  delayedRmap: boolean;
  /** batches[0] is `tlb->local`, backed by the on-stack bundle; the rest are batch pages. */
  readonly batches: GatherBatch[];
  /** Index of `tlb->active` in `batches`. */
  active: number;
  /** tlb->batch_count: batch pages allocated so far. */
  batchCount: number;
  /** tlb->batch (MMU_GATHER_TABLE_FREE): page-table pages waiting for the RCU free; null when no batch page. */
  tables: Pfn[] | null;
}

/** The "beyond every address" value the kernel writes as ~0 for a fullmm range. */
export const rangeTop = (g: Geometry): number => mmNrPages(g);

/** A fresh gather (`__tlb_gather_mmu()`): empty local batch of MMU_GATHER_BUNDLE slots, range reset. */
export function newGather(g: Geometry, mm: MmId, fullmm: boolean): MmuGather {
  const tlb: MmuGather = {
    mm,
    fullmm,
    start: 0,
    end: 0,
    // Stryker disable next-line BooleanLiteral: an initial value overwritten before it is read
    freedTables: false,
    // Stryker disable next-line BooleanLiteral: an initial value overwritten before it is read
    clearedPtes: false,
    // Stryker disable next-line BooleanLiteral: an initial value overwritten before it is read
    clearedPmds: false,
    delayedRmap: false,
    batches: [{ slots: [], nr: 0, max: g.gatherBundle }],
    active: 0,
    batchCount: 0,
    tables: null,
  };
  return { ...tlb, ...resetRange(g, tlb) };
}

/** The fields `__tlb_reset_range()` sets: fullmm keeps start = end = ~0, else an empty range. */
export function resetRange(
  g: Geometry,
  tlb: Pick<MmuGather, 'fullmm'>,
// Stryker disable next-line BlockStatement: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
): Pick<MmuGather, 'start' | 'end' | 'freedTables' | 'clearedPtes' | 'clearedPmds'> {
  const top = rangeTop(g);
  // Stryker disable next-line ObjectLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
  return {
    start: top,
    end: tlb.fullmm ? top : 0,
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    freedTables: false,
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    clearedPtes: false,
    // Stryker disable next-line BooleanLiteral: an extra flush or write-protect, or a gather full sooner: more cost, same behaviour
    clearedPmds: false,
  };
}

/** `__tlb_adjust_range()`: the range grown to cover [addr, addr + nr). */
export function adjustedRange(tlb: Pick<MmuGather, 'start' | 'end'>, addr: number, nr: number): { start: number; end: number } {
  return { start: Math.min(tlb.start, addr), end: Math.max(tlb.end, addr + nr) };
}

/** Slots an entry takes: a single page 1, "page + nr_pages" 2. */
// Stryker disable next-line ArrowFunction,ConditionalExpression,EqualityOperator: cost counter, measured not checked
export const encodedSlots = (nrPages: number): 1 | 2 => (nrPages > 1 ? 2 : 1);

/** `encode_page(page, flags)`: the slot of a run's first page; NR_PAGES_NEXT is set for a run of more than one page. */
export const encodePage = (page: Pfn, nrPages: number, delayRmap: boolean): EncodedSlot => ({ kind: 'page', page, delayRmap, nrPagesNext: nrPages > 1 });

/** `encode_nr_pages(nr)`: the second slot of a "page + nr_pages" entry. */
// Stryker disable next-line StringLiteral: visits nothing more that matters
export const encodeNrPages = (nrPages: number): EncodedSlot => ({ kind: 'nrPages', nrPages });

/** `encoded_page_flags(slot) & ENCODED_PAGE_BIT_NR_PAGES_NEXT`; an nr_pages slot's low bits are 0. */
export const hasNrPagesNext = (slot: EncodedSlot): boolean => slot.kind === 'page' && slot.nrPagesNext;

/** `encoded_page_flags(slot) & ENCODED_PAGE_BIT_DELAY_RMAP`; an nr_pages slot's low bits are 0. */
// Stryker disable next-line ArrowFunction,ConditionalExpression,EqualityOperator,LogicalOperator,StringLiteral: the other side is unreachable in the model
export const hasDelayRmap = (slot: EncodedSlot): boolean => slot.kind === 'page' && slot.delayRmap;

/**
 * After an append, the batch must move on when fewer than two slots are left: the next append
 * may be a 2-slot "page + nr_pages" entry, which must never be split across batches.
 */
export const batchNeedsNext = (b: GatherBatch): boolean => b.nr >= b.max - 1;

/** Does `tlb_flush_mmu_tlbonly()` have anything to flush? */
export const gatherNeedsFlush = (tlb: MmuGather): boolean => tlb.freedTables || tlb.clearedPtes || tlb.clearedPmds;
