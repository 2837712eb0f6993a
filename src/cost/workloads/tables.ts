import range from 'lodash/range.js';
import type { Geometry } from '../../../models/machine/geometry';
import type { Op } from '../../ops/op';
import { costOp, spread, touchFromEveryCpu } from '../ops';
import type { CostWorkload, MeasuredRun, Verdict, WorkloadOps } from '../workload';
import { fail, pass, resultsOf } from '../workload';

/** mms in the run: mm 0 and its forks. */
const nrMms = (g: Geometry): number => Math.min(4, g.maxMms);
/** mms whose tables are reclaimed one at a time (zap + freeTable); the rest exit. */
const nrReclaimed = (g: Geometry): number => Math.floor(nrMms(g) / 2);

/**
 * Seed 003: freeing many empty page tables, both ways the kernel does it. Half the mms zap
 * everything and reclaim each now-empty PTE table on its own (empty-page-table reclaim,
 * `try_to_free_pte()`: a single table through a one-table gather); the other half exit
 * (`free_pgtables()`: every table into one gather's table batch, one RCU callback for the batch).
 * Every mm ran on every CPU, so an IPI would hit them all.
 *
 * With the seed patch applied, no table is freed after a `tlb_remove_table_sync_one()` IPI: a
 * single table goes to RCU too, so table-sync IPIs stay 0 (the "semi RCU" kernel,
 * `--kernel semi-rcu-single-table`, sends one per CPU per table instead). The reference queues one
 * RCU callback per table; the batched kernel one per gather.
 */
export const freePageTables: CostWorkload = {
  name: 'free-page-tables',
  seed: '003',
  description: 'zap + reclaim every empty PTE table of 2 mms, one at a time; exit 2 more mms (table batch)',
  headline: 'single-table frees by RCU instead of IPI + immediate free ("semi RCU"); batches already went through RCU',
  notes: ['table-sync IPIs are what "semi RCU" would send: one per CPU for every single-table free'],
  build(g: Geometry): WorkloadOps {
    const all = g.pmdsPerMm * g.ptrsPerPte;
    const setup: Op[] = [];
    for (let i = 0; i < g.pmdsPerMm; i++) for (const v of spread(i * g.ptrsPerPte, g.ptrsPerPte, 3)) setup.push(costOp.read(0, 0, v));
    for (let k = 1; k < nrMms(g); k++) setup.push(costOp.fork(0));
    const touched = range(g.pmdsPerMm).map((i) => i * g.ptrsPerPte);
    for (let mm = 0; mm < nrMms(g); mm++) setup.push(...touchFromEveryCpu(g.nrCpus, mm, touched));
    const measured: Op[] = [];
    for (let mm = 0; mm < nrReclaimed(g); mm++) {
      measured.push(costOp.zap(mm, 0, all));
      for (let i = 0; i < g.pmdsPerMm; i++) measured.push(costOp.freeTable(mm, i));
    }
    // Exit the highest live index first, so the indexes of the ones still to go do not shift.
    for (let mm = nrMms(g) - 1; mm >= nrReclaimed(g); mm--) measured.push(costOp.exit(mm));
    measured.push(costOp.drain());
    return { setup, measured };
  },
  verify(run: MeasuredRun): Verdict {
    const g = run.geometry;
    const tables = nrMms(g) * g.pmdsPerMm;
    const exits = nrMms(g) - nrReclaimed(g);
    const noops = resultsOf(run.results, 'noop');
    if (noops.length > 0) return fail(`${noops.length} ops did nothing: ${noops[0]?.reason ?? ''}`);
    if (run.stats.tablesFreed !== tables) return fail(`${run.stats.tablesFreed} of ${tables} page tables freed`);
    return pass(`${tables} page tables freed: ${nrReclaimed(g) * g.pmdsPerMm} reclaimed one at a time, ${(nrMms(g) - nrReclaimed(g)) * g.pmdsPerMm} by ${exits} exits`);
  },
};
