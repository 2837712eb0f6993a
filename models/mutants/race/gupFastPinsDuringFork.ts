import type { Machine } from '../../machine/state';
import type { MmId } from '../../machine/ids';
import { mmAt } from '../../machine/pgtable';
import { BatchedKernel } from '../../batched/BatchedKernel';
import type { MutantSpec } from '../mutant';
import { defineMutant } from '../mutant';

/**
 * Breaks: GUP-fast with FOLL_PIN reads `mm->write_protect_seq` but does not give up when it is odd:
 * it keeps only the `read_seqcount_retry()` half, which passes when the walk begins and ends
 * inside one fork (the count is the same odd value at both ends).
 * Violates: mm/gup.c `gup_fast()` (6.12): `seq = raw_read_seqcount(&current->mm->write_protect_seq);
 * if (seq & 1) return 0;` — the half of 57efa1fe5957's protocol that covers a walk lying wholly
 * inside `copy_page_range()` (57efa1fe5957 spun in `read_seqcount_begin()` for it; the bail-out
 * replaced the spin, and later trees spell it `raw_seqcount_try_begin()`). The pin lands on a page
 * `folio_try_dup_anon_rmap_ptes()` has just shared with the child, whose PTE fork write-protects
 * right after: the pin is no longer reliable.
 * Caught by: the ledger (pinned_not_exclusive) or the user-memory oracle (pin_unreliable) with
 * `--interleave`; without schedule ops no GUP-fast walk can begin inside a fork, so it is batched.
 */
export class GupFastPinsDuringFork extends BatchedKernel {
  override readonly name: string = 'gup-fast-pins-during-fork';

  override gupFastSeqBegin(m: Machine, mm: MmId): number | null {
    return mmAt(m, mm).writeProtectSeq;
  }
}

export const gupFastPinsDuringFork: MutantSpec = defineMutant(GupFastPinsDuringFork, {
  breaks: "GUP-fast (FOLL_PIN) without gup_fast()'s odd write_protect_seq bail-out",
  violates: 'mm/gup.c gup_fast(): if (seq & 1) return 0 before the walk (57efa1fe5957 and its successors)',
  caughtBy: ['pinned_not_exclusive', 'pin_unreliable', 'stale_read'],
  needsInterleave: true,
});
