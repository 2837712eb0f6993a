import type { MmId, Pfn } from '../../models/machine/ids';
import type { Folio, Frame, Machine } from '../../models/machine/state';
import { tableEntries } from '../../models/machine/pgtable';
import { ModelViolationError } from '../../models/machine/violation';

/**
 * The ledger's check of 6.15's MM_ID slots (include/linux/rmap.h) against the page tables, for
 * every large folio a 6.15 kernel tracks (a slot taken or the shared bit set; a 6.12 kernel leaves
 * both empty). What `__wp_can_reuse_large_anon_folio()` relies on:
 * - a taken slot counts at least one and at most the mappings its mm really has (mappings added
 *   while no slot was free are counted nowhere), a free slot counts none, and no mm has two slots;
 * - a mapped folio that is not "maybe mapped shared" has one slot whose mm holds every mapping.
 * Both kernels of a 6.15 comparison share the slot code, so the differential check cannot see a
 * bug in it; this check can. Findings are `mapcount_mismatch` (the slots are mapcounts).
 */
/** `tracked`: the heads for which tracksMmId() holds, collected by the ledger's scan of the frames. */
export function auditMmIds(m: Machine, step: number, tracked: readonly Pfn[]): void {
  if (tracked.length === 0) return;
  const perMm = mappingsPerMm(m);
  for (const head of tracked) {
    const f = m.frames[head]!.folio!;
    const problem = slotProblem(f, perMm.get(head) ?? new Map());
    if (problem !== null) throw new ModelViolationError({ code: 'mapcount_mismatch', step, folio: f.id, pfn: head, detail: `MM_ID slots: ${problem}` });
  }
}

/** A data frame heading a large folio with an MM_ID slot in use (or maybe mapped shared). */
export function tracksMmId(fr: Frame): boolean {
  const f = fr.folio;
  return fr.state === 'data' && f !== null && f.order > 0 && (f.mmId[0] !== null || f.mmId[1] !== null || f.maybeMappedShared);
}

/** What is wrong with the folio's slots given its mappings per mm, or null. */
function slotProblem(f: Folio, mappings: ReadonlyMap<MmId, number>): string | null {
  for (const s of [0, 1] as const) {
    const id = f.mmId[s];
    const count = f.mmIdMapcount[s];
    if (id === null) {
      if (count !== 0) return `free slot ${s} counts ${count}`;
      continue;
    }
    const real = mappings.get(id) ?? 0;
    if (count < 1 || count > real) return `slot ${s} (mm ${id}) counts ${count}, the mm maps it ${real} times`;
  }
  if (f.mmId[0] !== null && f.mmId[0] === f.mmId[1]) return `mm ${f.mmId[0]} holds both slots`;
  if (f.maybeMappedShared || f.largeMapcount === 0) return null;
  const owner = ([0, 1] as const).find((s) => f.mmId[s] !== null && f.mmIdMapcount[s] === f.largeMapcount && mappings.get(f.mmId[s]!) === f.largeMapcount);
  if (owner === undefined) return `not maybe mapped shared, but no slot's mm holds all ${f.largeMapcount} mappings (${[...mappings].map(([mm, n]) => `mm ${mm}: ${n}`).join(', ')})`;
  return null;
}

/** Present PTEs and PMD leaves per folio head and mm (migration entries hold no mapping). */
function mappingsPerMm(m: Machine): Map<Pfn, Map<MmId, number>> {
  const out = new Map<Pfn, Map<MmId, number>>();
  const count = (p: Pfn, mm: MmId): void => {
    const head = m.frames[p]?.head ?? p;
    let byMm = out.get(head);
    if (byMm === undefined) out.set(head, (byMm = new Map()));
    byMm.set(mm, (byMm.get(mm) ?? 0) + 1);
  };
  for (const mm of m.mms) {
    for (const pmd of mm.pmds) {
      if (pmd.kind === 'leaf') count(pmd.pfn, mm.id);
      else if (pmd.kind === 'table') for (const e of tableEntries(m, pmd.table)) if (e.kind === 'present') count(e.pfn, mm.id);
    }
  }
  return out;
}
