import type { CpuId, MmId, Vpn } from '../machine/ids';
import type { Machine } from '../machine/state';
import type { PresentPte } from '../machine/pte';
import type { KernelSteps } from '../machine/tasks';
import { folioAt, folioHead } from '../machine/frames';
import { folioTestAnon } from '../machine/files';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `do_wp_page()` reuses a page-cache page mapped read-only in a MAP_PRIVATE file mapping
 * when nothing else maps it (the `folio_test_anon()` test left out of the reuse check): the PTE is
 * made writable in place, and the store lands in the page cache.
 * Violates: COW of a private file mapping (mm/memory.c `do_wp_page()`: only an anonymous folio is
 * ever reused; a page-cache page is copied by `wp_page_copy()`).
 * Caught by: the ledger (private_file_page_writable); a pread() of the page then sees the store
 * (stale_file_read).
 */
export class PrivateWpReusesPageCache extends BatchedKernel {
  override readonly name: string = 'private-wp-reuses-page-cache';

  override *doWpPageSteps(m: Machine, cpu: CpuId, mm: MmId, v: Vpn, pte: PresentPte, unshare: boolean): KernelSteps {
    const vf = this.fileVmaOf(m, mm, v);
    if (vf !== null && !vf.shared && !unshare && !folioTestAnon(folioAt(m, folioHead(m, pte.pfn))) && this.folioMapcount(m, folioHead(m, pte.pfn)) === 1) {
      this.wpPageReuse(m, cpu, mm, v, pte);
      return;
    }
    yield* super.doWpPageSteps(m, cpu, mm, v, pte, unshare);
  }
}

export const privateWpReusesPageCache: MutantSpec = defineMutant(PrivateWpReusesPageCache, {
  breaks: "a store to a private file mapping's page-cache page reuses it in place when nothing else maps it",
  violates: 'mm/memory.c do_wp_page(): only an anonymous folio is reused; a page-cache page of a private mapping is copied',
  caughtBy: ['private_file_page_writable', 'stale_file_read', 'stale_read', 'divergence'],
});
