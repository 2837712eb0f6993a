import { BatchedKernel } from '../batched/BatchedKernel';
import type { Machine } from '../machine/state';
import { vpn as asVpn } from '../machine/ids';
import { folioAt, folioHead } from '../machine/frames';
import { folioTestAnon } from '../machine/files';
import { pteAt } from '../machine/pgtable';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: truncate unmaps with `even_cows` 0: the anonymous copies a MAP_PRIVATE mapping made of
 * the truncated pages stay mapped (`zap_skip_check_mapping()` skips them), as a hole punch
 * (`truncate_pagecache_range()`) would, not a truncate.
 * Violates: mm/truncate.c `truncate_pagecache()`: `unmap_mapping_range(mapping, holebegin, 0, 1)`
 * — private COW pages beyond the new EOF go too (an access there must not find them).
 * Caught by: the user-memory oracle (stale_read: the page still reads its private copy, not the
 * file's zeros), or the differential (divergence).
 */
export class TruncateSkipsCows extends BatchedKernel {
  override readonly name: string = 'truncate-skips-cows';

  override unmapMappingRange(m: Machine, file: number, from: number): void {
    for (const mm of m.mms) {
      if (!mm.alive || mm.vmaFile === undefined) continue;
      mm.vmaFile.forEach((vf, v) => {
        if (vf === null || vf.file !== file || vf.pgoff < from) return;
        const pte = pteAt(m, mm.id, asVpn(v));
        if (pte !== null && pte.kind === 'present' && folioTestAnon(folioAt(m, folioHead(m, pte.pfn)))) return;
        if (pte !== null && pte.kind === 'swap') return; // a swapped-out private copy
        this.zapPageRange(m, mm.id, asVpn(v), asVpn(v + 1));
      });
    }
  }
}

export const truncateSkipsCows: MutantSpec = defineMutant(TruncateSkipsCows, {
  breaks: "truncate leaves a private mapping's anonymous copies of the truncated pages mapped (even_cows 0)",
  violates: 'mm/truncate.c truncate_pagecache(): unmap_mapping_range(..., even_cows = 1) unmaps private COW pages beyond EOF too',
  caughtBy: ['stale_read', 'divergence'],
});
