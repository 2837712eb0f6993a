import type { MmId, Pfn, Vpn } from '../../models/machine/ids';
import { vpn as asVpn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { mmNrPages } from '../../models/machine/geometry';
import { mappedPfn, pmdAt, pmdIndexOf, pteAt } from '../../models/machine/pgtable';

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
