import type { MmId, Vpn } from './ids';

/**
 * Preemptible kernel tasks (issue 11; docs/concurrency.md). A kernel path that owns preemption
 * points has a generator twin that yields at each one; the runner keeps the live iterator and
 * the machine keeps only this plain description, so traces, oracles and `structuredClone` see
 * where every task stands.
 *
 * A preemption point is where the kernel really lets another CPU in on the state the path is
 * changing: it dropped the lock that excluded the competing path, not an arbitrary line.
 */
export type PreemptPoint =
  /**
   * `zap_pte_range()` finished one PMD slot and dropped its PTL (`pte_unmap_unlock()`), or
   * `zap_huge_pmd()` dropped the PMD lock: the entries are cleared, but the batched kernel's
   * flush and frees are still owed (until `tlb_finish_mmu()`), and `zap_pmd_range()` may
   * `cond_resched()` before the next slot.
   */
  | 'zap: table done, PTL dropped'
  /**
   * Every slot of the range is done and `tlb_finish_mmu()` has not run yet: the whole range's
   * TLB flush and the frees of the gathered pages are owed.
   */
  | 'zap: before tlb_finish_mmu()'
  /**
   * `migrate_pages_batch()` (mm/migrate.c, 6.12): `try_to_migrate()` has put one folio's
   * migration entries in place and dropped the PTLs. The folio stays locked; the batched kernel
   * owes the flush (`try_to_unmap_flush()` has not run), the reference flushed each PTE.
   */
  | 'migrate: folio unmapped'
  /**
   * `migrate_folio_move()`: the folio was copied to its destination (`folio_mc_copy()`), and
   * `remove_migration_ptes()` has not remapped it yet: the migration entries are still in place.
   */
  | 'migrate: folio copied, before remove_migration_ptes()'
  /**
   * `do_anonymous_page()` (mm/memory.c, 6.12) for a store: the fault read `vmf->orig_pte` (none)
   * without the PTL and allocated its page (`alloc_anon_folio()`); it has not yet taken the PTL
   * (`pte_offset_map_lock()`) to recheck `vmf_pte_changed()` and install it.
   */
  | 'fault: page allocated, before the PTL';

/** Every preemption point, in the order a zap passes them (for listings and docs). */
export const PREEMPT_POINTS: readonly PreemptPoint[] = [
  'zap: table done, PTL dropped',
  'zap: before tlb_finish_mmu()',
  'migrate: folio unmapped',
  'migrate: folio copied, before remove_migration_ptes()',
  'fault: page allocated, before the PTL',
];

/** The ops that can run as kernel tasks: MADV_DONTNEED's zap, migration, and a store's anonymous fault. */
export type TaskOp = 'zap' | 'migrate' | 'access';

/**
 * A kernel path with preemption points, run a point at a time: `next()` runs it up to its next
 * point (the yielded value) or to its end (`done`).
 */
export type KernelSteps = Generator<PreemptPoint, void, void>;

/** Run a path with preemption points to its end at once: what its plain method does. */
export function runToEnd(steps: KernelSteps): void {
  for (let r = steps.next(); r.done !== true; r = steps.next());
}

/** Run a path with preemption points that returns a value to its end at once (a plain method with a result). */
export function runToEndWith<T>(steps: Generator<PreemptPoint, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/** What a CPU's preempted kernel task is doing, as plain data (`Cpu.task`). */
export interface KernelTaskView {
  /**
   * The op that runs as the task: MADV_DONTNEED of [start, end), a migration of folios
   * mapped from `start` on (`end` is then the top of the mm), or a store to page `start` whose
   * fault is in flight (`end` = `start` + 1).
   */
  readonly op: TaskOp;
  readonly mm: MmId;
  readonly start: Vpn;
  readonly end: Vpn;
  /** The last preemption point it passed (where it stands now). */
  point: PreemptPoint;
  /** How many preemption points it has passed since it started. */
  pointsPassed: number;
}

/** Does an in-flight zap task of `mm` cover page `v`? (Its stale translations there are the kernel's to flush.) */
export function taskCovers(t: KernelTaskView | null, mm: MmId, v: number): boolean {
  // Only a zap clears PTEs whose translations it owes: a migration keeps the data in place.
  return t !== null && t.op === 'zap' && t.mm === mm && v >= t.start && v < t.end;
}

/**
 * Thrown by a kernel path that must sleep until an in-flight migration task is done
 * (`migration_entry_wait()`): the runner completes the migration and runs the op again, as the
 * kernel retries the access once `remove_migration_ptes()` has replaced the entry. The path must
 * throw it before it changes anything the retry would not redo.
 */
export class WaitForMigration extends Error {
  constructor(
    readonly mm: MmId,
    readonly vpn: Vpn,
  ) {
    super(`mm ${mm} vpn ${vpn}: waiting for a migration entry`);
  }
}

/** Is a migration task in flight on some CPU (a migration entry may outlive its op)? */
export function migrationInFlight(cpus: ReadonlyArray<{ readonly task: KernelTaskView | null }>): boolean {
  return cpus.some((c) => c.task !== null && c.task.op === 'migrate');
}
