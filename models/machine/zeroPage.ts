import type { Pfn } from './ids';
import type { Machine } from './state';

/**
 * Mirrors `is_zero_pfn()` (include/linux/pgtable.h, 6.12): `p` is the shared zero page. Always
 * false on a machine without one (createMachine's `zeroPage` option off).
 */
export function isZeroPfn(m: Machine, p: Pfn): boolean {
  return m.zeroPage !== undefined && m.zeroPage.pfn === p;
}

/**
 * Mirrors `my_zero_pfn()` (include/linux/pgtable.h, 6.12) where the caller has checked that the
 * machine has a zero page (`mm_forbids_zeropage()` is false on x86): null without one, so a read
 * fault allocates a private page as before.
 */
export function myZeroPfn(m: Machine): Pfn | null {
  return m.zeroPage?.pfn ?? null;
}
