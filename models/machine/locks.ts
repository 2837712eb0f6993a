import type { CpuId, MmId, Pfn } from './ids';
import type { Machine } from './state';
import type { Violation } from './violation';
import { ModelViolationError } from './violation';
import { assertNever } from '../assertNever';

/**
 * The sleeping and spinning locks the model's kernel paths take (issue 11; docs/concurrency.md
 * "Locks"). Which lock a kernel *task* holds is plain data on its CPU (`Cpu.locks`), so traces,
 * oracles and `structuredClone` see it, and the runner derives who waits for whom from it
 * (src/run/tasks.ts). IRQs-off sections (`Cpu.irqsDisabled`), RCU read sections (rcu.ts),
 * `mm->write_protect_seq` and `mm->tlb_flush_pending` are modelled elsewhere (walkers, tlb.ts).
 */
export type LockRef =
  /** `mm->mmap_lock`, an rwsem: `mmap_read_lock()` / `mmap_write_lock()`. */
  | { readonly kind: 'mmap_lock'; readonly mm: MmId; readonly mode: 'read' | 'write' }
  /**
   * The split PTE-table lock (`pte_lockptr()`: the table page's `ptdesc->ptl`), named by the
   * table's frame: `pte_offset_map_lock()` … `pte_unmap_unlock()`.
   */
  | { readonly kind: 'ptl'; readonly table: Pfn }
  /**
   * `pmd_lock(mm, pmd)` (include/linux/mm.h, 6.12): with split PMD locks, the lock of the PMD
   * *table page*. The model's mm has one PMD page, so the lock is one per mm: `pmd` names the
   * entry it was taken for (for traces) and is not part of the lock's identity.
   */
  | { readonly kind: 'pmd_lock'; readonly mm: MmId; readonly pmd: number }
  /** `folio_lock()` / `folio_trylock()` (PG_locked) of the folio whose head is `pfn`. */
  | { readonly kind: 'folio_lock'; readonly pfn: Pfn };

export type LockKind = LockRef['kind'];

/**
 * The lock classes in the order a path may nest them, outermost first, mirroring the
 * lock-ordering comment at the top of mm/rmap.c (6.12) for the classes modelled:
 * `mmap_lock` → `folio_lock` → (`anon_vma->rwsem`, not modelled) → `page_table_lock` / pte
 * lock. `pmd_lock()` comes before the PTE lock it covers (`try_to_free_pte()`,
 * `__split_huge_pmd()` → PTE table, `retract_page_tables()` take `pml` then `ptl`).
 * Simplified: lockdep learns an order from what runs; here every modelled class has a fixed rank,
 * so an inversion of any order seen is an inversion of this hierarchy and one table is enough.
 */
export const LOCK_RANK: Readonly<Record<LockKind, number>> = { mmap_lock: 0, folio_lock: 1, pmd_lock: 2, ptl: 3 };

/** Is this a spinlock (a path must not sleep or be preempted while holding it)? */
export function isSpinlock(r: LockRef): boolean {
  switch (r.kind) {
    case 'ptl':
    case 'pmd_lock':
      return true;
    case 'mmap_lock':
    case 'folio_lock':
      return false;
    default:
      return assertNever(r);
  }
}

/** Do two references name the same lock (whatever the mode)? */
export function sameLock(a: LockRef, b: LockRef): boolean {
  switch (a.kind) {
    case 'mmap_lock':
      return b.kind === 'mmap_lock' && a.mm === b.mm;
    case 'ptl':
      return b.kind === 'ptl' && a.table === b.table;
    case 'pmd_lock':
      return b.kind === 'pmd_lock' && a.mm === b.mm;
    case 'folio_lock':
      return b.kind === 'folio_lock' && a.pfn === b.pfn;
    default:
      return assertNever(a);
  }
}

/** May `a` and `b` (the same lock) be held at once by two contexts? Only two readers of an rwsem. */
function compatible(a: LockRef, b: LockRef): boolean {
  return a.kind === 'mmap_lock' && b.kind === 'mmap_lock' && a.mode === 'read' && b.mode === 'read';
}

/** One line for a lock, as traces print it. */
export function describeLock(r: LockRef): string {
  switch (r.kind) {
    case 'mmap_lock':
      return `mmap_lock(mm${r.mm}, ${r.mode})`;
    case 'ptl':
      return `ptl(table ${r.table})`;
    case 'pmd_lock':
      return `pmd_lock(mm${r.mm}, pmd ${r.pmd})`;
    case 'folio_lock':
      return `folio_lock(pfn ${r.pfn})`;
    default:
      return assertNever(r);
  }
}

