import type { Geometry } from '../../../models/machine/geometry';
import { folioNrPages } from '../../../models/machine/geometry';
import { costOp, spread, touchFromEveryCpu } from '../ops';
import type { CostWorkload, MeasuredRun, Verdict, WorkloadOps } from '../workload';
import { fail, pass, resultsOf } from '../workload';

/**
 * GUP of every page of one PMD-mapped PMD-order folio, the seed 004 benchmark
 * (`gup_benchmark -n 512 -w` on 2 MiB pages): get_user_pages_fast / pin_user_pages_fast for
 * FOLL_WRITE. The per-page kernel takes one reference (or pin) per 4 KiB page; the patch records
 * the subpages and grabs the head once with `refs = 512`. The measured phase is the GUP alone,
 * as the benchmark times it (the release happens after its clock stops).
 */
function gupWorkload(pin: boolean): CostWorkload {
  const call = pin ? 'pin_user_pages_fast' : 'get_user_pages_fast';
  return {
    name: pin ? 'gup-pin-pmd-thp' : 'gup-pmd-thp',
    seed: '004',
    description: `${call}(FOLL_WRITE) of all pages of one PMD-mapped PMD-order folio, 1 call`,
    headline: pin ? 'pin_user_pages_fast on 2M pages: ~125k us -> ~3.8k us' : 'get_user_pages_fast on 2M pages: ~75k us -> ~3.6k us',
    notes: pin
      ? ['a pin on a large folio is two atomic updates (_refcount and _pincount) per try_grab_folio() call']
      : ['one try_grab_folio(refs = n) is one atomic update, whatever n is'],
    build(g: Geometry): WorkloadOps {
      const order = g.maxFolioOrder;
      const nr = folioNrPages(order);
      return {
        setup: [costOp.mapPmd(0, 0, order), ...touchFromEveryCpu(g.nrCpus, 0, spread(0, nr, 4))],
        measured: [costOp.gupFast(0, 0, 0, nr, pin, true), costOp.drain()],
      };
    },
    verify: tookTheWholeFolio(call),
  };
}

/** Both GUP workloads pass when the one call returned one handle holding every page of the folio. */
function tookTheWholeFolio(call: string): (run: MeasuredRun) => Verdict {
  return (run) => {
    const nr = folioNrPages(run.geometry.maxFolioOrder);
    const [h] = resultsOf(run.results, 'handle');
    if (h === undefined) return fail(`GUP returned ${run.results[0]?.kind ?? 'nothing'}, not a handle`);
    if (h.pages !== nr) return fail(`GUP took ${h.pages} of ${nr} pages`);
    return pass(`${call} took all ${nr} pages in one handle`);
  };
}

export const gupPmdThp = gupWorkload(false);
export const gupPinPmdThp = gupWorkload(true);

/**
 * GUP of every page of one PTE-mapped PMD-order folio (`gup_benchmark -n 512 -w` on a THP that
 * was split at the PMD level, or a large folio mapped by PTEs). 6.12 takes PTE-mapped pages one
 * at a time (`gup_fast_pte_range()` → `try_grab_folio_fast(page, 1)`), so `batched` saves nothing
 * over the reference here; the `batched-gup-runs` proposal grabs the run once.
 */
function gupPteWorkload(pin: boolean): CostWorkload {
  const call = pin ? 'pin_user_pages_fast' : 'get_user_pages_fast';
  return {
    name: pin ? 'gup-pin-pte-thp' : 'gup-pte-thp',
    seed: '004',
    description: `${call}(FOLL_WRITE) of all pages of one PTE-mapped PMD-order folio, 1 call`,
    headline: '6.12 grabs PTE-mapped pages one at a time; batched-gup-runs grabs the run once (a proposal)',
    notes: ['run with --kernel batched-gup-runs for the proposal; batched (6.12) equals the reference here'],
    build(g: Geometry): WorkloadOps {
      const order = g.maxFolioOrder;
      const nr = folioNrPages(order);
      return {
        setup: [costOp.mapPtes(0, 0, order), ...touchFromEveryCpu(g.nrCpus, 0, spread(0, nr, 4))],
        measured: [costOp.gupFast(0, 0, 0, nr, pin, true), costOp.drain()],
      };
    },
    verify: tookTheWholeFolio(call),
  };
}

export const gupPteThp = gupPteWorkload(false);
export const gupPinPteThp = gupPteWorkload(true);
