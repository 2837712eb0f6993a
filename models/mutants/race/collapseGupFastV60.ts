import type { MmId, Pfn } from '../../machine/ids';
import type { Machine, Walker } from '../../machine/state';
import { pmdAt, pmdIndexOf, pmdStart, setPmd, tableEntries } from '../../machine/pgtable';
import { PMD_NONE, pteSame } from '../../machine/pte';
import { flushTlbRange } from '../../machine/tlb';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

type GupFastWalker = Extract<Walker, { kind: 'gupFast' }>;

/**
 * Breaks: the GUP-fast / khugepaged pair as it was before 6.1, where the collapse's flush sends
 * no IPI (a broadcast invalidation as arm64's TLBI, or a paravirt flush): `collapse_huge_page()`
 * sends no `tlb_remove_table_sync_one()` after `pmdp_collapse_flush()`, and `gup_fast_pte_range()`
 * rechecks only the PTE, not the PMD it walked through. Each of the two fixes alone closes the
 * race (the model's 6.12 has both), and so does a native x86 flush, whose IPI waits for the
 * walk's IRQs-off section (`flushIpiWaitsForIrqsOff()`): that is why the collapse's flush waits
 * for nothing here. The missing PMD recheck is confined to the state only a collapse leaves — the
 * walk's PMD cleared and its table linked from no PMD — so that the mutant differs from 6.12 in
 * the collapse race alone: a v6.0 walk across mremap's `move_normal_pmd()` also keeps its pin,
 * harmlessly (the page stays mapped at its new address), which the differential would flag.
 * Violates: rule R7 (docs/kernel-semantics.md §10; a pin stays the page the process maps; seed 003's "fix the fast GUP race
 * against THP collapse", 70cbc3cc78a9, and 2ba99c5e0881): a walk that read the PTE before the
 * collapse grabs the page after the isolation counted its references, its PTE recheck passes in
 * the detached table, and it keeps a pin on a page the copy then drops from the mm.
 * Caught by: the differential (the reference's collapse fails: its walk grabbed first), and run
 * alone the user-memory oracle (stale_read: the device's write through the pin is not what the
 * process reads; properties/collapse.test.ts), with `--interleave`.
 */
export class CollapseGupFastV60 extends BatchedKernel {
  override readonly name: string = 'collapse-gup-fast-v6.0';

  override tlbRemoveTableSyncOne(_m: Machine, _tables: readonly Pfn[]): void {}

  /** `pmdp_collapse_flush()` whose flush waits for no IRQs-off section (the machine, not the bug: see above). */
  override pmdpCollapseFlush(m: Machine, mm: MmId, i: number): void {
    setPmd(m, mm, i, PMD_NONE);
    flushTlbRange(m, mm, pmdStart(m, i), pmdStart(m, i) + m.geometry.ptrsPerPte, true, (c, info) => this.shouldFlushTlb(c, info));
  }

  override gupFastRecheck(m: Machine, w: GupFastWalker): boolean {
    if (w.table === null || w.pte === null || !this.detachedByCollapse(m, w)) return super.gupFastRecheck(m, w);
    const pteNow = tableEntries(m, w.table)[w.vpn % m.geometry.ptrsPerPte];
    return pteNow !== undefined && pteSame(pteNow, w.pte);
  }

  /** The walk's PMD is none and its table, not yet freed, is linked from no PMD of any mm. */
  private detachedByCollapse(m: Machine, w: GupFastWalker): boolean {
    if (w.table === null || m.frames[w.table]?.state !== 'table') return false;
    if (pmdAt(m, w.mm, pmdIndexOf(m, w.vpn)).kind !== 'none') return false;
    return !m.mms.some((mm) => mm.pmds.some((p) => p.kind === 'table' && p.table === w.table));
  }
}

export const collapseGupFastV60: MutantSpec = defineMutant(CollapseGupFastV60, {
  breaks: 'collapse sends no tlb_remove_table_sync_one() and GUP-fast does not recheck the PMD (the pre-6.1 pair), with a collapse flush that sends no IPI',
  violates: 'rule R7: GUP-fast must not keep a page khugepaged is collapsing (70cbc3cc78a9 PMD recheck; 2ba99c5e0881 IPI)',
  caughtBy: ['divergence', 'pin_unreliable', 'stale_read'],
  needsInterleave: true,
});