/**
 * Lock bookkeeping on the Machine, plain data. Kernel code runs either in a *task* (the runner
 * steps a preempted path: `running` is its CPU, and its locks live on that CPU, `Cpu.locks`) or
 * in the op's own **atomic** context (`running` null: an op that runs whole inside one step; its
 * locks live in `atomic`, empty between ops).
 */
export interface LockState {
  /** The CPU whose task the runner is stepping now (`Tasks.stepOnOwnClock()`), null otherwise. */
  running: CpuId | null;
  /** The locks the atomic context holds now. */
  readonly atomic: LockRef[];
  /** How many locks all tasks hold (the fast path of the checks: 0 almost always). */
  taskHeld: number;
  /**
   * Depth of `ownPtls()` sections: a plain method that takes the lock of each entry it writes
   * itself, one at a time (an rmap walk's `page_vma_mapped_walk()`, a whole fault).
   */
  ownPtls: number;
  /** Depth of `asHardware()` sections: the MMU setting accessed/dirty bits takes no lock. */
  hardware: number;
}

export function newLockState(): LockState {
  return { running: null, atomic: [], taskHeld: 0, ownPtls: 0, hardware: 0 };
}

/** The context that runs kernel code now: a task's CPU, or null for the op's atomic context. */
export function lockContext(m: Machine): CpuId | null {
  return m.locks.running;
}

/** The held list of a context. */
function heldBy(m: Machine, ctx: CpuId | null): LockRef[] {
  if (ctx === null) return m.locks.atomic;
  const c = m.cpus[ctx];
  if (c === undefined) throw new Error(`no cpu ${ctx}`);
  return c.locks;
}

function fail(v: Violation): never {
  throw new ModelViolationError(v);
}

/** How a lock is taken, for the order check: `nested` is `spin_lock_nested(…, SINGLE_DEPTH_NESTING)` / `mmap_write_lock_nested()`; a `trylock` cannot deadlock. */
export interface AcquireHow {
  readonly nested?: boolean;
  readonly trylock?: boolean;
}

/**
 * Take `ref` in context `ctx` (default: the running one). Checks, as lockdep and the runner's
 * contract require: no other task holds it in a conflicting mode (`lock_conflict`: the runner
 * should have made this op wait), and it comes after every lock the context holds in the
 * hierarchy (`lock_order`); a second lock of a class already held needs `nested` (the one
 * annotated nesting of fork) or `trylock`.
 */
export function lockAcquire(m: Machine, ref: LockRef, how: AcquireHow = {}, ctx: CpuId | null = lockContext(m)): void {
  const held = heldBy(m, ctx);
  checkConflict(m, ref, ctx);
  if (how.trylock !== true) checkOrder(m, ctx, held, ref, how.nested === true);
  held.push(ref);
  if (ctx !== null) m.locks.taskHeld++;
}

/** Release `ref` (the last acquisition of that lock) in context `ctx`. */
export function lockRelease(m: Machine, ref: LockRef, ctx: CpuId | null = lockContext(m)): void {
  const held = heldBy(m, ctx);
  for (let i = held.length - 1; i >= 0; i--) {
    const h = held[i];
    if (h !== undefined && sameLock(h, ref)) {
      held.splice(i, 1);
      if (ctx !== null) m.locks.taskHeld--;
      return;
    }
  }
  fail({ code: 'lock_imbalance', step: m.clock.step, cpu: ctx, lock: describeLock(ref), detail: 'released a lock it does not hold' });
}

/** Does context `ctx` hold `ref` (in `ref`'s mode or a stronger one)? */
export function holds(m: Machine, ctx: CpuId | null, ref: LockRef): boolean {
  return heldBy(m, ctx).some((h) => sameLock(h, ref) && (ref.kind !== 'mmap_lock' || h.kind !== 'mmap_lock' || h.mode === 'write' || ref.mode === 'read'));
}

function checkOrder(m: Machine, ctx: CpuId | null, held: readonly LockRef[], ref: LockRef, nested: boolean): void {
  const rank = LOCK_RANK[ref.kind];
  for (const h of held) {
    const hr = LOCK_RANK[h.kind];
    if (sameLock(h, ref)) {
      fail({ code: 'lock_order', step: m.clock.step, cpu: ctx, held: describeLock(h), taking: describeLock(ref), detail: 'takes a lock it already holds (AA deadlock)' });
    }
    if (hr > rank || (hr === rank && !nested)) {
      const detail = hr > rank ? 'inverts the lock hierarchy (mm/rmap.c)' : 'a second lock of one class without a nesting annotation';
      fail({ code: 'lock_order', step: m.clock.step, cpu: ctx, held: describeLock(h), taking: describeLock(ref), detail });
    }
  }
}

