import type { Machine } from '../machine/state';
import { folioHead } from '../machine/frames';
import type { GatherBatch } from '../batched/mmuGather';
import { hasNrPagesNext } from '../batched/mmuGather';
import { encodedPagePtr, loadSlot } from '../batched/gatherLimits';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: freeing the gathered pages drops one reference per gather entry (`folio_put()`)
 * instead of the entry's nr_pages (`folios_put_refs(refs = nr)`), so a zapped batch of n PTEs
 * of one folio leaves n - 1 references behind and the folio is never freed.
 * Violates: seed 000 (PTE-batched zap): a "page + nr_pages" entry stands for nr mappings, each
 * holding one reference (docs/kernel-semantics.md §3 `__tlb_batch_free_encoded_pages()`, §6 "each
 * page-table mapping holds one ref").
 * Caught by: the ledger audit (refcount_mismatch) right after the zap.
 */
export class ZapDropsOneRefPerBatch extends BatchedKernel {
  override readonly name: string = 'zap-drops-one-ref-per-batch';

  override freePagesAndSwapCache(m: Machine, batch: GatherBatch, nr: number): void {
    for (let i = 0; i < nr; i++) {
      const slot = loadSlot(m, batch, i);
      if (hasNrPagesNext(slot)) i++;
      this.freeSwapCache(m, folioHead(m, encodedPagePtr(m, slot))); // as the kernel: only the refs are wrong
      this.folioPut(m, folioHead(m, encodedPagePtr(m, slot)));
    }
  }
}

export const zapDropsOneRefPerBatch: MutantSpec = defineMutant(ZapDropsOneRefPerBatch, {
  breaks: 'the gather drops one reference per "page + nr_pages" entry instead of nr',
  violates: 'seed 000: folios_put_refs(refs = nr) — each of the nr zapped mappings held a reference',
  caughtBy: ['refcount_mismatch'],
});
