import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { CpuId, MmId, Pfn, Vpn } from '../../models/machine/ids';
import { cpuId as asCpu, mmId as asMm } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import type { KernelSteps, KernelTaskView, PreemptPoint, TaskOp } from '../../models/machine/tasks';
import { overriddenBelow, POINTS_UNDER_PTL, RESUMES_ACROSS_MMS, RETAKES_MMAP_WRITE } from '../../models/machine/tasks';
import { folioNrPages } from '../../models/machine/geometry';
import { folioAt } from '../../models/machine/frames';
import { tlbLookupOnAccess } from '../../models/machine/tlb';
import { isZeroPfn } from '../../models/machine/zeroPage';
import { assertNever } from '../../models/assertNever';
import { mmAt, pmdAt, pmdIndexOf, tableEntries } from '../../models/machine/pgtable';
import { noop } from '../../models/result';
import { fileHasThp, vmaFileAt } from '../../models/machine/files';
import { ModelViolationError } from '../../models/machine/violation';
import type { LockRef } from '../../models/machine/locks';
import { describeLock, isSpinlock } from '../../models/machine/locks';
import type { OpResult } from '../../models/result';
import type { Op } from '../ops/op';

/**
 * What happened to a kernel task during one step, for the trace and the user-memory oracle:
 * it started (the op ran as a task), was resumed, or ran to completion because the op needed
 * what it holds (`wait`: an mmap_lock writer; `drain`). `point` is where it stopped, null when it
 * completed.
 */
export interface TaskNote {
  readonly cpu: CpuId;
  /** The op the task runs. */
  readonly op: TaskOp;
  readonly how: 'start' | 'resume' | 'wait' | 'drain';
  readonly mm: MmId;
  readonly start: Vpn;
  readonly end: Vpn;
  readonly point: PreemptPoint | null;
  readonly pointsPassed: number;
  /** For a store's fault (`op` 'access'): the value it stores once it completes. */
  readonly value?: number;
  /** For a load's fault (`op` 'access'), once it completed: the value the load returned. */
  readonly read?: number;
  /** For a migration, once it completed: how many folios it moved (`migrate_pages()`' count). */
  readonly migrated?: number;
  /** For a migration, once it completed: the step whose op started it (the differential pairs tasks by it). */
  readonly startedAt?: number;
}

/**
 * Pairs of a path with preemption points and the plain methods that drive it. A task runs the
 * steps method; if a kernel overrides one of its plain methods *below* the class that defines
 * the steps (a variant that rewrote `zapPageRange()`), running the steps would bypass the
 * override, so the op is not run as a task (its `preempt` is a no-op) and the variant's code runs
 * whole, as before.
 */
const STEP_TWINS: Readonly<Record<TaskOp, ReadonlyArray<readonly [string, readonly string[]]>>> = {
  zap: [
    ['zapPageRangeSteps', ['zapPageRange']],
    ['unmapPageRangeSteps', ['unmapPageRange']],
  ],
  mprotect: [
    ['mprotectSteps', ['doMprotectPkey']],
    ['changeProtectionSteps', ['changeProtection']],
    ['changeProtectionRangeSteps', ['changeProtectionRange']],
  ],
  fork: [
    ['dupMmapSteps', ['dupMmap']],
    ['copyPteRangeSteps', ['copyPteRange']],
    ['copyPresentPteSteps', ['copyPresentPte']],
    ['copyPresentPtesSteps', ['copyPresentPtes']],
  ],
  // Migration's twins repeat the steps of plain methods that keep their bodies, so a variant that
  // overrides one below the twin — migrc-as-posted's `migrateFolioMove()` — would be bypassed by
  // a migration task: for such a kernel migration is not run as a task.
  // Reclaim's twins run the plain shrinkFolio() per folio; a variant that rewrote the list walk
  // (reclaim-frees-before-flush overrides shrinkFolioList()) is not run as a task.
  madvise: [['madviseSteps', ['madvise']]],
  reclaim: [
    ['reclaimFoliosSteps', ['reclaimFolios', 'shrinkFolioList']],
    ['shrinkFolioListSteps', ['shrinkFolioList']],
  ],
  migrate: [
    ['migratePagesSteps', ['migratePages', 'migrateFolio', 'migrateFolioMove', 'migratePagesBatch']],
    ['migratePagesBatchSteps', ['migratePagesBatch', 'migrateFolioMove']],
  ],
  // GUP: batched overrides the twin getUserPagesSteps(); batched-gup-runs overrides the plain
  // getUserPagesRaw() below its twin, so there GUP is not a task.
  gup: [
    ['getUserPagesSteps', ['getUserPages']],
    ['getUserPagesRawSteps', ['getUserPagesRaw']],
    ['followPageWithFaultSteps', ['followPageWithFault']],
  ],
  // The store's path: `userAccessSteps()` replaces the plain access loop and `handleMmFault()`.
  // Which fault below it is a task depends on the PTE (FAULT_TWINS).
  access: [['userAccessSteps', ['userAccess', 'handleMmFault']]],
  collapse: [
    ['collapseHugePageSteps', ['collapseHugePage']],
    ['khugepagedScanFileSteps', ['khugepagedScanFile']],
  ],
};

