import type { Cpu } from '../machine/state';
import type { FlushInfo } from '../machine/tlb';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: the flush IPI skips lazy-TLB CPUs for every flush, `freed_tables` or not — the
 * pre-4.19 `tlb_is_not_lazy()` test applied to table frees too.
 * Violates: arch/x86/mm/tlb.c (6.12) `native_flush_tlb_multi()`: with `info->freed_tables` it
 * uses `on_each_cpu_mask()`, not `should_flush_tlb()`, because a lazy CPU's paging-structure
 * caches may still point to the freed table ("We need to at least flush our paging-structure
 * cache to avoid speculatively reading garbage into our TLB", `flush_tlb_func()`).
 * Caught by: the table_freed_with_cached_pointer hazard.
 */
export class FlushSkipsLazyCpus extends BatchedKernel {
  override readonly name: string = 'flush-skips-lazy-cpus';

  override shouldFlushTlb(c: Cpu, info: FlushInfo): boolean {
    return !c.lazy && c.loadedMm === info.mm;
  }
}

export const flushSkipsLazyCpus: MutantSpec = defineMutant(FlushSkipsLazyCpus, {
  breaks: 'a freed_tables flush skips lazy-TLB CPUs',
  violates: 'x86 native_flush_tlb_multi(): freed_tables flushes reach lazy CPUs (their paging-structure caches)',
  caughtBy: ['table_freed_with_cached_pointer'],
});
