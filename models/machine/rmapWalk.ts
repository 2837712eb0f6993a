import { folioNrPages } from './geometry';
import type { MmId, Pfn, Vpn } from './ids';
import { vpn as asVpn } from './ids';
import type { Machine } from './state';
import { folioAt } from './frames';
import { pmdStart, tableEntries } from './pgtable';

/** One mapping of a folio found by the reverse-map walk. */
export type FolioMapping =
  | { readonly kind: 'pte'; readonly mm: MmId; readonly vpn: Vpn; readonly pfn: Pfn }
  | { readonly kind: 'pmd'; readonly mm: MmId; readonly pmdIndex: number };

/**
 * Every page-table mapping of the folio headed at `head`, over all live mms, in (mm, address)
 * order. Stands for `rmap_walk()` (mm/rmap.c) over the anon_vma tree; the model has no anon_vma
 * and finds mappings by scanning, which gives the same set.
 */
export function rmapWalk(m: Machine, head: Pfn): FolioMapping[] {
  const nr = folioNrPages(folioAt(m, head).order);
  const out: FolioMapping[] = [];
  for (const mm of m.mms) {
    if (!mm.alive) continue;
    mm.pmds.forEach((pmd, i) => {
      if (pmd.kind === 'leaf' && pmd.pfn === head) out.push({ kind: 'pmd', mm: mm.id, pmdIndex: i });
      if (pmd.kind !== 'table') return;
      tableEntries(m, pmd.table).forEach((pte, k) => {
        if (pte.kind === 'present' && pte.pfn >= head && pte.pfn < head + nr) {
          out.push({ kind: 'pte', mm: mm.id, vpn: asVpn(pmdStart(m, i) + k), pfn: pte.pfn });
        }
      });
    });
  }
  return out;
}
