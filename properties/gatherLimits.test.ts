import { describe, expect, it } from 'vitest';
import type { Pfn } from '../models/machine/ids';
import { pfn as asPfn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { createMachine } from '../models/machine/create';
import type { Violation } from '../models/machine/violation';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { GatherBatch, MmuGather } from '../models/batched/mmuGather';
import { encodeNrPages, encodePage, newGather } from '../models/batched/mmuGather';
import { addBatchPage, encodedPagePtr, loadSlot, queueTable, storeSlot } from '../models/batched/gatherLimits';
import { mmId } from '../models/machine/ids';
import type { Op } from '../src/ops/op';
import { op } from './__helpers__/ops';
import { SMALL, catchViolation, firstViolation } from './__helpers__/bench';

/**
 * The gather's limits (gatherLimits.ts): a batch stored past its `max`, a batch page beyond
 * MAX_GATHER_BATCH_COUNT, a "page + nr_pages" entry split across batches or missing its second
 * slot, and a table batch past MAX_TABLE_BATCH are kernel_warn findings at the step that breaks
 * them — and the correct kernel never trips them.
 */

const message = (v: Violation | null): string => (v?.code === 'kernel_warn' ? v.message : `not a kernel_warn: ${JSON.stringify(v)}`);

describe('the checked stores and loads', () => {
  const m = createMachine(SMALL);
  const batch = (max: number): GatherBatch => ({ slots: [], nr: 0, max });
  const p = (n: number): Pfn => asPfn(n);

  it('accept a full batch of whole entries', () => {
    const b = batch(3);
    storeSlot(m, b, encodePage(p(1), 1, false));
    storeSlot(m, b, encodePage(p(4), 4, false));
    storeSlot(m, b, encodeNrPages(4));
    expect(b.nr).toBe(3);
    expect(loadSlot(m, b, 2)).toEqual(encodeNrPages(4));
  });

  it('refuse a store past max', () => {
    const b = batch(2);
    storeSlot(m, b, encodePage(p(1), 1, false));
    storeSlot(m, b, encodePage(p(4), 4, false));
    expect(message(catchViolation(() => storeSlot(m, b, encodeNrPages(4))))).toMatch(/batch overflow: slot 2 stored in a batch of 2 slots/);
  });

  it('refuse an nr_pages slot at the start of a batch (the entry split across batches) or after a single page', () => {
    expect(message(catchViolation(() => storeSlot(m, batch(3), encodeNrPages(4))))).toMatch(/split across batches/);
    const b = batch(3);
    storeSlot(m, b, encodePage(p(1), 1, false));
    expect(message(catchViolation(() => storeSlot(m, b, encodeNrPages(4))))).toMatch(/without its page before it/);
  });

  it('refuse a page where the previous entry\'s nr_pages slot belongs', () => {
    const b = batch(3);
    storeSlot(m, b, encodePage(p(4), 4, false));
    expect(message(catchViolation(() => storeSlot(m, b, encodePage(p(9), 1, false))))).toMatch(/where the nr_pages slot of page 4 belongs/);
  });

  it('refuse reading past the used slots, and decoding an nr_pages slot as a page', () => {
    const b = batch(3);
    storeSlot(m, b, encodePage(p(4), 4, false));
    expect(message(catchViolation(() => loadSlot(m, b, 1)))).toMatch(/lost its nr_pages slot/);
    expect(message(catchViolation(() => encodedPagePtr(m, encodeNrPages(4))))).toMatch(/decoded as a page/);
  });

  it('refuse a batch page beyond MAX_GATHER_BATCH_COUNT and a table beyond MAX_TABLE_BATCH', () => {
    const tlb = newGather(SMALL, mmId(0), false);
    for (let i = 0; i < SMALL.maxGatherBatchCount; i++) addBatchPage(m, tlb);
    expect(tlb.batches.length).toBe(1 + SMALL.maxGatherBatchCount);
    expect(message(catchViolation(() => addBatchPage(m, tlb)))).toMatch(/batch page 7, beyond MAX_GATHER_BATCH_COUNT \(6\)/);
    const tables: Pfn[] = [];
    for (let i = 0; i < SMALL.maxTableBatch; i++) queueTable(m, tables, p(100 + i));
    expect(message(catchViolation(() => queueTable(m, tables, p(200))))).toMatch(/table batch overflow: table 3 queued in a batch of 2/);
  });
});


/** Hand-broken: tlb_next_batch() without the MAX_GATHER_BATCH_COUNT check. */
class UnboundedBatches extends BatchedKernel {
  override readonly name: string = 'unbounded-batches';
  override tlbNextBatch(m: Machine, tlb: MmuGather): boolean {
    addBatchPage(m, tlb);
    tlb.active = tlb.batches.length - 1;
    return true;
  }
}

/** Hand-broken: the next batch only when this one is full, even between the two slots of an entry. */
class SplitsEntries extends BatchedKernel {
  override readonly name: string = 'splits-entries';
  override tlbRemoveFolioPagesSizeRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    const full = (): boolean => {
      const b = this.activeBatch(tlb);
      return b.nr === b.max && !this.tlbNextBatch(m, tlb);
    };
    storeSlot(m, this.activeBatch(tlb), encodePage(page, nr, delayRmap));
    if (full()) return true;
    if (nr > 1) storeSlot(m, this.activeBatch(tlb), encodeNrPages(nr));
    return full();
  }
}

