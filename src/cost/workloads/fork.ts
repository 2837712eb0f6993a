import type { Geometry } from '../../../models/machine/geometry';
import { folioNrPages } from '../../../models/machine/geometry';
import type { MmId } from '../../../models/machine/ids';
import { vpn as asVpn } from '../../../models/machine/ids';
import { pteAt } from '../../../models/machine/pgtable';
import type { Op } from '../../ops/op';
import { costOp, spread, touchFromEveryCpu } from '../ops';
import type { CostWorkload, MeasuredRun, Verdict, WorkloadOps } from '../workload';
import { fail, pass, resultsOf } from '../workload';

/** One PTE-mapped PMD-order folio in each of the first `folios` PMD slots of mm 0, touched from every CPU. */
function populate(g: Geometry, folios: number): Op[] {
  const nr = folioNrPages(g.maxFolioOrder);
  const ops: Op[] = [];
  for (let i = 0; i < folios; i++) {
    ops.push(costOp.mapPtes(0, i * g.ptrsPerPte, g.maxFolioOrder));
    ops.push(...touchFromEveryCpu(g.nrCpus, 0, spread(i * g.ptrsPerPte, nr, 2)));
  }
  return ops;
}

/** Present PTEs the child has. */
function childPtes(run: MeasuredRun, child: MmId): number {
  let n = 0;
  const top = run.geometry.pmdsPerMm * run.geometry.ptrsPerPte;
  for (let v = 0; v < top; v++) if (pteAt(run.machine, child, asVpn(v))?.kind === 'present') n++;
  return n;
}

function verifyFork(run: MeasuredRun, folios: number, copies: number): Verdict {
  const [forked] = resultsOf(run.results, 'forked');
  if (forked === undefined) return fail(`fork returned ${run.results[0]?.kind ?? 'nothing'}`);
  const want = folios * folioNrPages(run.geometry.maxFolioOrder);
  const got = childPtes(run, forked.child);
  if (got !== want) return fail(`the child has ${got} of ${want} PTEs`);
  if (run.stats.pagesCopied !== copies) return fail(`${run.stats.pagesCopied} pages copied for the child, expected ${copies}`);
  return pass(`child mm ${forked.child} maps all ${want} pages${copies > 0 ? `, ${copies} of them copies of the pinned folio` : ', shared COW'}`);
}

/**
 * fork() of an mm whose memory is PTE-mapped PMD-order folios: `copy_present_ptes()` copies a
 * run of PTEs of one folio with one `folio_ref_add(nr)` and one `folio_try_dup_anon_rmap_ptes(nr)`
 * (the batching seed 000 says "already exists for fork"), where the per-page kernel takes one
 * reference and one rmap call per PTE. The parent's TLB is flushed once in both.
 */
export const forkPteMappedThp: CostWorkload = {
  name: 'fork-pte-mapped-thp',
  seed: '000',
  description: 'fork() of an mm holding one PTE-mapped PMD-order folio per PMD slot',
  headline: 'fork batching: one refcount and one rmap update per batch of PTEs of one folio',
  notes: [],
  build(g: Geometry): WorkloadOps {
    return { setup: populate(g, g.pmdsPerMm), measured: [costOp.fork(0), costOp.drain()] };
  },
  verify: (run) => verifyFork(run, run.geometry.pmdsPerMm, 0),
};

/**
 * fork() of one PTE-mapped PMD-order folio with one page pinned (FOLL_PIN, R/O): the folio may be
 * pinned and its pages are exclusive, so every page of it must be copied for the child. The
 * batched `copy_present_ptes()` tries a batch, fails in `folio_try_dup_anon_rmap_ptes()`, undoes
 * the references, returns -EAGAIN, preallocates and copies ONE page — then tries a batch again at
 * the next page: per page it spends two more atomic updates than the per-page kernel. This is the
 * kernel's behaviour (6.12), and the case where batching costs more than it saves.
 */
export const forkPinnedPteMappedThp: CostWorkload = {
  name: 'fork-pinned-pte-mapped-thp',
  seed: '000',
  description: 'fork() of an mm holding one PTE-mapped PMD-order folio with one page pinned (every page is copied)',
  headline: 'fork batching with the pinned-page fallback (-EAGAIN, preallocate, copy one page, retry)',
  notes: ['every page of a maybe-pinned exclusive large folio is copied, one per -EAGAIN round trip'],
  build(g: Geometry): WorkloadOps {
    return { setup: [...populate(g, 1), costOp.gupFast(0, 0, 0, 1, true, false)], measured: [costOp.fork(0), costOp.drain()] };
  },
  verify: (run) => verifyFork(run, 1, folioNrPages(run.geometry.maxFolioOrder)),
};
