import type { MmId, Pfn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { folioAt } from '../machine/frames';
import { mark } from '../machine/marks';
import { mmIdAdd, mmIdSub, reuseTracepoint, wpCanReuseLargeAnonFolio615 } from './mmId';
import { mustName } from './Reference615';
import { BatchedKernel } from '../batched/BatchedKernel';

/**
 * The batched kernel with Linux 6.15's large-folio COW reuse (MM_ID slots and
 * `__wp_can_reuse_large_anon_folio()`), exactly as reference-6.15 adds it to the reference:
 * the same four overrides, delegating to the same functions (mmId.ts). It is compared with
 * reference-6.15, never with the 6.12 reference, whose large folios are never reused. A patch
 * against a 6.15 or newer tree is checked as a variant extending this class.
 */
export class Batched615 extends BatchedKernel {
  override readonly name: string = 'batched-6.15';

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