/** Another task (not `ctx`) holding `ref` in a mode that excludes it: the runner should have made this op wait. */
function checkConflict(m: Machine, ref: LockRef, ctx: CpuId | null): void {
  if (m.locks.taskHeld === 0) return;
  const other = otherHolder(m, ref, ctx);
  if (other === null) return;
  fail({ code: 'lock_conflict', step: m.clock.step, cpu: ctx, holder: other.cpu, lock: describeLock(other.lock), wants: describeLock(ref) });
}

/** The task (other than `ctx`) holding a lock that excludes `ref`, if any. */
export function otherHolder(m: Machine, ref: LockRef, ctx: CpuId | null): { readonly cpu: CpuId; readonly lock: LockRef } | null {
  if (m.locks.taskHeld === 0) return null;
  for (const c of m.cpus) {
    if (c.id === ctx) continue;
    for (const h of c.locks) if (sameLock(h, ref) && !compatible(h, ref)) return { cpu: c.id, lock: h };
  }
  return null;
}

/**
 * Run `fn`, a plain method that takes the lock of each page-table entry it writes itself, one at
 * a time, around the write: an rmap walk (`page_vma_mapped_walk()` takes each mapping's PTL or
 * PMD lock), a whole fault (`pte_offset_map_lock()` inside). Inside, a write is checked as if
 * that lock were taken and dropped around it (order and conflict).
 */
export function ownPtls<T>(m: Machine, fn: () => T): T {
  m.locks.ownPtls++;
  try {
    return fn();
  } finally {
    m.locks.ownPtls--;
  }
}

/** Run `fn` as the MMU: accessed/dirty updates of a walk take no lock (and need none). */
export function asHardware<T>(m: Machine, fn: () => T): T {
  m.locks.hardware++;
  try {
    return fn();
  } finally {
    m.locks.hardware--;
  }
}

/**
 * The check behind `setPte()` (pgtable.ts) of an entry of `table` (mm `mm`, `vpn`): a task must
 * hold the table's PTL (an atomic op is simplified as holding every lock it needs), and no
 * *other* task may hold it. Called only when some context may hold a lock.
 */
export function checkPteWrite(m: Machine, mm: MmId, vpn: number, table: Pfn): void {
  const L = m.locks;
  if (L.hardware > 0) return;
  const ref: LockRef = { kind: 'ptl', table };
  const ctx = L.running;
  if (ctx !== null && L.ownPtls > 0) {
    // A twin called inside may hold it already (do_wp_page() under handle_pte_fault()'s PTL).
    if (!holds(m, ctx, ref)) {
      lockAcquire(m, ref);
      lockRelease(m, ref);
    }
    return;
  }
  if (ctx !== null && !holds(m, ctx, ref)) {
    fail({ code: 'pte_without_ptl', step: m.clock.step, cpu: ctx, mm, vpn, table, holder: null });
  }
  const other = otherHolder(m, ref, ctx);
  if (other !== null) fail({ code: 'pte_without_ptl', step: m.clock.step, cpu: ctx, mm, vpn, table, holder: other.cpu });
}

/**
 * The check behind `setPmd()` of PMD slot `pmd` of `mm`: a task must hold the mm's PMD lock or
 * its `mmap_lock` for write (the kernel changes PMDs under `pmd_lock()`, or, as `free_pgtables()`
 * and `move_page_tables()` do, with the mmap_lock held for write); no other task may hold the
 * PMD lock.
 */
export function checkPmdWrite(m: Machine, mm: MmId, pmd: number): void {
  const L = m.locks;
  if (L.hardware > 0) return;
  const ref: LockRef = { kind: 'pmd_lock', mm, pmd };
  const ctx = L.running;
  if (ctx !== null && L.ownPtls > 0) {
    if (!holds(m, ctx, { kind: 'mmap_lock', mm, mode: 'write' }) && !holds(m, ctx, ref)) {
      lockAcquire(m, ref);
      lockRelease(m, ref);
    }
    return;
  }
  if (ctx !== null && !holds(m, ctx, ref) && !holds(m, ctx, { kind: 'mmap_lock', mm, mode: 'write' })) {
    fail({ code: 'pmd_without_lock', step: m.clock.step, cpu: ctx, mm, pmd, holder: null });
  }
  const other = otherHolder(m, ref, ctx);
  if (other !== null) fail({ code: 'pmd_without_lock', step: m.clock.step, cpu: ctx, mm, pmd, holder: other.cpu });
}

/** Is any lock bookkeeping live (a task running or holding a lock)? The checks' fast path. */
export function locksLive(m: Machine): boolean {
  return m.locks.running !== null || m.locks.taskHeld > 0;
}