/** The two faults a store task may be in: `do_anonymous_page()` (empty PTE) or `do_wp_page()` (present, read-only). */
export type FaultPath = 'anonymous' | 'cow';

/**
 * Each fault path's twins and the plain methods they replace. A kernel that overrides one of
 * them below its twin keeps the other path: migrc-as-posted once overrode `doWpPage()`, and a
 * test variant overrides `wpPageCopy()`; their anonymous faults can still be tasks.
 */
const FAULT_TWINS: Readonly<Record<FaultPath, ReadonlyArray<readonly [string, readonly string[]]>>> = {
  anonymous: [['doAnonymousPageSteps', ['doAnonymousPage']]],
  cow: [
    ['doWpPageSteps', ['doWpPage']],
    ['wpPageCopySteps', ['wpPageCopy']],
  ],
};


/** May this kernel's store fault of kind `path` run as a task without bypassing one of its overrides? */
export function faultCanBeTask(k: ReferenceKernel, path: FaultPath): boolean {
  if (!canBeTask(k, 'access')) return false;
  for (const [steps, plains] of FAULT_TWINS[path]) for (const plain of plains) if (overriddenBelow(k, steps, plain)) return false;
  return true;
}

/** May this kernel's zap run as a task without bypassing one of its overrides? */
export function zapCanBeTask(k: ReferenceKernel): boolean {
  return canBeTask(k, 'zap');
}

/** May this kernel's reclaim run as a task without bypassing one of its overrides? */
export function reclaimCanBeTask(k: ReferenceKernel): boolean {
  return canBeTask(k, 'reclaim');
}

/** May this kernel's migration run as a task without bypassing one of its overrides? */
export function migrateCanBeTask(k: ReferenceKernel): boolean {
  return canBeTask(k, 'migrate');
}

/** The ops `Tasks.start()` runs as tasks (migration and a store's fault have starts of their own). */
export type StartOp = 'zap' | 'madvise' | 'mprotect' | 'fork' | 'gup' | 'collapse';

/** The task an op would be through `Tasks.start()`, if it is of a kind with preemption points. */
export function taskOpOf(op: Op): StartOp | null {
  switch (op.kind) {
    case 'zap':
    case 'madvise':
    case 'mprotect':
    case 'fork':
    case 'gup':
    case 'collapse':
      return op.kind;
    default:
      return null;
  }
}

/** Is `op` one that `Tasks.start()` can run as a task? */
export function isStartOp(op: Op): op is Extract<Op, { kind: StartOp }> {
  return taskOpOf(op) !== null;
}

/** May this kernel's `op` run as a task without bypassing one of its overrides? */
export function canBeTask(k: ReferenceKernel, op: TaskOp): boolean {
  for (const [steps, plains] of STEP_TWINS[op]) for (const plain of plains) if (overriddenBelow(k, steps, plain)) return false;
  return true;
}

/** Ops that take `mmap_lock` for write on their mm and so wait for its preempted readers. */
const TAKES_MMAP_WRITE: ReadonlySet<Op['kind']> = new Set(['fork', 'mremap', 'mprotect', 'exit', 'mmapFile', 'collapse']);

/**
 * The frame `v` of `mm` maps, or null. A migration entry (of an in-flight migration task) counts
 * as mapping the frame it names: an op that would meet it touches that folio. (Unlike
 * pgtable.ts's mappedPfn(), which sees present translations only.)
 */
function entryPfn(m: Machine, mm: MmId, v: number): Pfn | null {
  const ppt = m.geometry.ptrsPerPte;
  const pmd = pmdAt(m, mm, Math.floor(v / ppt));
  if (pmd.kind === 'leaf' || pmd.kind === 'migration') return (pmd.pfn + (v % ppt)) as Pfn;
  if (pmd.kind !== 'table') return null;
  const e = tableEntries(m, pmd.table)[v % ppt];
  return e !== undefined && (e.kind === 'present' || e.kind === 'migration') ? e.pfn : null;
}

/** A store task's value, for its notes (absent for other tasks, so their notes stay as they were). */
function valueOf(live: LiveTask): { value?: number } {
  return live.value === undefined ? {} : { value: live.value };
}

/** A migration task's count of moved folios, and the step that started it, once it completed (absent for every other task). */
function migratedOf(live: LiveTask): { migrated?: number; startedAt?: number } {
  const r = live.done.value;
  return live.migration === true && typeof r === 'number' ? { migrated: r, startedAt: live.clock.step } : {};
}

/** A load task's result once it completed (absent for every other task). */
function readOf(live: LiveTask): { read?: number } {
  const r = live.done.value;
  if (!live.load || typeof r !== 'object' || r === null || !('kind' in r) || !('value' in r)) return {};
  return r.kind === 'value' && typeof r.value === 'number' ? { read: r.value } : {};
}

