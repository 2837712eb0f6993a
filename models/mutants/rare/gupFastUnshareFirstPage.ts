import type { MmId, Pfn, Vpn } from '../../machine/ids';
import type { Machine } from '../../machine/state';
import type { GupFlags } from '../../reference/gup';
import type { GupPage } from '../../machine/state';
import { BatchedKernel } from '../../batched/BatchedKernel';
import { pteIndexOf, tableEntries } from '../../machine/pgtable';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: GUP-fast asks `gup_must_unshare()` only for the first page of a table's run, so an R/O
 * pin of a run whose first page is exclusive takes the later pages even when they are shared
 * (mapped by another mm after fork) instead of stopping there and letting the slow path unshare.
 * Needs: an R/O GUP-fast pin of two or more pages where the first is exclusive and a later one
 * is shared: a fork, then a store that COW-copies the first page in the pinning mm only.
 * Violates: rule R4 (docs/kernel-semantics.md §10) and the R/O pin reliability rule (an R/O FOLL_PIN of an anonymous page
 * unshares a shared page first, so the pin and the page tables keep seeing the same page).
 * Caught by: the ledger (pinned_not_exclusive) or the memory oracle (pin_unreliable).
 */
export class GupFastUnshareFirstPage extends BatchedKernel {
  override readonly name: string = 'gup-fast-unshare-first-page';
  /** Inside gupFastPteRange(): the page its first PTE maps (the only one asked about); null outside. */
  private runFirstPage: Pfn | null = null;

  override gupFastPteRange(m: Machine, mm: MmId, table: Pfn, start: Vpn, end: Vpn, flags: GupFlags, pages: GupPage[]): Vpn {
    const first = tableEntries(m, table)[pteIndexOf(m, start)];
    this.runFirstPage = first !== undefined && first.kind === 'present' ? first.pfn : null;
    try {
      return super.gupFastPteRange(m, mm, table, start, end, flags, pages);
    } finally {
      this.runFirstPage = null;
    }
  }

  override gupMustUnshare(m: Machine, flags: GupFlags, page: Pfn): boolean {
    if (this.runFirstPage !== null && page !== this.runFirstPage) return false;
    return super.gupMustUnshare(m, flags, page);
  }
}

export const gupFastUnshareFirstPage: MutantSpec = defineMutant(GupFastUnshareFirstPage, {
  breaks: "GUP-fast tests gup_must_unshare() only for the first page of a table's run",
  violates: 'rule R4: an R/O pin of a shared anonymous page unshares it first',
  caughtBy: ['pinned_not_exclusive', 'pin_unreliable', 'divergence'],
});
