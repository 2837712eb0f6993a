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
   * `shrink_folio_list()` (mm/vmscan.c, 6.12) is done with one folio and at the top of its loop
   * for the next (`cond_resched()`): the folio was unmapped and written out or kept, its lock is
   * dropped, and a freed one waits on `free_folios`; the batched kernel still owes the flush of
   * every clean entry it unmapped (`try_to_unmap_flush()` comes after the loop; a dirty one was
   * flushed before its pageout), the reference flushed each PTE.
   */
  | 'reclaim: folio done, before the next (cond_resched())'
  /**
   * madvise(MADV_COLD / MADV_PAGEOUT / MADV_FREE) (mm/madvise.c, 6.12) finished one PMD slot: the
   * PTE callback dropped its PTL (`pte_unmap_unlock()`) and the walk may `cond_resched()`; the
   * young and dirty bits it cleared are in the caller's `mmu_gather`, whose flush the batched
   * kernel owes until `tlb_finish_mmu()` (the reference flushed each PTE).
   */
  | 'madvise: table done, PTL dropped'
  /**
   * `do_anonymous_page()` (mm/memory.c, 6.12) for a store: the fault read `vmf->orig_pte` (none)
   * without the PTL and allocated its page (`alloc_anon_folio()`); it has not yet taken the PTL
   * (`pte_offset_map_lock()`) to recheck `vmf_pte_changed()` and install it.
   */
  | 'fault: page allocated, before the PTL'
  /**
   * `do_anonymous_page()` (mm/memory.c, 6.12) for a load, on a machine with the shared zero
   * page: the fault read `vmf->orig_pte` (none) without the PTL and built the special zero-page
   * entry; it has not yet taken the PTL to recheck `vmf_pte_changed()` and set it. Another CPU's
   * fault may fill the PTE meanwhile (a store's page: this fault must then back off).
   */
  | 'fault: zero-page entry made, before the PTL'
  /**
   * `wp_page_copy()` (mm/memory.c, 6.12) for a store to a present read-only PTE whose page must be
   * copied: `do_wp_page()` dropped the PTL (holding a reference on the old folio), the new page
   * is allocated and the old one copied into it (`__wp_page_copy_user()`); it has not yet retaken
   * the PTL (`pte_offset_map_lock()`) to recheck `pte_same(ptep_get(vmf->pte), vmf->orig_pte)`.
   */
  | 'fault: COW page copied, before the PTL'
  /**
   * `__get_user_pages()` (mm/gup.c, 6.12): `follow_page_mask()` found no usable page,
   * `faultin_page()` handled the fault and returned 0, and the loop went back to `retry:`, where
   * `cond_resched()` comes before the repeated lookup. `mmap_lock` is held for read; the fault's
   * PTL is dropped, so the entry the fault made may change before the lookup finds it.
   */
  | 'gup: faulted, before the retried lookup'
  /**
   * `change_pte_range()` finished one PMD slot and dropped its PTL (`pte_unmap_unlock()`), or
   * `change_huge_pmd()` dropped the PMD lock: the protection is changed, but the batched kernel's
   * flush of the downgraded entries is owed until `tlb_finish_mmu()` (`change_pmd_range()` may
   * `cond_resched()` before the next slot).
   */
  | 'mprotect: table done, PTL dropped'
  /** Every slot is changed and `tlb_finish_mmu()` of `do_mprotect_pkey()` has not run yet. */
  | 'mprotect: before tlb_finish_mmu()'
  /**
   * Inside `copy_present_ptes()`, under both PTLs: `folio_try_dup_anon_rmap_ptes()` has shared
   * the page with the child (its PageAnonExclusive is cleared) and the parent's PTE is not yet
   * write-protected (`__copy_present_ptes()`). Not a point where fork's CPU lets anything in — it
   * holds the PTLs and `mmap_lock` for write — but one where what neither lock excludes runs on
   * other CPUs: GUP-fast (IRQs off, no lock) and hardware accesses. The race of commit
   * 57efa1fe5957 ("mm/gup: prevent gup_fast from racing with COW during fork") lives here; only
   * `mm->write_protect_seq` keeps GUP-fast's pin off such a page.
   */
  | 'fork: page shared, parent PTE not yet write-protected'
  /**
   * `copy_pte_range()` finished one PMD slot and dropped both PTLs (or `copy_huge_pmd()` its PMD
   * locks); `copy_pmd_range()` goes on to the next slot. The parent's TLBs may still hold
   * writable entries of pages now shared with the child, until `flush_tlb_mm()`.
   */
  | 'fork: table copied, PTLs dropped'
  /** Every slot is copied and `dup_mmap()`'s `flush_tlb_mm(oldmm)` has not run yet. */
  | 'fork: before flush_tlb_mm()'
  /**
   * khugepaged between its scan and `mmap_write_lock()` (mm/khugepaged.c, 6.12):
   * `hpage_collapse_scan_pmd()` found the range worth collapsing under `mmap_read_lock()`,
   * `collapse_huge_page()` dropped that lock (`mmap_read_unlock()`, "before allocating the
   * hugepage, release the mmap_lock read lock") and allocated the THP (`alloc_charge_folio()`).
   * khugepaged holds no lock at all here: faults, GUP, munmap, mprotect, fork and exit may change
   * the range, which is why the collapse revalidates the VMA and the PMD under the write lock and
   * `__collapse_huge_page_isolate()` checks every page again. Resuming takes `mmap_lock` for write,
   * so the runner first completes the tasks that hold it (`RETAKES_MMAP_WRITE`).
   */
  | 'collapse: THP allocated, no lock held'
  /**
   * khugepaged's file path (mm/khugepaged.c, 6.12): `hpage_collapse_scan_file()` found the file
   * range worth collapsing (under `rcu_read_lock()` only) and `collapse_file()` has not begun: no
   * lock is held, no folio is locked. Faults, GUP, zaps, pwrite, truncate and MAP_SHARED mmaps of
   * the file may change the range; `collapse_file()` checks each page again when it resumes.
   * Resuming unmaps the file's pages from every mm, so the runner first completes every other
   * task (`RESUMES_ACROSS_MMS`), as it does before a truncate.
   */
  | 'collapse_file: range scanned, no lock held'
  /**
   * `collapse_huge_page()` (mm/khugepaged.c, 6.12): the PMD is cleared and flushed
   * (`pmdp_collapse_flush()`), `tlb_remove_table_sync_one()` has waited for GUP-fast, and
   * `__collapse_huge_page_isolate()` found every page fit and dropped the PTL; the copy has not
   * begun. khugepaged holds `mmap_lock` for write and no spinlock: not a point where it lets
   * anything in on the mm, but one where what no lock excludes runs on other CPUs — a GUP-fast
   * walk that read the PMD before it was cleared (its recheck must see the PMD change) and the
   * hardware. The old PTEs are still in the detached table until the copy clears them.
   */
  | 'collapse: pages isolated, before the copy';