/**
 * Ops that take no `mmap_lock` in the model, so they run inside the window of a task holding it
 * for write (mprotect, fork). A user access that hits the CPU's TLB (the hardware needs no lock;
 * one that would miss may fault, and so waits — a deliberate simplification: a hardware walk
 * of a present PTE needs no lock either), GUP-fast beginning its walk (IRQs off, no lock; one
 * that falls back at once takes `mmap_lock`), a GUP-fast walk ending when it keeps its page (its
 * grab, if it stopped before it, and its recheck pass; ending with the slow-path fallback takes
 * `mmap_lock`), a `pte_offset_map()` reader leaving, device accesses and unpins through handles,
 * and the file ops (writeback, pread, pwrite), which work on a file, not an mm.
 */
function lockless(m: Machine, k: ReferenceKernel, op: Op): boolean {
  switch (op.kind) {
    case 'access': {
      const e = tlbLookupOnAccess(m, asCpu(op.cpu), asMm(op.mm), op.vpn as Vpn);
      return e !== undefined && (!op.write || (e.writable && e.dirty));
    }
    case 'walkBegin': {
      // GUP-fast takes no lock — unless it finds nothing to walk (a none PMD, a migration entry)
      // and falls back to the slow path at once, which takes mmap_lock (gupFastWalk()).
      if (op.walker !== 'gupFast') return false;
      const pmd = pmdAt(m, asMm(op.mm), pmdIndexOf(m, op.vpn as Vpn));
      return pmd.kind !== 'none' && pmd.kind !== 'migration';
    }
    case 'walkEnd': {
      const c = m.cpus[op.cpu];
      if (c === undefined) return true;
      if (c.finishedWalk !== null) return c.finishedWalk.recheckPassed;
      const w = c.walker;
      return w === null || w.kind !== 'gupFast' || k.gupFastKeepsPage(m, w);
    }
    case 'gupRead':
    case 'gupWrite':
    case 'unpin':
    case 'writeback':
    case 'fileRead':
    case 'fileWrite':
    case 'tick':
    case 'nowaitFail':
    case 'memHole':
    case 'allocPolicy':
    case 'preempt':
    case 'resume':
      return true;
    default:
      return false;
  }
}

/**
 * The mode in which `op`, run whole, takes the `mmap_lock` of its mm (`mmOf()`), or null when it
 * takes none. fork (`dup_mmap()`), mremap, mprotect and exit take it for write; the lockless ops
 * above none; every other op for read (faults, GUP, MADV_DONTNEED, migration's rmap side, PT
 * reclaim, walkers; simplified: `map` and `populate` count as faults).
 */
export function mmapModeOf(m: Machine, k: ReferenceKernel, op: Op): 'read' | 'write' | null {
  if (TAKES_MMAP_WRITE.has(op.kind)) return 'write';
  return lockless(m, k, op) ? null : 'read';
}

/** The mm an op works on (walkEnd: its walker's), or null when it names none. */
function mmOf(m: Machine, op: Op): MmId | null {
  if (op.kind === 'walkEnd') {
    const c = m.cpus[op.cpu];
    const w = c?.finishedWalk?.walk ?? c?.walker ?? null;
    return w === null ? null : w.mm;
  }
  return 'mm' in op ? asMm(op.mm) : null;
}

/** The `mmap_lock` of `mm` among `locks` that excludes taking it in `mode`, if any. */
function mmapConflict(locks: readonly LockRef[], mm: MmId, mode: 'read' | 'write'): LockRef | null {
  for (const l of locks) if (l.kind === 'mmap_lock' && l.mm === mm && (l.mode === 'write' || mode === 'write')) return l;
  return null;
}

/**
 * Must `op` wait for the in-flight task `t` (the runner then completes the task first)? Derived
 * from what the task holds (`Cpu.locks`): the op waits when it takes its mm's `mmap_lock` in a
 * mode the task's excludes (`mmapModeOf()`) — a zap or a store's fault holds it for read, so the
 * mm's writers wait; mprotect and fork hold it for write, so every op on the mm but the lockless
 * ones waits. Two rules are not locks: every op on fork's child waits (no one can reach the child
 * before fork returns), and migration, reclaim and madvise(COLD/PAGEOUT/FREE) wait for a fork of
 * any mm (simplified: their rmap walks — a reclaim's unmap, a madvise's split of a large folio —
 * may meet the folios fork is sharing, where `page_vma_mapped_walk()` would spin on the PTL fork
 * holds; the model does not let them interleave); so does writeback, whose `folio_mkclean()` walks
 * the rmap of the file's folios (interleaved soak seed 90015: a fork preempted under the PTLs of a
 * table that also maps a MAP_SHARED page). Who waits for a
 * migration is decided by its folios (`Tasks.waitFor()`). truncate waits for every task
 * (simplified: it holds only i_mmap_rwsem, folio locks and PTLs, so in the kernel it races with
 * a preempted zap, fork or migration; the model runs it between them).
 */
