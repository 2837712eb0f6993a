import type { Geometry } from '../../../models/machine/geometry';
import { folioNrPages } from '../../../models/machine/geometry';
import { freeFrameCount } from '../../../models/machine/frames';
import { costOp, spread, touchFromEveryCpu } from '../ops';
import type { CostWorkload, MeasuredRun, Verdict, WorkloadOps } from '../workload';
import { fail, pass } from '../workload';

/**
 * MADV_DONTNEED of one whole PTE-mapped PMD-order folio (seed 000's example: "a PTE-mapped THP
 * (2M folio -> 512 pages) and zap all 512 PTEs"). Every CPU touched the folio first, so every
 * flush has targets. The batched zap puts one "page + nr_pages" entry (2 gather slots) in the
 * mmu_gather, removes the rmap once, drops the 512 references with one folio_put_refs() and
 * flushes the TLB once for the range. The reference has no mmu_gather: it unmaps page by page
 * (clear, flush that page, rmap, put), so its per-page work shows as 512 rmap calls, 512
 * reference drops and 512 flush calls — those rows are the comparison, not its 0 gather slots.
 */
export const zapPteMappedThp: CostWorkload = {
  name: 'zap-pte-mapped-thp',
  seed: '000',
  description: 'MADV_DONTNEED of one PTE-mapped PMD-order folio that every CPU has touched',
  headline: 'refcount, rmap and TLB entry removal once per batch instead of once per PTE; 512 PTEs -> one "page + nr_pages" entry',
  notes: [
    'the reference has no mmu_gather (0 slots): it would have queued one entry per page; its per-page work is',
    'the rmap calls, reference drops and per-page TLB flush calls (each flush hits every CPU that ran the mm)',
  ],
  build(g: Geometry): WorkloadOps {
    const nr = folioNrPages(g.maxFolioOrder);
    return {
      setup: [costOp.mapPtes(0, 0, g.maxFolioOrder), ...touchFromEveryCpu(g.nrCpus, 0, spread(0, nr, 8))],
      measured: [costOp.zap(0, 0, nr), costOp.drain()],
    };
  },
  verify(run: MeasuredRun): Verdict {
    const nr = folioNrPages(run.geometry.maxFolioOrder);
    const freed = freeFrameCount(run.machine) === run.geometry.nrFrames - 1; // only the PTE table is left
    if (run.results[0]?.kind !== 'done') return fail(`zap returned ${run.results[0]?.kind ?? 'nothing'}`);
    if (!freed) return fail('the folio was not freed by the zap');
    return pass(`all ${nr} PTEs zapped, the folio freed`);
  },
};
