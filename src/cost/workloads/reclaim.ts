import range from 'lodash/range.js';
import type { Geometry } from '../../../models/machine/geometry';
import { mmId as asMm, vpn as asVpn } from '../../../models/machine/ids';
import { pteAt } from '../../../models/machine/pgtable';
import type { Op } from '../../ops/op';
import { costOp, touchFromEveryCpu } from '../ops';
import type { CostWorkload, MeasuredRun, Verdict, WorkloadOps } from '../workload';
import { fail, pass, resultsOf } from '../workload';

/** Order-0 pages reclaimed, from vpn 0: a table's worth, at most 128. */
const pagesOf = (g: Geometry): number => Math.min(128, g.ptrsPerPte);

/** Swap entries mm 0 has in [0, n). */
function swapEntries(run: MeasuredRun, n: number): number {
  let k = 0;
  for (let v = 0; v < n; v++) if (pteAt(run.machine, asMm(0), asVpn(v))?.kind === 'swap') k++;
  return k;
}

/**
 * Reclaim of anonymous pages every CPU has read (`shrink_folio_list()` swapping them out): the
 * per-page reference flushes each PTE as `try_to_unmap_one()` clears it (`ptep_clear_flush()`,
 * an IPI to every other CPU in the mm's cpumask, per page); the batched kernel unmaps with
 * TTU_BATCH_FLUSH and flushes once for the list (`try_to_unmap_flush()`, through `tlb_ubc`).
 * The pages are populated by read faults, so their PTEs are clean: a dirty PTE sets
 * `tlb_ubc->writable` and `try_to_unmap_flush_dirty()` flushes before that folio's pageout, one
 * flush per dirty folio — written order-0 pages save nothing (the test shows it).
 */
export const reclaimTouchedPages: CostWorkload = {
  name: 'reclaim-touched-pages',
  seed: '001',
  description: 'reclaim (swap-out) of pages every CPU has read, in one shrink_folio_list() call',
  headline: 'TTU_BATCH_FLUSH: one TLB flush per reclaimed list instead of one per unmapped PTE',
  notes: [
    'the reference flushes each PTE it unmaps; the batched kernel defers to one tlb_ubc flush before the',
    'free; a dirty PTE would force a flush before its folio\'s pageout (try_to_unmap_flush_dirty())',
  ],
  build(g: Geometry): WorkloadOps {
    const n = pagesOf(g);
    const setup: Op[] = [];
    for (let v = 0; v < n; v++) setup.push(costOp.read(v % g.nrCpus, 0, v));
    setup.push(...touchFromEveryCpu(g.nrCpus, 0, range(n)));
    return { setup, measured: [costOp.reclaim(0, 0, n), costOp.drain()] };
  },
  verify(run: MeasuredRun): Verdict {
    const n = pagesOf(run.geometry);
    const [r] = resultsOf(run.results, 'reclaimed');
    if (r === undefined) return fail(`reclaim returned ${run.results[0]?.kind ?? 'nothing'}`);
    if (r.folios !== n) return fail(`${r.folios} of ${n} pages reclaimed`);
    const swapped = swapEntries(run, n);
    if (swapped !== n) return fail(`${swapped} of ${n} PTEs hold swap entries`);
    return pass(`${n} pages swapped out`);
  },
};
