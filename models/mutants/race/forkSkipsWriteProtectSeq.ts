import type { Machine } from '../../machine/state';
import type { MmId } from '../../machine/ids';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: fork's `copy_page_range()` does not make `mm->write_protect_seq` odd while it copies, so
 * GUP-fast's check (which the kernel keeps) never sees a fork in progress.
 * Violates: mm/memory.c `copy_page_range()` (6.12): `raw_write_seqcount_begin(&src_mm->write_protect_seq)`
 * before the copy of a COW mapping and `raw_write_seqcount_end()` after it — fork's half of
 * 57efa1fe5957 ("mm/gup: prevent gup_fast from racing with COW during fork"). A GUP-fast pin inside
 * fork's window lands on a page `folio_try_dup_anon_rmap_ptes()` has just shared with the child
 * (its PTE still writable, so GUP-fast's own PTE recheck passes); fork then write-protects it and
 * the pin is no longer reliable.
 * Caught by: the ledger (pinned_not_exclusive) or the user-memory oracle (pin_unreliable) with
 * `--interleave`; without schedule ops no GUP-fast walk runs inside a fork, so it is batched.
 */
export class ForkSkipsWriteProtectSeq extends BatchedKernel {
  override readonly name: string = 'fork-skips-write-protect-seq';

  override writeProtectSeqBegin(_m: Machine, _mm: MmId): void {}

  override writeProtectSeqEnd(_m: Machine, _mm: MmId): void {}
}

export const forkSkipsWriteProtectSeq: MutantSpec = defineMutant(ForkSkipsWriteProtectSeq, {
  breaks: "fork's copy_page_range() without raw_write_seqcount_begin/end(&mm->write_protect_seq)",
  violates: 'mm/memory.c copy_page_range(): write_protect_seq odd while a COW mapping is copied (57efa1fe5957)',
  caughtBy: ['pinned_not_exclusive', 'pin_unreliable', 'stale_read'],
  needsInterleave: true,
});
