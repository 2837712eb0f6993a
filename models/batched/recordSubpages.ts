import type { Pfn, Vpn } from '../machine/ids';
import { pfn as asPfn } from '../machine/ids';

/**
 * Mirrors `record_subpages()` (mm/gup.c, 6.12 form `record_subpages(page, sz, addr, end, pages)`):
 * the subpages of a leaf mapping of `sz` pages whose first page is `page`, for the virtual pages
 * [addr, end). The first one is `nth_page(page, (addr & (sz - 1)) >> PAGE_SHIFT)`; in page units
 * that is `addr % sz`, the offset of addr inside the leaf.
 *
 * Keeps the arithmetic seed 004's review was about: the offset is taken in pages from the start
 * of the leaf's range (a size mask, then a shift), never a shift count used as a size.
 *
 * Caller must pass a power-of-two `sz` and addr < end <= the end of the leaf's range.
 */
export function recordSubpages(page: Pfn, sz: number, addr: Vpn, end: Vpn): Pfn[] {
  const first = page + (addr & (sz - 1));
  const out: Pfn[] = [];
  for (let k = 0; addr + k < end; k++) out.push(asPfn(first + k));
  return out;
}