/** Every preemption point, in the order a zap passes them (for listings and docs). */
export const PREEMPT_POINTS: readonly PreemptPoint[] = [
  'zap: table done, PTL dropped',
  'zap: before tlb_finish_mmu()',
  'migrate: folio unmapped',
  'migrate: folio copied, before remove_migration_ptes()',
  'reclaim: folio done, before the next (cond_resched())',
  'madvise: table done, PTL dropped',
  'fault: page allocated, before the PTL',
  'fault: COW page copied, before the PTL',
  'gup: faulted, before the retried lookup',
  'mprotect: table done, PTL dropped',
  'mprotect: before tlb_finish_mmu()',
  'fork: page shared, parent PTE not yet write-protected',
  'fork: table copied, PTLs dropped',
  'fork: before flush_tlb_mm()',
  'collapse: THP allocated, no lock held',
  'collapse: pages isolated, before the copy',
  'collapse_file: range scanned, no lock held',
];

/**
 * The points a task leaves holding no `mmap_lock` and whose next step takes it for write: the
 * kernel sleeps in `mmap_write_lock()` until every holder is gone, so before resuming such a task
 * the runner completes the other tasks holding that mm's `mmap_lock` (src/run/tasks.ts).
 */
export const RETAKES_MMAP_WRITE: ReadonlySet<PreemptPoint> = new Set<PreemptPoint>(['collapse: THP allocated, no lock held']);

/**
 * The points after which a task goes on to unmap a file's pages from every mm that maps it (and
 * to take their PMD locks and PTLs): before resuming it the runner completes every other task,
 * as it does before a truncate (src/run/tasks.ts).
 */
export const RESUMES_ACROSS_MMS: ReadonlySet<PreemptPoint> = new Set<PreemptPoint>(['collapse_file: range scanned, no lock held']);

