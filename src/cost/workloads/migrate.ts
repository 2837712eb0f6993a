import type { Geometry } from '../../../models/machine/geometry';
import type { Op } from '../../ops/op';
import { costOp } from '../ops';
import type { CostWorkload, MeasuredRun, Verdict, WorkloadOps } from '../workload';
import { fail, pass, resultsOf } from '../workload';

/** Shape of the XSBench-like run, scaled to the geometry. */
interface MigrateShape {
  /** Read-mostly pages, order 0, from vpn 0. */
  readonly pages: number;
  /** Folios per migrate op (one migrate_pages() batch, as NUMA balancing / demotion issue them). */
  readonly batch: number;
  readonly rounds: number;
  /** Every `tickEvery` rounds time passes (RCU, and MIGRC's owed flush at the next arch_tlbbatch_flush()). */
  readonly tickEvery: number;
  /** Every `storeEvery` rounds one CPU stores to a shared page (read-mostly, not read-only). */
  readonly storeEvery: number;
  /** The mm and its forks: every page is mapped R/O in this many mms. */
  readonly mms: number;
}

function shape(g: Geometry): MigrateShape {
  const pages = Math.min(128, g.ptrsPerPte);
  return { pages, batch: Math.max(2, pages / 8), rounds: 24, tickEvery: 6, storeEvery: 8, mms: Math.min(3, g.maxMms) };
}

/** Reads of `pages` pages: every CPU of every mm reads two of them, rotating with the round. */
function readRound(g: Geometry, s: MigrateShape, round: number): Op[] {
  const ops: Op[] = [];
  for (let mm = 0; mm < s.mms; mm++) {
    for (let cpu = 0; cpu < g.nrCpus; cpu++) {
      for (let k = 0; k < 2; k++) ops.push(costOp.read(cpu, mm, (round * s.batch + cpu * 7 + mm * 13 + k * 31) % s.pages));
    }
  }
  return ops;
}

/**
 * Seed 002's XSBench run, scaled down: read-mostly data mapped R/O in several mms (populated by
 * read faults, then shared by fork), read from every CPU, and migrated over and over in batches
 * (NUMA balancing / demotion on tiered memory), with reads in between, time passing now and then
 * and a rare store. The per-page kernel flushes every PTE it turns into a migration entry
 * (`ptep_clear_flush()`), an IPI to each CPU in the mm's cpumask. The batched kernel flushes
 * once per migrate_pages() batch (`try_to_unmap_flush()`), and MIGRC skips even that for folios
 * whose mappings are all read-only and clean, keeping the sources until a release point (a write
 * fault, time passing, memory pressure, the final drain).
 *
 * The data is populated by read faults because a dirty PTE rules MIGRC out (the seed's
 * `set_tlb_ubc_flush_pending()` treats `pte_dirty()` as writable, and a dirty bit survives
 * migration): memory written once and then only read never qualifies.
 */
export const migrateReadMostly: CostWorkload = {
  name: 'migrate-read-mostly',
  seed: '002',
  description: 'XSBench-like: read-mostly pages mapped R/O in 3 mms, read from every CPU, migrated in batches 24 times',
  headline: 'XSBench: nr_tlb_remote_flush 751,464 -> 192,913; nr_tlb_remote_flush_received 10.7M -> 2.33M',
  notes: [
    'the reference flushes each PTE as it unmaps it; the batched kernel flushes once per batch, and MIGRC',
    'defers that flush for clean read-only folios until a write fault, a tick or the final drain',
  ],
  build(g: Geometry): WorkloadOps {
    const s = shape(g);
    const setup: Op[] = [];
    for (let v = 0; v < s.pages; v++) setup.push(costOp.read(v % g.nrCpus, 0, v));
    for (let k = 1; k < s.mms; k++) setup.push(costOp.fork(0));
    setup.push(...readRound(g, s, 0));
    const measured: Op[] = [];
    for (let r = 0; r < s.rounds; r++) {
      measured.push(costOp.migrate(r % s.mms, (r * s.batch) % s.pages, s.batch));
      measured.push(...readRound(g, s, r + 1));
      if ((r + 1) % s.storeEvery === 0) measured.push(costOp.write(r % g.nrCpus, (r + 1) % s.mms, (r * 5) % s.pages));
      if ((r + 1) % s.tickEvery === 0) measured.push(costOp.tick());
    }
    measured.push(costOp.drain());
    return { setup, measured };
  },
  verify(run: MeasuredRun): Verdict {
    const s = shape(run.geometry);
    const migrated = resultsOf(run.results, 'migrated');
    const folios = migrated.reduce((n, r) => n + r.folios, 0);
    const want = s.rounds * s.batch;
    if (migrated.length !== s.rounds) return fail(`${migrated.length} of ${s.rounds} migrate ops ran`);
    if (folios !== want) return fail(`${folios} of ${want} folio migrations happened`);
    const reads = resultsOf(run.results, 'value').length;
    return pass(`${folios} folio migrations in ${s.rounds} batches of ${s.batch}, ${reads} loads and stores`);
  },
};
