import { BatchedReclaim } from './reclaim';

/**
 * The batched kernel: ReferenceKernel with the optimizations of the five seed discussions, each
 * faithful to the kernel code (6.12, plus the seed patches for MIGRC and RCU table freeing).
 *
 * Versions, seed by seed (checked against what the code does):
 * - seed 000 (PTE-batched zap of large folios, "page + nr_pages" gather entries): as merged, the
 *   6.12 code of mm/memory.c and mm/mmu_gather.c; the batched fork (`copy_present_ptes()`) is
 *   6.12's too.
 * - seed 001 (large-folio COW reuse): not here — 6.12 never reuses a large folio; batched-6.15
 *   (models/v615/) adds 6.15's rule.
 * - seed 002 (MIGRC, v4, never merged): the posted mechanism plus fixes for the review's holes
 *   (see migrc.ts for each one); a 6.12 kernel without it is batched-no-migrc.
 * - seed 003 ("x86: mm: free page table pages by RCU instead of semi RCU", not in 6.12): applied
 *   (tableFree.ts).
 * - seed 004 (GUP grabs a folio once for a group of subpages): as 6.12, only for PMD leaves
 *   (gup.ts); grabbing runs of PTE-mapped pages of one folio at once is beyond 6.12 and is its own
 *   kernel, batched-gup-runs (gupRuns.ts).
 *
 * Layers, each overriding the kernel functions of one topic (every internal call goes through
 * `this`, so a variant overriding one of them changes it everywhere):
 * - gather.ts      mmu_gather: encoded "page + nr_pages" entries, batch limits, range tracking,
 *                  forced flushes, delayed rmap, the chunked free (mm/mmu_gather.c,
 *                  include/asm-generic/tlb.h)
 * - tableFree.ts   page tables through the gather's table batch, freed by RCU (single tables too)
 * - zap.ts         zap_pte_range()/zap_present_ptes() with folio_pte_batch(), zap_huge_pmd(),
 *                  exit_mmap()/free_pgtables() on a fullmm gather, PT reclaim
 * - fork.ts        copy_present_ptes() batches with the pinned-page -EAGAIN fallback
 * - gup.ts         GUP as 6.12: per-PTE fast path, gup_fast_pmd_leaf() and page_increm grab a PMD
 *                  leaf once, batched unpin (gupRuns.ts: the beyond-6.12 runs proposal, its own kernel)
 * - migrc.ts       MIGRC's pending list and its release points (fault, mprotect, memory, tick)
 * - migrate.ts     migrate_pages_batch(): one try_to_unmap_flush() per batch, MIGRC deferral
 * - mprotect.ts    change_protection() through an mmu_gather, x86 pte_needs_flush(), one flush at
 *                  tlb_finish_mmu()
 * - mremap.ts      move_ptes(): one flush_tlb_range() of the old range under the PTL
 *
 * Plain data and pure helpers live beside them: mmuGather.ts, gatherLimits.ts (the gather's
 * memory, its limits checked at every store), folioPteBatch.ts, recordSubpages.ts; the task's deferred-flush record is models/machine/tlbUbc.ts.
 */
export class BatchedKernel extends BatchedReclaim {
  // Stryker disable next-line StringLiteral: kernel name, identifies the kernel in reports
  override readonly name: string = 'batched';
}
