import type { Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { pteAt, setPte } from '../machine/pgtable';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MadviseWalk } from '../reference/madvise';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: MADV_FREE clears the PTEs' dirty bits without flushing them from the TLBs
 * (`tlb_remove_tlb_entries()` forgotten after `clear_young_dirty_ptes()`).
 * Violates: x86 caches the dirty bit with the translation: a CPU that still holds the dirty
 * writable entry stores without a page walk, so the PTE stays clean, reclaim sees a clean
 * lazyfree folio and drops it, and the store is lost ("a page written after MADV_FREE must keep
 * its data — the PTE dirty bit decides").
 * Caught by: stale_read (user-visible memory).
 */
export class MadviseFreeNoFlush extends BatchedKernel {
  override readonly name: string = 'madvise-free-no-flush';

  override madviseClearPtes(m: Machine, walk: MadviseWalk, v: Vpn, nr: number, clean: boolean): void {
    if (!clean) {
      super.madviseClearPtes(m, walk, v, nr, clean);
      return;
    }
    for (let k = 0; k < nr; k++) {
      const pte = pteAt(m, walk.mm, asVpn(v + k));
      if (pte !== null && pte.kind === 'present') setPte(m, walk.mm, asVpn(v + k), { ...pte, young: false, dirty: false });
    }
  }
}

export const madviseFreeNoFlush: MutantSpec = defineMutant(MadviseFreeNoFlush, {
  breaks: "MADV_FREE clears the PTEs' dirty bits without flushing the TLBs",
  violates: 'MADV_FREE (mm/madvise.c): a page stored to after MADV_FREE keeps its data; the cleared dirty bit must not stay cached in a TLB',
  caughtBy: ['stale_read', 'pin_unreliable', 'divergence'],
});
