import type { MmId, Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { mark } from '../machine/marks';
import { ReferenceKernel } from '../reference/ReferenceKernel';
import { mmIdAdd, mmIdSub, reuseTracepoint, wpCanReuseLargeAnonFolio615 } from './mmId';

/**
 * The reference (per page, unbatched) with Linux 6.15's large-folio COW reuse: every large folio
 * keeps 6.15's CONFIG_MM_ID slots (two mm ids with a mapcount each, and the "maybe mapped shared"
 * bit), and a write fault on a PTE-mapped large anonymous folio reuses it when
 * `__wp_can_reuse_large_anon_folio()` says it is exclusive to the faulting mm. Everything else is
 * the 6.12 reference. It is the specification for patches against 6.15 and later trees:
 * `batched-6.15` and any variant extending either class is compared with it (models/specFor.ts).
 *
 * As in 6.15, a reuse makes only the faulting PTE writable and only its page PageAnonExclusive
 * (`wp_page_reuse()`, unchanged since 6.12): the commit names "faulting around" the other PTEs of
 * the folio as possible future work, so each of them takes its own write fault, and is reused again.
 */
export class Reference615 extends ReferenceKernel {
  override readonly name: string = 'reference-6.15';

  /** Mirrors `folio_add_return_large_mapcount()` (include/linux/rmap.h, 6.15): `_large_mapcount` and the MM_ID slots. */
  override folioAddLargeMapcount(m: Machine, head: Pfn, diff: number, mm: MmId | undefined): void {
    super.folioAddLargeMapcount(m, head, diff, mm);
    mmIdAdd(folioAt(m, head), diff, mustName(mm));
  }

  /** Mirrors `folio_sub_return_large_mapcount()` (include/linux/rmap.h, 6.15): `_large_mapcount` and the MM_ID slots. */
  override folioSubLargeMapcount(m: Machine, head: Pfn, diff: number, mm: MmId | undefined): void {
    super.folioSubLargeMapcount(m, head, diff, mm);
    mmIdSub(folioAt(m, head), diff, mustName(mm));
  }

  /** Mirrors `wp_can_reuse_anon_folio()` (mm/memory.c, 6.15): a large folio goes to `__wp_can_reuse_large_anon_folio()`, a small one as in 6.12. */
  override wpCanReuseAnonFolio(m: Machine, head: Pfn, mm: MmId): boolean {
    if (folioAt(m, head).order > 0) return this.wpCanReuseLargeAnonFolio(m, head, mm);
    return super.wpCanReuseAnonFolio(m, head, mm);
  }

  /** Mirrors `__wp_can_reuse_large_anon_folio()` (mm/memory.c, 6.15); see mmId.ts. */
  wpCanReuseLargeAnonFolio(m: Machine, head: Pfn, mm: MmId): boolean {
    const d = wpCanReuseLargeAnonFolio615(folioAt(m, head), mm);
    for (const w of d.warnings) this.warnOn(m, true, w);
    const tp = reuseTracepoint(d.reason);
    if (tp !== null) mark(m, tp);
    return d.reuse;
  }
}

/**
 * The mm a large-mapcount change belongs to. A caller that does not name it is a model bug (a
 * 6.12 caller not yet updated), not a kernel bug: it would silently corrupt the MM_ID slots.
 */
export function mustName(mm: MmId | undefined): MmId {
  if (mm === undefined) throw new Error('a large-mapcount change without its mm: every rmap call must name the mm for the 6.15 MM_ID accounting');
  return mm;
}
