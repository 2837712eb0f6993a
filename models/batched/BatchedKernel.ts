import { BatchedMremap } from './mremap';

/**
 * The batched kernel: ReferenceKernel with the optimizations of the five seed discussions, each
 * faithful to the kernel code (6.12, plus the seed patches for MIGRC and RCU table freeing).
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
 * - gup.ts         try_grab_folio(refs = n) per folio run, gup_fast_pmd_leaf(), batched unpin
 * - migrc.ts       MIGRC's pending list and its release points (fault, mprotect, memory, tick)
 * - migrate.ts     migrate_pages_batch(): one try_to_unmap_flush() per batch, MIGRC deferral
 * - mprotect.ts    change_protection() through an mmu_gather, x86 pte_needs_flush(), one flush at
 *                  tlb_finish_mmu()
 * - mremap.ts      move_ptes(): one flush_tlb_range() of the old range under the PTL
 *
 * Plain data and pure helpers live beside them: mmuGather.ts, gatherLimits.ts (the gather's
 * memory, its limits checked at every store), folioPteBatch.ts, recordSubpages.ts, tlbUbc.ts.
 */
export class BatchedKernel extends BatchedMremap {
  override readonly name: string = 'batched';
}