function waitsFor(m: Machine, k: ReferenceKernel, op: Op, t: KernelTaskView, locks: readonly LockRef[]): boolean {
  if (touchesEveryMm(m, op)) return true;
  if (t.op === 'migrate' || t.op === 'reclaim') return false;
  if (t.op === 'fork' && (op.kind === 'migrate' || op.kind === 'reclaim' || op.kind === 'madvise' || op.kind === 'writeback')) return true;
  const mm = mmOf(m, op);
  if (mm === null) return false;
  if (t.op === 'fork' && mm === t.child) return true;
  const mode = mmapModeOf(m, k, op);
  return mode !== null && mmapConflict(locks, mm, mode) !== null;
}

/**
 * Ops that unmap a file's pages from every mm that maps them, and so wait for every task: truncate
 * (simplified, see `waitsFor()`), khugepaged's collapse of a file range
 * (`collapse_file()`, `retract_page_tables()`), and an open for write of a file whose page cache
 * holds a THP (pwrite, a MAP_SHARED mmap: `do_dentry_open()` drops the page cache).
 */
function touchesEveryMm(m: Machine, op: Op): boolean {
  switch (op.kind) {
    case 'truncate':
      return true;
    case 'collapse':
      return vmaFileAt(m, asMm(op.mm), op.pmd * m.geometry.ptrsPerPte) !== null;
    case 'fileWrite':
      return fileHasThp(m, op.file);
    case 'mmapFile':
      return op.shared && fileHasThp(m, op.file);
    default:
      return false;
  }
}

interface LiveTask {
  readonly steps: KernelSteps<unknown>;
  /** Folio heads mapped in the task's range when it started: who else may see its window. */
  readonly folios: ReadonlySet<Pfn>;
  /**
   * The task's own allocation clock: the step that started it and how many folios it has
   * allocated. A task allocates in the name of the op that started it, so the same allocation
   * gets the same logical id in both kernels whichever later step runs it (the reference migrates
   * one folio at a time and allocates each destination when it gets there, the batched kernel
   * allocates them all in phase 1).
   */
  readonly clock: { readonly step: number; folios: number };
  /** A store's fault: the value the store writes when the task completes. */
  readonly value?: number;
  /** A load's fault: its note reports the value read when the task completes. */
  readonly load?: boolean;
  /** A migration: its note reports the folios moved when the task completes. */
  readonly migration?: boolean;
  /** What the path returned, once it has completed (fork's OpResult). */
  readonly done: { value: unknown };
}

/**
 * The preempted kernel tasks of one run (issue 11, docs/concurrency.md): the live iterators
 * (generators are not plain data, so they live here, not in the Machine) and the pending
 * `preempt`. The machine's `Cpu.task` describes each one.
 */
export class Tasks {
  private readonly live = new Map<number, LiveTask>();
  private pending: { readonly cpu: CpuId; readonly at: number } | null = null;
  private readonly waitedOnResume: TaskNote[] = [];

  constructor(
    private readonly kernel: ReferenceKernel,
    private readonly m: Machine,
  ) {}

  /** Any task in flight? */
  inFlight(): boolean {
    return this.live.size > 0;
  }

  /** How many tasks are in flight. */
  count(): number {
    return this.live.size;
  }

  /** Is a `preempt` waiting for the next op? */
  hasPending(): boolean {
    return this.pending !== null;
  }

  /** Take the `preempt` that applies to this op (every op consumes it, whatever it is). */
  takePending(): { readonly cpu: CpuId; readonly at: number } | null {
    const p = this.pending;
    this.pending = null;
    return p;
  }

  /** `preempt { cpu, at }`: the next op may run as a task on `cpu`. A no-op when `cpu` has a task. */
  preempt(op: Extract<Op, { kind: 'preempt' }>): OpResult {
    if (this.live.has(op.cpu)) return noop(`cpu${op.cpu} already has a task`);
    this.pending = { cpu: asCpu(op.cpu), at: op.at };
    return { kind: 'done' };
  }

  /** `resume { cpu, points }`. */
  resume(op: Extract<Op, { kind: 'resume' }>): { result: OpResult; notes: TaskNote[] } {
    if (!this.live.has(op.cpu)) return { result: noop(`cpu${op.cpu} has no task`), notes: [] };
    return { result: { kind: 'done' }, notes: [this.advance(asCpu(op.cpu), op.points, 'resume')] };
  }

