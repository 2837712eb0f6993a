import type { Pte } from '../machine/pte';
import { BatchedKernel } from '../batched/BatchedKernel';
import type { MutantSpec } from './mutant';
import { defineMutant } from './mutant';

/**
 * Breaks: `pte_needs_flush()` treats _PAGE_RW like a flush_on_clear bit turned upside down — a
 * PTE that only lost its write bit is not recorded in mprotect()'s gather, so `tlb_finish_mmu()`
 * does not flush it (the mistake a patch makes when it moves RW out of flush_on_change to save
 * the upgrade flush, and takes the downgrade with it).
 * Violates: rule R4 (docs/kernel-semantics.md §10): a downgrade needs a flush before anyone relies on it;
 * x86 `pte_flags_need_flush()` (arch/x86/include/asm/tlbflush.h, 6.12) has _PAGE_RW in
 * flush_on_change.
 * Caught by: a divergence (a store through the stale writable entry succeeds where the reference
 * faults and returns SIGSEGV), or the hazards that store leads to.
 */
export class MprotectNoFlushOnWrprotect extends BatchedKernel {
  override readonly name: string = 'mprotect-no-flush-on-wrprotect';

  override pteNeedsFlush(old: Pte, nu: Pte): boolean {
    if (old.kind === 'present' && nu.kind === 'present' && old.pfn === nu.pfn && old.writable && !nu.writable) return false;
    return super.pteNeedsFlush(old, nu);
  }
}

export const mprotectNoFlushOnWrprotect: MutantSpec = defineMutant(MprotectNoFlushOnWrprotect, {
  breaks: 'pte_needs_flush() says a write-protected PTE needs no flush, so mprotect(PROT_READ) leaves writable TLB entries',
  violates: 'rule R4: downgrades need a flush; x86 pte_flags_need_flush() has _PAGE_RW in flush_on_change',
  caughtBy: ['divergence', 'stale_read', 'stale_tlb_divergent_write', 'free_with_stale_tlb', 'tlb_use_after_free'],
});
