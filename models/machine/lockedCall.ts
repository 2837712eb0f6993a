import type { MmId, Pfn } from './ids';
import type { Machine } from './state';
import { lockAcquire, lockRelease, ownPtls } from './locks';
import type { AcquireHow, LockRef } from './locks';
import { pmdLockOf, ptlOf } from './pgtable';

/**
 * Helpers for twins (`*…Steps`): run a plain method with the lock the kernel holds around it.
 * The locking lives here, in the twins, so plain methods stay plain for variants to override.
 */

/** Run `fn` holding `ref` (taken and dropped around it, even when `fn` throws). */
export function withLock<T>(m: Machine, ref: LockRef, fn: () => T, how: AcquireHow = {}): T {
  lockAcquire(m, ref, how);
  try {
    return fn();
  } finally {
    lockRelease(m, ref);
  }
}

/**
 * Run `fn` under the PTL of PMD slot i's table (`pte_offset_map_lock()` … `pte_unmap_unlock()`);
 * a slot without a table (none, or a migration entry) has no PTL to take: `fn` runs as is.
 */
export function underPtl<T>(m: Machine, mm: MmId, i: number, fn: () => T): T {
  const ptl = ptlOf(m, mm, i);
  return ptl === null ? fn() : withLock(m, ptl, fn);
}

/** Run `fn` under `pmd_lock(mm, pmd)` (a PMD leaf's zap, change or split, `pmd_install()`). */
export function underPmdLock<T>(m: Machine, mm: MmId, i: number, fn: () => T): T {
  return withLock(m, pmdLockOf(mm, i), fn);
}

/**
 * `copy_pte_range()` (mm/memory.c, 6.12): `pte_alloc_map_lock()` takes the child's (dst) PTL,
 * then the parent's (src) with `spin_lock_nested(src_ptl, SINGLE_DEPTH_NESTING)` — the one
 * nesting of two PTLs the lock-order check allows. Returns what `unlockForkPtls()` drops.
 */
export function lockForkPtls(m: Machine, parent: MmId, child: MmId, i: number): readonly LockRef[] {
  const dst = ptlOf(m, child, i);
  const src = ptlOf(m, parent, i);
  const taken: LockRef[] = [];
  if (dst !== null) {
    lockAcquire(m, dst);
    taken.push(dst);
  }
  if (src !== null) {
    lockAcquire(m, src, { nested: true });
    taken.push(src);
  }
  return taken;
}

/** `pte_unmap_unlock()` of both: the parent's (src) PTL first, then the child's. */
export function unlockForkPtls(m: Machine, taken: readonly LockRef[]): void {
  for (let k = taken.length - 1; k >= 0; k--) {
    const r = taken[k];
    if (r !== undefined) lockRelease(m, r);
  }
}

/** The folio lock of the folio whose head is `pfn` (PG_locked). */
export function folioLockOf(pfn: Pfn): LockRef {
  return { kind: 'folio_lock', pfn };
}

/**
 * Migration's split of a partially mapped folio (`try_split_folio()`, mm/migrate.c 6.12): under
 * the folio's lock (`folio_trylock()`/`folio_lock()` … `folio_unlock()`), the rmap walks of
 * `split_folio()` taking each mapping's PTL or PMD lock themselves.
 */
export function splitLocked<T>(m: Machine, head: Pfn, fn: () => T): T {
  return withLock(m, folioLockOf(head), () => ownPtls(m, fn), { trylock: true });
}
