import type { MmId, Pfn, Vpn } from '../../models/machine/ids';
import { pfn as asPfn, vpn as asVpn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { mmNrPages } from '../../models/machine/geometry';
import { pmdAt, pmdIndexOf, pmdStart, pteAt } from '../../models/machine/pgtable';

/** The frame a present translation of (mm, v) maps, through a PMD leaf or a PTE; null when none. */
export function mappedPfn(m: Machine, mm: MmId, v: Vpn): Pfn | null {
  const i = pmdIndexOf(m, v);
  const pmd = pmdAt(m, mm, i);
  if (pmd.kind === 'leaf') return asPfn(pmd.pfn + (v - pmdStart(m, i)));
  const pte = pteAt(m, mm, v);
  return pte !== null && pte.kind === 'present' ? pte.pfn : null;
}

/** True when nothing at all translates (mm, v): no PMD leaf, and a none PTE or no table. */
export function unpopulated(m: Machine, mm: MmId, v: Vpn): boolean {
  const pmd = pmdAt(m, mm, pmdIndexOf(m, v));
  if (pmd.kind === 'leaf' || pmd.kind === 'migration') return false;
  const pte = pteAt(m, mm, v);
  return pte === null || pte.kind === 'none';
}

/** mappedPfn() of every page of an mm, by vpn. */
export function mappedPfns(m: Machine, mm: MmId): (Pfn | null)[] {
  return Array.from({ length: mmNrPages(m.geometry) }, (_, v) => mappedPfn(m, mm, asVpn(v)));
}
