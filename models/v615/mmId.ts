import { folioNrPages } from '../machine/geometry';
import type { MmId } from '../machine/ids';
import type { Folio } from '../machine/state';
import type { COW615_TRACEPOINTS } from '../tracepoints';
import { assertNever } from '../assertNever';

/**
 * Linux 6.15's CONFIG_MM_ID bookkeeping for large folios (include/linux/rmap.h, mm_types.h) and
 * the large-folio COW reuse rule built on it (mm/memory.c), as pure functions on the folio
 * fields, shared by reference-6.15 and batched-6.15 (which cannot share a class: one extends the
 * 6.12 reference, the other the 6.12 batched kernel).
 *
 * The kernel stores every count biased by -1 and MM_ID_DUMMY (0) for a free slot; here the counts
 * are unbiased (0 = no mapping, as everywhere in the model) and a free slot is null. The 32-bit
 * overflow branches (a per-mm mapcount wrapping a `short`) are left out: the model is 64-bit x86.
 */

/** Which slot `mm` owns, or null. */
function slotOf(f: Folio, mm: MmId): 0 | 1 | null {
  if (f.mmId[0] === mm) return 0;
  if (f.mmId[1] === mm) return 1;
  return null;
}

/**
 * Mirrors `folio_add_return_large_mapcount()` (include/linux/rmap.h, 6.15) after the
 * `_large_mapcount` add: the mm's slot gains `diff`; an mm without a slot claims a free one —
 * slot 0 marks the folio maybe-mapped-shared only if other mappings exist already, slot 1 always
 * (slot 0 certainly has mappings). With both slots taken by other mms the mappings are counted
 * nowhere, and the folio stays maybe-mapped-shared (it became so when slot 1 was claimed).
 */
export function mmIdAdd(f: Folio, diff: number, mm: MmId): void {
  const own = slotOf(f, mm);
  if (own !== null) {
    f.mmIdMapcount[own] += diff;
  } else if (f.mmId[0] === null) {
    f.mmId[0] = mm;
    f.mmIdMapcount[0] = diff;
    if (f.largeMapcount !== diff) f.maybeMappedShared = true;
  } else if (f.mmId[1] === null) {
    f.mmId[1] = mm;
    f.mmIdMapcount[1] = diff;
    f.maybeMappedShared = true;
  }
}

/**
 * Mirrors `folio_sub_return_large_mapcount()` (include/linux/rmap.h, 6.15) after the
 * `_large_mapcount` sub: the mm's slot loses `diff`; while it keeps mappings nothing else changes.
 * A slot that runs out (or under: mappings added while no slot was free, removed once one was) is
 * freed, and then — or when an mm without a slot unmapped — the folio is "mapped exclusively"
 * again if one slot now holds every mapping (both free and nothing mapped counts too).
 */
export function mmIdSub(f: Folio, diff: number, mm: MmId): void {
  const own = slotOf(f, mm);
  if (own !== null) {
    f.mmIdMapcount[own] -= diff;
    if (f.mmIdMapcount[own] > 0) return;
    f.mmIdMapcount[own] = 0;
    f.mmId[own] = null;
  }
  if (f.mmIdMapcount[0] === f.largeMapcount || f.mmIdMapcount[1] === f.largeMapcount) f.maybeMappedShared = false;
}

/** Why `__wp_can_reuse_large_anon_folio()` decided as it did. */
export type LargeReuseReason = 'reused' | 'single mapping' | 'maybe mapped shared' | 'reference beyond the mappings';

/** The outcome of `__wp_can_reuse_large_anon_folio()`, with the kernel self-checks it makes on the way. */
export interface LargeReuseDecision {
  readonly reuse: boolean;
  readonly reason: LargeReuseReason;
  /** VM_WARN_ON_ONCE() conditions that held: each is a kernel warning. */
  readonly warnings: readonly string[];
}

/**
 * Mirrors `__wp_can_reuse_large_anon_folio()` (mm/memory.c, 6.15; commit 1da190f4d0a6 "mm:
 * Copy-on-Write (COW) reuse support for PTE-mapped THP"): a large anonymous folio is reused
 * for a write fault by `mm` when it is mapped more than once, not maybe-mapped-shared, and every
 * reference is a mapping (`folio_large_mapcount() == folio_ref_count()`) — "If all folio
 * references are from mappings, and all mappings are in the page tables of this MM, then this
 * folio is exclusive to this MM."
 *
 * The kernel reads the counts once unlocked, then again under `folio_lock_large_mapcount()` (with
 * `VM_WARN_ON_ONCE_FOLIO(mapcount > refcount)`); an op is atomic here, so the second reading is
 * the first and that check cannot fire (the ledger checks refcount >= mapcount anyway). There is no swap cache in the model, so
 * the `folio_test_swapcache()` → `folio_free_swap()` step never applies (a swap-cache reference
 * cannot be what stops a reuse here); KSM folios are never large.
 */
export function wpCanReuseLargeAnonFolio615(f: Folio, mm: MmId): LargeReuseDecision {
  const warnings: string[] = [];
  // "Let's just free up a large folio if only a single page is mapped."
  if (f.largeMapcount <= 1) return { reuse: false, reason: 'single mapping', warnings };
  if (f.maybeMappedShared) return { reuse: false, reason: 'maybe mapped shared', warnings };
  if (f.largeMapcount > folioNrPages(f.order)) warnings.push(`folio ${f.id}: mapped exclusively ${f.largeMapcount} times, more than its ${folioNrPages(f.order)} pages`);
  if (f.entireMapcount > 0) warnings.push(`folio ${f.id}: mapped exclusively but PMD-mapped while a PTE write-faults`);
  if (f.largeMapcount !== f.refcount) return { reuse: false, reason: 'reference beyond the mappings', warnings };
  if (f.mmId[0] !== mm && f.mmId[1] !== mm) warnings.push(`folio ${f.id}: mapped exclusively, but by neither slot's mm, not the faulting mm ${mm}`);
  return { reuse: true, reason: 'reused', warnings };
}

/** The tracepoint a decision fires, if any (a single mapping is the common, uninteresting case). */
export function reuseTracepoint(reason: LargeReuseReason): (typeof COW615_TRACEPOINTS)[number] | null {
  switch (reason) {
    case 'reused':
      return 'large folio reused on COW';
    case 'maybe mapped shared':
      return 'large folio COW: maybe mapped shared';
    case 'reference beyond the mappings':
      return 'large folio COW: extra reference';
    case 'single mapping':
      return null;
    default:
      return assertNever(reason);
  }
}