/**
 * The points a task may stop at while holding a spinlock (a PTL or PMD lock): none where the
 * path really lets its CPU go. Fork's 'page shared' point is inside `copy_present_ptes()` under
 * both PTLs — it stands for what runs on *other* CPUs without any lock (GUP-fast, the MMU), not
 * for a preemption — so it declares them. A task stopping under a spinlock anywhere else is a
 * model bug (`preempt_under_spinlock`, src/run/tasks.ts).
 */
export const POINTS_UNDER_PTL: ReadonlySet<PreemptPoint> = new Set<PreemptPoint>(['fork: page shared, parent PTE not yet write-protected']);

/**
 * A kernel path with preemption points, run a point at a time: `next()` runs it up to its next
 * point (the yielded value) or to its end (`done`).
 */
export type KernelSteps<R = void> = Generator<PreemptPoint, R, void>;

/** Run a path with preemption points to its end at once: what its plain method does. Returns what the path returns. */
export function runToEnd<R>(steps: KernelSteps<R>): R {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/** Run a path with preemption points that returns a value to its end at once (a plain method with a result). */
export function runToEndWith<T>(steps: Generator<PreemptPoint, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
  }
}

/**
 * The ops that can run as a task: MADV_DONTNEED (`zap`), migration, a store's anonymous or COW
 * fault (`access`), mprotect(), fork() and GUP's slow path (`gup`). A closed union: the runner's per-op rules
 * (src/run/tasks.ts) switch over it exhaustively.
 */
export type TaskOp = 'zap' | 'madvise' | 'migrate' | 'reclaim' | 'access' | 'mprotect' | 'fork' | 'gup' | 'collapse';

/** What a CPU's preempted kernel task is doing, as plain data (`Cpu.task`). */
export interface KernelTaskView {
  /**
   * The op that runs as the task: MADV_DONTNEED, madvise(COLD/PAGEOUT/FREE) or mprotect() of [start, end), a migration or a
   * reclaim of folios mapped from `start` on (`end` is then the top of the mm), a store to page `start`
   * whose fault (anonymous or COW) is in flight (`end` = `start` + 1), fork() of the whole mm (start 0, end the
   * top of the mm), or GUP of [start, end).
   */
  readonly op: TaskOp;
  readonly mm: MmId;
  /** fork: the child mm `dup_mmap()` is filling (no op may use it before fork returns). */
  readonly child?: MmId;
  readonly start: Vpn;
  readonly end: Vpn;
  /** The last preemption point it passed (where it stands now). */
  point: PreemptPoint;
  /** How many preemption points it has passed since it started. */
  pointsPassed: number;
}

/**
 * Does an in-flight zap task of `mm` cover page `v`? (Its stale translations there are the
 * kernel's to flush; a store racing with it may leave another CPU's view behind.) Only a zap:
 * mprotect and fork change no frame an address maps, so no divergent view is theirs to allow.
 */
export function taskCovers(t: KernelTaskView | null, mm: MmId, v: number): boolean {
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

/** The prototype on `obj`'s chain that defines `name` itself. */
function ownerOf(obj: object, name: string): object | null {
  for (let p: object | null = Object.getPrototypeOf(obj) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    if (Object.prototype.hasOwnProperty.call(p, name)) return p;
  }
  return null;
}

/**
 * Does `kernel` override the plain method `plain` in a class below the one that defines the
 * generator twin `twin`? Then running the twin would bypass the override. A twin that descends
 * into a sub-path calls the plain method instead in that case (the sub-path then has no points of
 * its own), so a variant that overrides a plain method always has it called; and the runner does
 * not start such a path as a task at all (src/run/tasks.ts).
 */
export function overriddenBelow(kernel: object, twin: string, plain: string): boolean {
  // A fact of the kernel's class, asked at many steps: answered once per class and pair.
  const proto = Object.getPrototypeOf(kernel) as object;
  let answers = overridden.get(proto);
  if (answers === undefined) overridden.set(proto, (answers = new Map()));
  const key = `${twin} ${plain}`;
  let answer = answers.get(key);
  if (answer === undefined) {
    const so = ownerOf(kernel, twin);
    const po = ownerOf(kernel, plain);
    answer = so !== null && po !== null && po !== so && Object.prototype.isPrototypeOf.call(so, po);
    answers.set(key, answer);
  }
  return answer;
}

/** overriddenBelow()'s answers per kernel class (its prototype). */
const overridden = new WeakMap<object, Map<string, boolean>>();