  /**
   * Run `op` (a zap, mprotect, fork or GUP) as a task on `cpu`, stopping after `at` points; null when
   * it cannot be a task here. Returns the op's result as well: what the path returned when it
   * completed at once, else what it will return (fork: the child it already made).
   */
  start(op: Extract<Op, { kind: StartOp }>, cpu: CpuId, at: number): { note: TaskNote; result: OpResult } | null {
    if (this.live.has(cpu) || !canBeTask(this.kernel, op.kind)) return null;
    const mm = asMm(op.mm);
    const top = this.m.geometry.pmdsPerMm * this.m.geometry.ptrsPerPte;
    const ppt = this.m.geometry.ptrsPerPte;
    const r =
      op.kind === 'fork'
        ? { start: 0 as Vpn, end: top as Vpn }
        : op.kind === 'collapse'
          ? { start: (op.pmd * ppt) as Vpn, end: ((op.pmd + 1) * ppt) as Vpn }
          : this.kernel.clipRange(this.m, op.vpn, op.nr);
    const folios = new Set<Pfn>();
    for (let v = r.start; v < r.end; v++) {
      const p = entryPfn(this.m, mm, v);
      if (p !== null) folios.add(this.m.frames[p]?.head ?? p);
    }
    const done: { value: unknown } = { value: undefined };
    const steps = this.stepsOf(op, mm, r.start, r.end);
    this.live.set(cpu, { steps, folios, done, clock: { step: this.m.clock.step, folios: 0 } });
    const before = this.m.mms.length;
    // fork makes its child before its first point; the description names it from then on.
    const desc = (): Omit<KernelTaskView, 'point' | 'pointsPassed'> =>
      op.kind === 'fork'
        ? { op: 'fork', mm, start: r.start, end: r.end, ...(this.m.mms.length > before ? { child: asMm(this.m.mms.length - 1) } : {}) }
        : { op: op.kind, mm, start: r.start, end: r.end };
    const note = this.advance(cpu, at, 'start', desc);
    const result: OpResult =
      note.point === null
        ? op.kind === 'zap' || op.kind === 'mprotect'
          ? { kind: 'done' }
          : (done.value as OpResult) // fork's child, GUP's handle, madvise's result
        : op.kind === 'fork'
          ? { kind: 'forked', child: asMm(this.m.mms.length - 1) }
          : { kind: 'done' };
    return { note, result };
  }

  private stepsOf(op: Extract<Op, { kind: StartOp }>, mm: MmId, start: Vpn, end: Vpn): KernelSteps<unknown> {
    switch (op.kind) {
      case 'zap':
        return this.kernel.madviseDontneedSteps(this.m, mm, start, end);
      case 'madvise':
        return this.kernel.madviseSteps(this.m, mm, start, end, op.advice);
      case 'mprotect':
        return this.kernel.mprotectSteps(this.m, mm, start, end, op.writable);
      case 'fork':
        return this.kernel.dupMmapSteps(this.m, mm);
      case 'gup':
        return this.kernel.getUserPagesSteps(this.m, asCpu(op.cpu), mm, op.vpn as Vpn, op.nr, { pin: op.pin, write: op.write, fast: op.fast });
      case 'collapse':
        return this.kernel.collapseHugePageSteps(this.m, mm, op.pmd);
      default:
        return assertNever(op);
    }
  }

  /**
   * Run `op` as a migration task on `cpu`, stopping after `at` points; null when it cannot be a
   * task here. Simplified: only when no other task is in flight (a zap resumed over migration
   * entries, or a migration over a zap's cleared range, is not modelled).
   */
  startMigrate(op: Extract<Op, { kind: 'migrate' }>, cpu: CpuId, at: number): TaskNote | null {
    if (!migrateCanBeTask(this.kernel)) return null;
    const k = this.kernel;
    const m = this.m;
    // The count of moved folios is the task's value: the differential compares it with the
    // reference's when both have completed (src/run/differential.ts), as it compares a plain
    // migration's result.
    function* steps(): Generator<PreemptPoint, number, void> {
      return yield* k.migratePagesSteps(m, asMm(op.mm), op.vpn as Vpn, op.count);
    }
    return this.startFolioListTask('migrate', op, cpu, at, steps);
  }

  /**
   * Run `op` as a reclaim task on `cpu` (`shrink_folio_list()` stopping between folios), after
   * `at` points; null when it cannot be a task here. As a migration: only when no other task is
   * in flight, and the folios it isolated are its own. Reclaim takes no `mmap_lock` (its rmap
   * walks take each PTL in turn), so only what touches those folios waits for it (`waitFor()`),
   * and not a user access or MADV_DONTNEED: a fault finds the page mapped, or a swap entry whose
   * page was written out, and a zap drops either — with `flush_tlb_batched_pending()` for the
   * entries the batched kernel has not yet flushed.
   */
  startReclaim(op: Extract<Op, { kind: 'reclaim' }>, cpu: CpuId, at: number): TaskNote | null {
    if (!reclaimCanBeTask(this.kernel)) return null;
    return this.startFolioListTask('reclaim', op, cpu, at, () => this.kernel.reclaimFoliosSteps(this.m, asMm(op.mm), op.vpn as Vpn, op.count));
  }

  /**
   * Start a task that isolates the folios mapped from `op.vpn` on (`selectFoliosForMigration()`)
   * and walks their rmaps — a migration or a reclaim. Every page of those folios is the task's (a
   * split on the way turns pages into heads of their own): what touches one waits for it.
   * Simplified: only when no other task is in flight (a zap resumed over migration entries, or a
   * migration over a zap's cleared range, is not modelled).
   */
  private startFolioListTask(
    kind: 'migrate' | 'reclaim',
    op: { readonly mm: number; readonly vpn: number; readonly count: number },
    cpu: CpuId,
    at: number,
    steps: () => Generator<PreemptPoint, unknown, void>,
  ): TaskNote | null {
    if (this.live.size > 0) return null;
    const mm = asMm(op.mm);
    const folios = new Set<Pfn>();
    for (const head of this.kernel.selectFoliosForMigration(this.m, mm, op.vpn as Vpn, op.count)) {
      const nr = folioNrPages(folioAt(this.m, head).order);
      for (let k = 0; k < nr; k++) folios.add((head + k) as Pfn);
    }
    this.live.set(cpu, { steps: steps(), folios, clock: { step: this.m.clock.step, folios: 0 }, done: { value: undefined }, ...(kind === 'migrate' ? { migration: true } : {}) });
    const top = this.m.geometry.pmdsPerMm * this.m.geometry.ptrsPerPte;
    return this.advance(cpu, at, 'start', () => ({ op: kind, mm, start: op.vpn as Vpn, end: top as Vpn }));
  }

