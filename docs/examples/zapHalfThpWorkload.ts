import type { Geometry } from '../../models/machine/geometry';
import { folioNrPages } from '../../models/machine/geometry';
import { costOp, spread, touchFromEveryCpu } from '../../src/cost/ops';
import type { CostWorkload, MeasuredRun, Verdict, WorkloadOps } from '../../src/cost/workload';
import { fail, pass } from '../../src/cost/workload';

/**
 * A cost workload of your own, as `mmcheck cost --workload docs/examples/zapHalfThpWorkload.ts`
 * runs it: MADV_DONTNEED of the first half of a PTE-mapped PMD-order folio that every CPU has
 * touched. The folio stays (half mapped, queued for deferred split), so the batched zap's saving
 * is on the rmap calls, reference drops and flushes of the half it unmaps.
 */
const zapHalfThp: CostWorkload = {
  name: 'zap-half-thp',
  seed: null,
  description: 'MADV_DONTNEED of the first half of one PTE-mapped PMD-order folio that every CPU has touched',
  headline: 'half the PTEs of a large folio unmapped in one batch; the folio stays, partially mapped',
  notes: ['the folio is not freed: the counters are the unmap work alone'],
  build(g: Geometry): WorkloadOps {
    const nr = folioNrPages(g.maxFolioOrder);
    return {
      setup: [costOp.mapPtes(0, 0, g.maxFolioOrder), ...touchFromEveryCpu(g.nrCpus, 0, spread(0, nr, 8))],
      measured: [costOp.zap(0, 0, nr / 2), costOp.drain()],
    };
  },
  verify(run: MeasuredRun): Verdict {
    if (run.results[0]?.kind !== 'done') return fail(`zap returned ${run.results[0]?.kind ?? 'nothing'}`);
    return pass(`${folioNrPages(run.geometry.maxFolioOrder) / 2} PTEs zapped`);
  },
};

export default zapHalfThp;
