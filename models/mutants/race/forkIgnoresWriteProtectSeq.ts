import type { Machine, Walker } from '../../machine/state';
import type { MmId } from '../../machine/ids';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: GUP-fast with FOLL_PIN ignores `mm->write_protect_seq`: it neither refuses to start while
 * a fork is write-protecting the mm nor drops its pin when a fork ran under the walk.
 * Violates: mm/gup.c `gup_fast()` (6.12: `raw_read_seqcount()` / `seq & 1` before the walk,
 * `read_seqcount_retry()` → `unpin_user_pages_lockless()` after it) against mm/memory.c
 * `copy_page_range()` (`raw_write_seqcount_begin/end(&src_mm->write_protect_seq)`), from
 * 57efa1fe5957 ("mm/gup: prevent gup_fast from racing with COW during fork", 5.13). Inside
 * `copy_present_ptes()`, once `folio_try_dup_anon_rmap_ptes()` has found the page unpinned and
 * shared it with the child, and before the parent's PTE is write-protected, GUP-fast on another
 * CPU reads the still-writable PTE, pins the page, and its PTE recheck passes; fork then
 * write-protects the PTE, the parent's next write fault copies the page (it is no longer
 * exclusive), and the pin is left on the child's page: the device and the parent no longer see
 * each other's writes (cow.c's "R/W longterm GUP-fast pin" tests).
 * Caught by: the ledger (pinned_not_exclusive: a pinned page mapped but not exclusive, right when
 * fork completes) or the user-memory oracle (pin_unreliable) with `--interleave`; without schedule ops
 * fork runs whole inside its op and no GUP-fast walk can begin inside it, so it is batched.
 */
export class ForkIgnoresWriteProtectSeq extends BatchedKernel {
  override readonly name: string = 'fork-ignores-write-protect-seq';

  override gupFastSeqBegin(_m: Machine, _mm: MmId): number | null {
    return 0;
  }

  override gupFastSeqRetryOk(_m: Machine, _w: Extract<Walker, { kind: 'gupFast' }>): boolean {
    return true;
  }
}

export const forkIgnoresWriteProtectSeq: MutantSpec = defineMutant(ForkIgnoresWriteProtectSeq, {
  breaks: 'GUP-fast (FOLL_PIN) without the write_protect_seq check against a concurrent fork',
  violates: 'mm/gup.c gup_fast(): read_seqcount_begin/retry(&mm->write_protect_seq) against copy_page_range() (57efa1fe5957)',
  caughtBy: ['pinned_not_exclusive', 'pin_unreliable', 'stale_read'],
  needsInterleave: true,
});
