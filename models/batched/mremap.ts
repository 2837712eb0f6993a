import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import { pteAt, setPte } from '../machine/pgtable';
import { mark } from '../machine/marks';
import { BatchedMprotect } from './mprotect';

/**
 * mremap()'s `move_ptes()` as 6.12 does it (mm/mremap.c): every PTE of the table's extent moves
 * under the old and new PTLs, then ONE `flush_tlb_range()` of the old range — still under the
 * PTLs, the ordering that fixed CVE-2018-18281 (flushing after `pte_unmap_unlock()` let a
 * concurrent `ftruncate()`/zap free the page through the new PTE while a CPU still used the old
 * translation). The PMD-level moves (`move_normal_pmd()`, `move_huge_pmd()`) are the reference's:
 * they flush once anyway (reference/mremap.ts).
 */
export abstract class BatchedMremap extends BatchedMprotect {
  /**
   * Mirrors `move_ptes()` (mm/mremap.c, 6.12) over [old, oldEnd) of one source table to `nu` on:
   * take the old and new PTLs, `ptep_get_and_clear()` each non-none old PTE and `set_pte_at()` it
   * at the new address (`force_flush` when one was present), then `flush_tlb_range(vma, old_end -
   * len, old_end)` and only then `pte_unmap_unlock()`. Simplified: rmap locks
   * (`take_rmap_locks()`) are not modelled — every op is atomic, so no rmap walk can run inside.
   */
  override movePtes(m: Machine, mm: MmId, old: Vpn, oldEnd: Vpn, nu: Vpn): void {
    // pte_offset_map_lock() of the old table, then the new table's PTL
    this.flushTlbBatchedPending(m, mm);
    let present = 0;
    for (let k = 0; old + k < oldEnd; k++) {
      const src = asVpn(old + k);
      const pte = pteAt(m, mm, src);
      // Stryker disable next-line LogicalOperator,StringLiteral: visits nothing more that matters
      if (pte === null || pte.kind === 'none') continue;
      setPte(m, mm, src, { kind: 'none' });
      if (pte.kind === 'present') present++;
      setPte(m, mm, asVpn(nu + k), pte);
    }
    if (present > 0) {
      this.flushTlbRange(m, mm, old, oldEnd);
      // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: tracepoint only (coverage, not behaviour)
      if (present > 1) mark(m, 'mremap flushed a PTE table once');
    }
    this.movePtesUnlock(m, mm, old);
  }

  /**
   * Mirrors the end of `move_ptes()` (mm/mremap.c, 6.12): `spin_unlock(new_ptl)`,
   * `pte_unmap_unlock(old_pte, old_ptl)`. Nothing to do in a model whose ops are atomic; it is the
   * point after which a concurrent zap of the new PTEs could free the pages, so the flush must
   * come before it (a test checks the order, and a later interleaving model schedules here).
   */
  movePtesUnlock(_m: Machine, _mm: MmId, _old: Vpn): void {}
}