  /**
   * Run a user access as a task on `cpu` when its fault will go to `do_anonymous_page()` (TLB
   * miss, an empty PTE; for a store a writable VMA) — a load's too, whose note reports the value
   * it read when it completes — or a store's to `do_wp_page()` (no TLB entry the store may use, a present
   * read-only PTE, a writable VMA): the anonymous fault stops between reading the PTE and taking
   * the PTL; the COW fault between copying the page and retaking the PTL — if it reuses the page
   * instead it passes no point and completes at once. Null when it cannot be a task here (then it
   * runs whole). It holds `mmap_lock` for read (the fault path's `lock_mm_and_find_vma()`; the
   * per-VMA lock is not modelled), so mmap_lock writers wait for it. A COW task's old folio
   * counts as the task's: an op on another mm that maps it (a fork child) is a race.
   */
  startAccess(op: Extract<Op, { kind: 'access' }>, cpu: CpuId, at: number, value: number): TaskNote | null {
    if (this.live.has(cpu)) return null;
    const mm = asMm(op.mm);
    const v = op.vpn as Vpn;
    const c = this.m.cpus[op.cpu];
    if (c === undefined || !mmAt(this.m, mm).alive || (op.write && mmAt(this.m, mm).vmaWritable[v] !== true)) return null;
    const e = tlbLookupOnAccess(this.m, asCpu(op.cpu), mm, v);
    const folios = new Set<Pfn>();
    if (e === undefined && this.kernel.faultFindsPteNone(this.m, mm, v)) {
      if (!faultCanBeTask(this.kernel, 'anonymous')) return null;
    } else if (!op.write) {
      return null; // a load faults into a task only on an empty PTE (do_anonymous_page())
    } else {
      // accessThroughTlb(): only a writable, dirty entry lets a store through without a fault.
      const ro = e !== undefined && e.writable && e.dirty ? null : this.kernel.faultFindsPteReadOnly(this.m, mm, v);
      if (ro === null || !faultCanBeTask(this.kernel, 'cow')) return null;
      if (!isZeroPfn(this.m, ro.pfn)) folios.add(this.m.frames[ro.pfn]?.head ?? ro.pfn);
    }
    const k = this.kernel;
    const m = this.m;
    const steps = k.userAccessSteps(m, asCpu(op.cpu), mm, v, op.write, value);
    const what = op.write ? { value } : { load: true };
    this.live.set(cpu, { steps, folios, clock: { step: this.m.clock.step, folios: 0 }, ...what, done: { value: undefined } });
    return this.advance(cpu, at, 'start', () => ({ op: 'access', mm, start: v, end: (v + 1) as Vpn }));
  }

  /**
   * Complete the tasks `op` must wait for: every one for `drain`; the mm's mmap_lock readers (a
   * zap) for a writer; a migration for any op but a user access that touches its pages or folios —
   * it would meet a migration entry (fault, slow GUP, GUP-fast falling back to it) or need the
   * folio lock and wait. An access runs inside the window: a TLB hit needs no kernel, and a fault
   * waits in the kernel itself (`migrationEntryWait()`, `completeMigrations()`).
   * Simplified: in 6.12 fork copies a migration entry, a zap drops it and mprotect rewrites it
   * without waiting; here they wait too.
   */
  waitFor(op: Op | null): TaskNote[] {
    if (op === null || this.live.size === 0) return [];
    const notes: TaskNote[] = [];
    for (const c of this.m.cpus) {
      const t = c.task;
      const live = this.live.get(c.id);
      if (t === null || live === undefined) continue;
      if (op.kind === 'drain') notes.push(this.advance(c.id, Infinity, 'drain'));
      else if (t.op === 'migrate') {
        if (op.kind !== 'access' && this.touches(op, t, live.folios)) notes.push(this.advance(c.id, Infinity, 'wait'));
      } else if (t.op === 'reclaim') {
        if (op.kind !== 'access' && op.kind !== 'zap' && this.touches(op, t, live.folios)) notes.push(this.advance(c.id, Infinity, 'wait'));
      } else if (waitsFor(this.m, this.kernel, op, t, c.locks)) notes.push(this.advance(c.id, Infinity, 'wait'));
    }
    return notes;
  }

