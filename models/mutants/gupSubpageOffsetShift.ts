import type { Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn } from '../machine/ids';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `record_subpages()` computes the first subpage with the leaf's shift where its size
 * belongs: `head + ((addr & (shift - 1)) >> PAGE_SHIFT)` with shift = PMD_SHIFT (a number of
 * bits), instead of `(addr & (sz - 1))` with sz = PMD_SIZE. In page units (the model's addresses)
 * the mask is `log2(sz) - 1`; in the small geometry (16-page PMD, shift 4) GUP-fast on a PMD
 * leaf records the right pages only for offsets 0..3 of the leaf.
 * Violates: seed 004, John Hubbard's review of `page = head + ((addr & (sz-1)) >> PAGE_SHIFT)`:
 * "If you pass in PMD_SHIFT or PUD_SHIFT for, that's a number-of-bits, isn't it? Not a size. And
 * if it's not a size, then sz - 1 doesn't work". The reference counts stay right (the folio is
 * grabbed once for n subpages either way); only the recorded pages are wrong.
 * Caught by: the memory oracle (pin_unreliable: a device reads or writes another subpage) or
 * the differential check (the handle holds other pages than the reference's).
 */
export class GupSubpageOffsetShift extends BatchedKernel {
  override readonly name: string = 'gup-subpage-offset-shift';

  override recordSubpages(page: Pfn, sz: number, addr: Vpn, end: Vpn): Pfn[] {
    const shift = Math.log2(sz); // PMD_SHIFT passed where PMD_SIZE belongs
    const first = page + (addr & (shift - 1));
    const out: Pfn[] = [];
    for (let k = 0; addr + k < end; k++) out.push(asPfn(first + k));
    return out;
  }
}

export const gupSubpageOffsetShift: MutantSpec = defineMutant(GupSubpageOffsetShift, {
  breaks: 'record_subpages() masks the address with the leaf shift instead of its size',
  violates: 'seed 004: review of (addr & (sz-1)) >> PAGE_SHIFT — PMD_SHIFT is a number of bits, not a size',
  caughtBy: ['pin_unreliable', 'divergence'],
});
