import type { MmId, Vpn } from '../machine/ids';
import { vpn as asVpn } from '../machine/ids';
import { pteAt, setPte } from '../machine/pgtable';
import type { Machine } from '../machine/state';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `move_ptes()` flushes the new range instead of the old one (`flush_tlb_range(vma,
 * new_addr - len, new_addr)`): the new addresses had no translations, and the old ones stay
 * cached, so a CPU keeps reaching the moved page through its old address.
 * Violates: `move_ptes()` (mm/mremap.c, 6.12) — the old translations are flushed before the PTL
 * is dropped (the CVE-2018-18281 fix); rule R1 (docs/kernel-semantics.md §10).
 * Caught by: the hazards of the stale old-address entry — the page freed while it is cached
 * (free_with_stale_tlb, tlb_use_after_free), a store through it racing the new mapping — or a
 * divergence in what a load through the old address returns.
 */
export class MremapFlushesNewRange extends BatchedKernel {
  override readonly name: string = 'mremap-flushes-new-range';

  override movePtes(m: Machine, mm: MmId, old: Vpn, oldEnd: Vpn, nu: Vpn): void {
    let present = false;
    for (let k = 0; old + k < oldEnd; k++) {
      const pte = pteAt(m, mm, asVpn(old + k));
      if (pte === null || pte.kind === 'none') continue;
      setPte(m, mm, asVpn(old + k), { kind: 'none' });
      present ||= pte.kind === 'present';
      setPte(m, mm, asVpn(nu + k), pte);
    }
    if (present) this.flushTlbRange(m, mm, nu, nu + (oldEnd - old));
    this.movePtesUnlock(m, mm, old);
  }
}

export const mremapFlushesNewRange: MutantSpec = defineMutant(MremapFlushesNewRange, {
  breaks: 'move_ptes() flushes the new range instead of the old one',
  violates: 'move_ptes(): flush the old range under the PTL (CVE-2018-18281); rule R1',
  caughtBy: ['free_with_stale_tlb', 'tlb_use_after_free', 'stale_tlb_divergent_write', 'stale_read', 'divergence'],
});