  /**
   * The runner's contract, checked before `op` runs whole: no task in flight holds the
   * `mmap_lock` of the op's mm in a mode that excludes the op's (`mmapModeOf()`). A task that
   * does should have been completed first (`waitFor()`): a model bug (`lock_conflict`). Locks the
   * op's own twin takes are checked as it takes them (locks.ts `lockAcquire()`), PTE and PMD
   * writes under another task's PTL by `setPte()`/`setPmd()`.
   */
  assertNoLockConflict(op: Op | null): void {
    if (op === null || this.m.locks.taskHeld === 0) return;
    const mm = mmOf(this.m, op);
    const mode = mmapModeOf(this.m, this.kernel, op);
    if (mm === null || mode === null) return;
    for (const c of this.m.cpus) {
      const l = mmapConflict(c.locks, mm, mode);
      if (l !== null) {
        throw new ModelViolationError({ code: 'lock_conflict', step: this.m.clock.step, cpu: null, holder: c.id, lock: describeLock(l), wants: `mmap_lock(mm${mm}, ${mode}) for ${op.kind}` });
      }
    }
  }

  /** A kernel path slept in `migration_entry_wait()`: complete every migration task in flight. */
  completeMigrations(): TaskNote[] {
    const notes: TaskNote[] = [];
    for (const c of this.m.cpus) {
      if (c.task !== null && c.task.op === 'migrate' && this.live.has(c.id)) notes.push(this.advance(c.id, Infinity, 'wait'));
    }
    return notes;
  }

  /**
   * Does `op` touch what an in-flight task's window covers — a page of its range, a folio it had
   * mapped there (shared with another mm by fork, held by a GUP handle, or a large folio that
   * reaches past the range), or its mm as a whole (migrate)? Such an op is a race:
   * its outcome may legitimately depend on the interleaving, so the differential comparison
   * stops for the rest of the run (docs/concurrency.md).
   */
  conflicts(op: Op | null): boolean {
    if (op === null || this.live.size === 0) return false;
    for (const c of this.m.cpus) {
      const t = c.task;
      const live = this.live.get(c.id);
      if (t === null || live === undefined) continue;
      if (this.touches(op, t, live.folios)) return true;
    }
    return false;
  }

  private touches(op: Op, t: KernelTaskView, folios: ReadonlySet<Pfn>): boolean {
    const ppt = this.m.geometry.ptrsPerPte;
    const top = this.m.geometry.pmdsPerMm * ppt;
    // The pages an op on the task's own mm works on, when it names them; null: the whole mm.
    const pagesOf = (o: Op): readonly [number, number] | null => {
      switch (o.kind) {
        case 'access':
        case 'walkBegin':
          return [o.vpn, o.vpn + 1];
        case 'zap':
        case 'gup':
        case 'populate':
          return [o.vpn, o.vpn + o.nr];
        case 'map':
          // A whole folio-aligned slot is allocated; a generous bound is enough here.
          return [o.vpn - (o.vpn % ppt), o.vpn - (o.vpn % ppt) + ppt];
        case 'freeTable':
        case 'collapse':
          return [o.pmd * ppt, (o.pmd + 1) * ppt];
        default:
          return null;
      }
    };
    const mapsTaskFolio = (mm: MmId, lo = 0, hi = top): boolean => {
      if (mm === t.mm && lo < t.end && hi > t.start) return true;
      if (!mmAt(this.m, mm).alive) return false;
      for (let v = Math.max(0, lo); v < Math.min(top, hi); v++) {
        const p = entryPfn(this.m, mm, v);
        if (p !== null && folios.has(this.m.frames[p]?.head ?? p)) return true;
      }
      return false;
    };
    const handleTouches = (id: number): boolean => {
      const h = this.m.handles.find((x) => x.id === id);
      return h !== undefined && (h.mm === t.mm || h.pages.some((p) => folios.has(this.m.frames[p.pfn]?.head ?? p.pfn)));
    };
    if (touchesEveryMm(this.m, op)) return true; // it waits for every task (waitsFor())
    switch (op.kind) {
      case 'tick':
      case 'nowaitFail':
      case 'drain':
      case 'memHole':
      case 'allocPolicy':
      case 'preempt':
      case 'resume':
        return false;
      case 'unpin':
      case 'gupRead':
      case 'gupWrite':
        return handleTouches(op.handle);
      case 'truncate':
        return true; // touchesEveryMm() above (listed for the union's narrowing)
      case 'writeback':
      case 'fileRead':
      case 'fileWrite':
        // The file's folios: writeback write-protects their mappings in every mm.
        return [...folios].some((head) => this.m.frames[head]?.folio?.mapping?.file === op.file);
      case 'walkEnd': {
        const c = this.m.cpus[op.cpu];
        const w = c?.finishedWalk?.walk ?? c?.walker ?? null;
        return w !== null && mapsTaskFolio(w.mm);
      }
      default: {
        const mm = asMm(op.mm);
        if (mm !== t.mm) return mapsTaskFolio(mm);
        // On the task's mm: its range, or a folio it had mapped there (a large folio reaches out).
        const pages = pagesOf(op);
        return pages === null || mapsTaskFolio(mm, pages[0], pages[1]);
      }
    }
  }