/** Hand-broken: tlb_remove_table() that never hands a full table batch to RCU. */
class TableBatchNeverFull extends BatchedKernel {
  override readonly name: string = 'table-batch-never-full';
  override tlbRemoveTable(m: Machine, tlb: MmuGather, table: Pfn): void {
    tlb.tables ??= [];
    queueTable(m, tlb.tables, table);
  }
}

/** Hand-broken: a run queued as its page alone, with NR_PAGES_NEXT set and no nr_pages slot. */
class ForgetsNrPages extends BatchedKernel {
  override readonly name: string = 'forgets-nr-pages';
  override tlbRemoveFolioPagesSizeRaw(m: Machine, tlb: MmuGather, page: Pfn, nr: number, delayRmap: boolean): boolean {
    const b = this.activeBatch(tlb);
    storeSlot(m, b, encodePage(page, nr, delayRmap));
    return b.nr >= b.max - 1 && !this.tlbNextBatch(m, tlb);
  }
}

describe('the gather limits on whole steps: kernel_warn where the limit breaks, silence on the batched kernel', () => {
  // 16 single pages, zapped in one go: local (1 entry) + 6 batch pages (2 entries each) hold 13.
  const sixteenSingles: Op[] = [...Array.from({ length: 16 }, (_, v) => op.write(0, 0, v)), op.zap(0, 0, 16)];
  // A single page, then a 4-page run: the run's page lands in the last slot of local (2 slots).
  const singleThenRun: Op[] = [op.map(0, 0, 0), op.map(0, 4, 2), op.zap(0, 0, 8)];
  // Three PTE tables freed by one exit (of the child: the last mm never exits); MAX_TABLE_BATCH is 2 here.
  const threeTables: Op[] = [op.write(0, 0, 0), op.write(0, 0, 16), op.write(0, 0, 32), op.fork(0), op.exit(1)];
  const run: Op[] = [op.map(0, 0, 2), op.zap(0, 0, 4)];

  it.each([
    ['more batch pages than MAX_GATHER_BATCH_COUNT', new UnboundedBatches(), sixteenSingles, /beyond MAX_GATHER_BATCH_COUNT/],
    ['a "page + nr_pages" entry split across two batches', new SplitsEntries(), singleThenRun, /split across batches/],
    ['a table batch beyond MAX_TABLE_BATCH', new TableBatchNeverFull(), threeTables, /table batch overflow/],
    ['a run whose nr_pages slot was never stored', new ForgetsNrPages(), run, /lost its nr_pages slot/],
  ] as const)('%s', (_what, kernel, ops, pattern) => {
    const v = firstViolation(kernel, ops);
    expect(message(v)).toMatch(pattern);
    expect(v?.step).toBe(ops.length - 1);
    expect(firstViolation(new BatchedKernel(), [...ops, op.drain()])).toBeNull();
  });
});
