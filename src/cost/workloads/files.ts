import range from 'lodash/range.js';
import type { Geometry } from '../../../models/machine/geometry';
import { fileFolioOrder, fileNrPages } from '../../../models/machine/files';
import { folioNrPages } from '../../../models/machine/geometry';
import { costOp, spread } from '../ops';
import type { CostWorkload, MeasuredRun, Verdict, WorkloadOps } from '../workload';
import { fail, pass } from '../workload';

/** File 1: the one whose page cache holds large folios. */
const FILE = 1;

/**
 * MADV_DONTNEED of one table's worth of a MAP_SHARED file mapping whose pages every CPU has
 * stored to (seed 000's delayed-rmap thread, 5df397dec7c4): every PTE is dirty, so the batched
 * zap marks each folio dirty, delays its rmap (`delay_rmap`), and forces the flush at the end of
 * the table — `tlb_next_batch()` refuses a second batch page while rmaps are delayed, so the
 * gather fills sooner than for anonymous memory; then `tlb_flush_rmaps()` removes the rmaps
 * under the PTL. The reference flushes each page before it removes that page's rmap. The page
 * cache keeps every folio: nothing is freed.
 */
export const zapDirtySharedFile: CostWorkload = {
  name: 'zap-dirty-shared-file',
  seed: '000',
  description: 'MADV_DONTNEED of one table of a MAP_SHARED file mapping every CPU has stored to',
  headline: "delayed rmap: the rmap of a dirty file page goes after the TLB flush, one flush per table instead of one per page",
  notes: [
    'a dirty shared page delays its rmap until after the flush (folio_mkclean() must not find it unmapped while a TLB may write it);',
    'the batched zap forces one flush at the end of the table, the reference flushes before each rmap removal',
  ],
  build(g: Geometry): WorkloadOps {
    const nr = g.ptrsPerPte;
    const stores = spread(0, nr, nr).map((v, i) => costOp.write(i % g.nrCpus, 0, v));
    const fromEveryCpu = range(g.nrCpus).map((cpu) => costOp.read(cpu, 0, 0));
    return {
      setup: [{ kind: 'mmapFile', mm: 0, vpn: 0, nr: Math.min(nr, fileNrPages(g)), file: FILE, pgoff: 0, shared: true }, ...stores, ...fromEveryCpu],
      measured: [costOp.zap(0, 0, nr), costOp.drain()],
    };
  },
  verify(run: MeasuredRun): Verdict {
    const nr = run.geometry.ptrsPerPte;
    const folios = nr / folioNrPages(fileFolioOrder(run.geometry, FILE));
    if (run.results[0]?.kind !== 'done') return fail(`zap returned ${run.results[0]?.kind ?? 'nothing'}`);
    const cache = run.machine.files?.[FILE]?.cache.slice(0, nr) ?? [];
    if (cache.some((p) => p === null)) return fail('the zap dropped pages from the page cache');
    const heads = new Set(cache.map((p) => run.machine.frames[p!]?.head ?? p!));
    if (heads.size !== folios) return fail(`${heads.size} folios cached, expected ${folios}`);
    if ([...heads].some((h) => run.machine.frames[h]?.folio?.dirty !== true)) return fail('a folio the stores dirtied is clean: the zap lost its dirty bit');
    return pass(`all ${nr} PTEs zapped; the ${folios} folios stay cached, dirty`);
  },
};
