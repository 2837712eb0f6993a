import { describe, expect, it } from 'vitest';
import type { Geometry } from '../models/machine/geometry';
import { geometry } from '../models/machine/geometry';
import { pfn as asPfn } from '../models/machine/ids';
import type { Machine } from '../models/machine/state';
import { createMachine } from '../models/machine/create';
import { describeViolation } from '../models/machine/violation';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import type { GatherBatch } from '../models/batched/mmuGather';
import { encodeNrPages, encodePage } from '../models/batched/mmuGather';
import { storeSlot } from '../models/batched/gatherLimits';
import { FreeChunkSplitsNrPages } from '../models/mutants/freeChunkSplitsNrPages';
import type { Op } from '../src/ops/op';
import { CheckedRun } from '../src/run/checkedRun';
import { op } from './__helpers__/ops';

/**
 * The gather's chunked free, `__tlb_batch_free_encoded_pages()` (mm/mmu_gather.c, 6.12): chunks
 * of at most MAX_NR_FOLIOS_PER_FREE slots (pages with poisoning or init_on_free), a
 * "page + nr_pages" entry never cut from its nr_pages slot.
 */

const SMALL = geometry('small');
const REALISTIC = geometry('realistic');

/** A hand-filled batch of `max` slots holding entries of [first page, nr_pages]. */
function batchOf(m: Machine, max: number, entries: readonly (readonly [number, number])[]): GatherBatch {
  const batch: GatherBatch = { slots: [], nr: 0, max };
  for (const [page, nr] of entries) {
    storeSlot(m, batch, encodePage(asPfn(page), nr, false));
    if (nr > 1) storeSlot(m, batch, encodeNrPages(nr));
  }
  return batch;
}

/** The chunk sizes the kernel would cut `entries` into, without freeing anything. */
function chunks(k: BatchedKernel, g: Geometry, entries: readonly (readonly [number, number])[], max = 4096): number[] {
  const m = createMachine(g);
  const batch = batchOf(m, max, entries);
  const out: number[] = [];
  while (batch.nr > 0) {
    const nr = k.tlbFreeChunkNr(m, batch);
    out.push(nr);
    batch.slots.splice(0, nr);
    batch.nr -= nr;
  }
  return out;
}

class InitOnFree extends BatchedKernel {
  override readonly name: string = 'init-on-free';
  override pagePoisoningOrInitOnFree(_m: Machine): boolean {
    return true;
  }
}

/** The batched kernel, recording the slot count of every free_pages_and_swap_cache() call. */
class RecordsChunks extends BatchedKernel {
  override readonly name: string = 'records-chunks';
  readonly calls: number[] = [];
  override freePagesAndSwapCache(m: Machine, batch: GatherBatch, nr: number): void {
    this.calls.push(nr);
    super.freePagesAndSwapCache(m, batch, nr);
  }
}

function runClean(k: BatchedKernel, ops: readonly Op[]): Machine {
  const run = new CheckedRun(k, SMALL);
  ops.forEach((o, i) => {
    const r = run.step(o, i);
    if ('violation' in r) throw new Error(`step ${i}: ${describeViolation(r.violation)}`);
  });
  return run.machine;
}

describe('tlbFreeChunkNr without page poisoning: slots capped at MAX_NR_FOLIOS_PER_FREE', () => {
  const k = new BatchedKernel();

  it('keeps a "page + nr_pages" entry whose page is the last slot under the cap whole (small: cap 1)', () => {
    expect(chunks(k, SMALL, [[0, 4]])).toEqual([2]);
    expect(chunks(k, SMALL, [[0, 1], [4, 4], [9, 1]])).toEqual([1, 2, 1]);
  });

  it('is what the free-chunk-splits-nr-pages mutant breaks: without the nr++ the entry is cut in two', () => {
    expect(chunks(new FreeChunkSplitsNrPages(), SMALL, [[0, 4]])).toEqual([1, 1]);
  });

  it('cuts single pages at the cap', () => {
    expect(chunks(k, SMALL, [[0, 1], [1, 1], [2, 1]])).toEqual([1, 1, 1]);
  });

  it('never cuts a full realistic batch page: 510 slots are under the cap of 512', () => {
    const entries = Array.from({ length: 255 }, (_, i) => [i * 16, 16] as const);
    expect(chunks(k, REALISTIC, entries, REALISTIC.maxGatherBatch)).toEqual([510]);
  });

  it('takes 513 slots when slot 511 is a page whose nr_pages is slot 512 (a batch larger than the cap)', () => {
    const singles = Array.from({ length: 511 }, (_, i) => [i, 1] as const);
    expect(chunks(k, REALISTIC, [...singles, [600, 8], [700, 1]])).toEqual([513, 1]);
    expect(chunks(k, REALISTIC, [...singles, [600, 1], [700, 8]])).toEqual([512, 2]);
  });
});

describe('tlbFreeChunkNr with page poisoning or init_on_free: pages counted, entries whole', () => {
  const k = new InitOnFree();

  it('starts no entry once the cap is reached, but takes the one crossing it whole', () => {
    expect(chunks(k, SMALL, [[0, 1], [4, 4], [9, 1]])).toEqual([1, 2, 1]);
    // 300 pages < 512: the next entry is taken whole (600 pages); then 600 >= 512 stops the chunk.
    expect(chunks(k, REALISTIC, [[0, 300], [512, 300], [1024, 1]])).toEqual([4, 1]);
    expect(chunks(k, REALISTIC, Array.from({ length: 600 }, (_, i) => [i, 1] as const))).toEqual([512, 88]);
  });
});

describe('the chunked free in a zap (small geometry, every oracle on)', () => {
  it('frees a large-folio run as one chunk of two slots', () => {
    const k = new RecordsChunks();
    const m = runClean(k, [op.map(0, 0, 2), op.zap(0, 0, 4), op.drain()]);
    expect(k.calls).toEqual([2]);
    expect(m.marks['gather free chunk kept an entry with its nr_pages']).toBe(1);
    expect(m.marks['gather batch freed in chunks'] ?? 0).toBe(0);
  });

  it('frees local [single] and a batch page [single, page, nr_pages] in three chunks, the run kept whole', () => {
    const k = new RecordsChunks();
    const m = runClean(k, [op.map(0, 0, 0), op.map(0, 1, 0), op.map(0, 4, 2), op.zap(0, 0, 8), op.drain()]);
    expect(k.calls).toEqual([1, 1, 2]);
    expect(m.marks['gather batch freed in chunks']).toBe(1);
    expect(m.marks['gather free chunk kept an entry with its nr_pages']).toBe(1);
  });

});