  /**
   * One `next()` of a task with the allocation clock set to the task's own (`LiveTask.clock`); a
   * violation it raises names the step that is running, not the one that started the task.
   */
  private stepOnOwnClock(live: LiveTask, cpu: CpuId): IteratorResult<PreemptPoint, unknown> {
    const clock = this.m.clock;
    const saved = { step: clock.step, folios: clock.folios };
    clock.step = live.clock.step;
    clock.folios = live.clock.folios;
    // The code that runs now is the task's: the locks it takes are its CPU's (locks.ts).
    const locks = this.m.locks;
    const outer = locks.running;
    locks.running = cpu;
    try {
      return live.steps.next();
    } catch (e) {
      if (e instanceof ModelViolationError) throw new ModelViolationError({ ...e.violation, step: saved.step });
      throw e;
    } finally {
      locks.running = outer;
      live.clock.folios = clock.folios;
      clock.step = saved.step;
      clock.folios = saved.folios;
    }
  }

  /**
   * After a step of the task on `c`: stopped at a point, it may hold no spinlock unless the point
   * declares it (`POINTS_UNDER_PTL`); completed, it must hold nothing.
   */
  private checkLocksAt(c: Machine['cpus'][number], point: PreemptPoint | null): void {
    if (c.locks.length === 0) return;
    if (point === null) {
      const lock = c.locks.map(describeLock).join(', ');
      this.m.locks.taskHeld -= c.locks.length;
      c.locks.length = 0;
      throw new ModelViolationError({ code: 'lock_imbalance', step: this.m.clock.step, cpu: c.id, lock, detail: 'the task completed holding it' });
    }
    if (POINTS_UNDER_PTL.has(point)) return;
    const spin = c.locks.find(isSpinlock);
    if (spin !== undefined) throw new ModelViolationError({ code: 'preempt_under_spinlock', step: this.m.clock.step, cpu: c.id, point, lock: describeLock(spin) });
  }

  /**
   * The task on `cpu` is about to take `mmap_lock` of `mm` for write, holding none: in the kernel
   * it sleeps until the holders are gone, so every other task holding that lock completes first.
   * Their notes wait in `waitedOnResume` for the step's record (`takeWaitedOnResume()`).
   */
  private completeMmapHolders(cpu: CpuId, mm: MmId): void {
    for (const d of this.m.cpus) {
      if (d.id === cpu || d.task === null || !this.live.has(d.id) || mmapConflict(d.locks, mm, 'write') === null) continue;
      this.waitedOnResume.push(this.advance(d.id, Infinity, 'wait'));
    }
  }

  /** The task on `cpu` is about to work on every mm (`RESUMES_ACROSS_MMS`): every other task completes first. */
  private completeOthers(cpu: CpuId): void {
    for (const d of this.m.cpus) {
      if (d.id === cpu || d.task === null || !this.live.has(d.id)) continue;
      this.waitedOnResume.push(this.advance(d.id, Infinity, 'wait'));
    }
  }

  /** The notes of tasks completed because a resumed task waited for them (once each). */
  takeWaitedOnResume(): TaskNote[] {
    return this.waitedOnResume.splice(0);
  }

  /** Pass up to `n` more points of the task on `cpu`; it completes when its path ends. */
  private advance(cpu: CpuId, n: number, how: TaskNote['how'], fresh?: () => Omit<KernelTaskView, 'point' | 'pointsPassed'>): TaskNote {
    const live = this.live.get(cpu);
    const c = this.m.cpus[cpu];
    if (live === undefined || c === undefined) throw new Error(`no task on cpu${cpu}`);
    let desc: Omit<KernelTaskView, 'point' | 'pointsPassed'> | null = c.task;
    let passed = c.task?.pointsPassed ?? 0;
    const noteOf = (point: PreemptPoint | null): TaskNote => {
      const d = desc ?? fresh?.();
      if (d === undefined) throw new Error(`task on cpu${cpu} has no description`);
      return { op: d.op, cpu, how, mm: d.mm, start: d.start, end: d.end, point, pointsPassed: passed, ...valueOf(live), ...(point === null ? { ...readOf(live), ...migratedOf(live) } : {}) };
    };
    for (let k = 0; k < n; k++) {
      if (c.task !== null && RETAKES_MMAP_WRITE.has(c.task.point)) this.completeMmapHolders(cpu, c.task.mm);
      if (c.task !== null && RESUMES_ACROSS_MMS.has(c.task.point)) this.completeOthers(cpu);
      const r = this.stepOnOwnClock(live, cpu);
      if (r.done === true) {
        live.done.value = r.value;
        this.live.delete(cpu);
        c.task = null;
        this.checkLocksAt(c, null);
        return noteOf(null);
      }
      this.checkLocksAt(c, r.value);
      passed++;
      desc = desc ?? fresh?.() ?? null;
      if (desc === null) throw new Error(`task on cpu${cpu} has no description`);
      c.task = { ...desc, point: r.value, pointsPassed: passed };
    }
    return noteOf(c.task?.point ?? null);
  }
}
