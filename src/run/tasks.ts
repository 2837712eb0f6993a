import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { CpuId, MmId, Pfn, Vpn } from '../../models/machine/ids';
import { cpuId as asCpu, mmId as asMm } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import type { KernelSteps, KernelTaskView, PreemptPoint, TaskOp } from '../../models/machine/tasks';
import { tlbLookup } from '../../models/machine/tlb';
import { assertNever } from '../../models/assertNever';
import { mmAt, pmdAt, tableEntries } from '../../models/machine/pgtable';
import { noop } from '../../models/result';
import type { OpResult } from '../../models/result';
import type { Op } from '../ops/op';

/**
 * What happened to a kernel task during one step, for the trace and the user-memory oracle:
 * it started (the op ran as a task), was resumed, or ran to completion because the op needed
 * what it holds (`wait`: an mmap_lock writer; `drain`). `point` is where it stopped, null when it
 * completed.
 */
export interface TaskNote {
  /** Absent for a zap (the first window's notes are unchanged). */
  readonly op?: Exclude<TaskOp, 'zap'>;
  readonly cpu: CpuId;
  readonly how: 'start' | 'resume' | 'wait' | 'drain';
  readonly mm: MmId;
  readonly start: Vpn;
  readonly end: Vpn;
  readonly point: PreemptPoint | null;
  readonly pointsPassed: number;
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
};

/** The prototype on `obj`'s chain that defines `name` itself. */
function ownerOf(obj: object, name: string): object | null {
  for (let p: object | null = Object.getPrototypeOf(obj) as object | null; p !== null; p = Object.getPrototypeOf(p) as object | null) {
    if (Object.prototype.hasOwnProperty.call(p, name)) return p;
  }
  return null;
}

/** May this kernel's zap run as a task without bypassing one of its overrides? */
export function zapCanBeTask(k: ReferenceKernel): boolean {
  return canBeTask(k, 'zap');
}

/** The task an op would be, if it is of a kind with preemption points. */
export function taskOpOf(op: Op): TaskOp | null {
  switch (op.kind) {
    case 'zap':
    case 'mprotect':
    case 'fork':
      return op.kind;
    default:
      return null;
  }
}

/** May this kernel's `op` run as a task without bypassing one of its overrides? */
export function canBeTask(k: ReferenceKernel, op: TaskOp): boolean {
  for (const [steps, plains] of STEP_TWINS[op]) {
    const so = ownerOf(k, steps);
    if (so === null) continue;
    for (const plain of plains) {
      const po = ownerOf(k, plain);
      if (po !== null && po !== so && Object.prototype.isPrototypeOf.call(so, po)) return false;
    }
  }
  return true;
}

/** Ops that take `mmap_lock` for write on their mm and so wait for its preempted readers. */
const TAKES_MMAP_WRITE: ReadonlySet<Op['kind']> = new Set(['fork', 'mremap', 'mprotect', 'exit']);

/** The frame `v` of `mm` maps, or null. */
function mappedPfn(m: Machine, mm: MmId, v: number): Pfn | null {
  const ppt = m.geometry.ptrsPerPte;
  const pmd = pmdAt(m, mm, Math.floor(v / ppt));
  if (pmd.kind === 'leaf') return (pmd.pfn + (v % ppt)) as Pfn;
  if (pmd.kind !== 'table') return null;
  const e = tableEntries(m, pmd.table)[v % ppt];
  return e !== undefined && e.kind === 'present' ? e.pfn : null;
}

/**
 * Ops that run inside the window of a task holding `mmap_lock` for write (mprotect, fork): they
 * take no lock the task holds. A user access that hits the CPU's TLB (the hardware needs no lock;
 * one that would miss may fault, and so waits — a deliberate simplification: a hardware walk
 * of a present PTE needs no lock either), GUP-fast beginning its walk on the task's mm (IRQs off,
 * no lock; never on a fork's child, which no thread runs in yet), a GUP-fast walk ending when it
 * keeps its page (ending with the slow-path fallback takes `mmap_lock`), a `pte_offset_map()`
 * reader leaving, and device accesses and unpins through handles.
 */
function locklessInWindow(m: Machine, k: ReferenceKernel, op: Op, t: KernelTaskView): boolean {
  switch (op.kind) {
    case 'access': {
      const e = tlbLookup(m, asCpu(op.cpu), asMm(op.mm), op.vpn as Vpn);
      return e !== undefined && (!op.write || (e.writable && e.dirty));
    }
    case 'walkBegin':
      return op.walker === 'gupFast' && op.mm === t.mm;
    case 'walkEnd': {
      const c = m.cpus[op.cpu];
      if (c === undefined) return true;
      if (c.finishedWalk !== null) return c.finishedWalk.recheckPassed;
      const w = c.walker;
      return w === null || w.kind !== 'gupFast' || k.gupFastRecheckAll(m, w);
    }
    case 'gupRead':
    case 'gupWrite':
    case 'unpin':
    case 'tick':
    case 'nowaitFail':
    case 'preempt':
    case 'resume':
      return true;
    default:
      return false;
  }
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

/**
 * Must `op` wait for the in-flight task `t` (the runner then completes the task first)? A zap
 * holds `mmap_lock` for read: the mm's writers wait. mprotect and fork hold it for write: every
 * op on the mm (and on fork's child) waits but the lockless ones; migration waits for a fork
 * of any mm (simplified: its rmap walk may meet the folios fork is sharing, which the model does
 * not let interleave).
 */
function waitsFor(m: Machine, k: ReferenceKernel, op: Op, t: KernelTaskView): boolean {
  switch (t.op) {
    case 'zap':
      return TAKES_MMAP_WRITE.has(op.kind) && 'mm' in op && op.mm === t.mm;
    case 'mprotect':
    case 'fork': {
      if (t.op === 'fork' && op.kind === 'migrate') return true;
      const mm = mmOf(m, op);
      if (mm === null || (mm !== t.mm && mm !== t.child)) return false;
      return mm === t.child || !locklessInWindow(m, k, op, t);
    }
    default:
      return assertNever(t.op);
  }
}

interface LiveTask {
  readonly steps: KernelSteps<unknown>;
  /** Folio heads mapped in the task's range when it started: who else may see its window. */
  readonly folios: ReadonlySet<Pfn>;
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

  constructor(
    private readonly kernel: ReferenceKernel,
    private readonly m: Machine,
  ) {}

  /** Any task in flight? */
  inFlight(): boolean {
    return this.live.size > 0;
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
   * Run `op` (a zap, mprotect or fork) as a task on `cpu`, stopping after `at` points; null when
   * it cannot be a task here. Returns the op's result as well: what the path returned when it
   * completed at once, else what it will return (fork: the child it already made).
   */
  start(op: Extract<Op, { kind: TaskOp }>, cpu: CpuId, at: number): { note: TaskNote; result: OpResult } | null {
    if (this.live.has(cpu) || !canBeTask(this.kernel, op.kind)) return null;
    const mm = asMm(op.mm);
    const top = this.m.geometry.pmdsPerMm * this.m.geometry.ptrsPerPte;
    const r = op.kind === 'fork' ? { start: 0 as Vpn, end: top as Vpn } : this.kernel.clipRange(this.m, op.vpn, op.nr);
    const folios = new Set<Pfn>();
    for (let v = r.start; v < r.end; v++) {
      const p = mappedPfn(this.m, mm, v);
      if (p !== null) folios.add(this.m.frames[p]?.head ?? p);
    }
    const done: { value: unknown } = { value: undefined };
    const steps = this.stepsOf(op, mm, r.start, r.end);
    this.live.set(cpu, { steps, folios, done });
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
          : (done.value as OpResult)
        : op.kind === 'fork'
          ? { kind: 'forked', child: asMm(this.m.mms.length - 1) }
          : { kind: 'done' };
    return { note, result };
  }

  private stepsOf(op: Extract<Op, { kind: TaskOp }>, mm: MmId, start: Vpn, end: Vpn): KernelSteps<unknown> {
    switch (op.kind) {
      case 'zap':
        return this.kernel.madviseDontneedSteps(this.m, mm, start, end);
      case 'mprotect':
        return this.kernel.mprotectSteps(this.m, mm, start, end, op.writable);
      case 'fork':
        return this.kernel.dupMmapSteps(this.m, mm);
      default:
        return assertNever(op);
    }
  }

  /** Complete the tasks `op` must wait for: every one for `drain`, the mm's mmap_lock readers for a writer. */
  waitFor(op: Op | null): TaskNote[] {
    if (op === null || this.live.size === 0) return [];
    const notes: TaskNote[] = [];
    for (const c of this.m.cpus) {
      const t = c.task;
      if (t === null || !this.live.has(c.id)) continue;
      if (op.kind === 'drain') notes.push(this.advance(c.id, Infinity, 'drain'));
      else if (waitsFor(this.m, this.kernel, op, t)) notes.push(this.advance(c.id, Infinity, 'wait'));
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
          return [o.pmd * ppt, (o.pmd + 1) * ppt];
        default:
          return null;
      }
    };
    const mapsTaskFolio = (mm: MmId, lo = 0, hi = top): boolean => {
      if (mm === t.mm && lo < t.end && hi > t.start) return true;
      if (!mmAt(this.m, mm).alive) return false;
      for (let v = Math.max(0, lo); v < Math.min(top, hi); v++) {
        const p = mappedPfn(this.m, mm, v);
        if (p !== null && folios.has(this.m.frames[p]?.head ?? p)) return true;
      }
      return false;
    };
    const handleTouches = (id: number): boolean => {
      const h = this.m.handles.find((x) => x.id === id);
      return h !== undefined && (h.mm === t.mm || h.pages.some((p) => folios.has(this.m.frames[p.pfn]?.head ?? p.pfn)));
    };
    switch (op.kind) {
      case 'tick':
      case 'nowaitFail':
      case 'drain':
      case 'preempt':
      case 'resume':
        return false;
      case 'unpin':
      case 'gupRead':
      case 'gupWrite':
        return handleTouches(op.handle);
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
      return { ...(d.op === 'zap' ? {} : { op: d.op }), cpu, how, mm: d.mm, start: d.start, end: d.end, point, pointsPassed: passed };
    };
    for (let k = 0; k < n; k++) {
      const r = live.steps.next();
      if (r.done === true) {
        live.done.value = r.value;
        this.live.delete(cpu);
        c.task = null;
        return noteOf(null);
      }
      passed++;
      desc = desc ?? fresh?.() ?? null;
      if (desc === null) throw new Error(`task on cpu${cpu} has no description`);
      c.task = { ...desc, point: r.value, pointsPassed: passed };
    }
    return noteOf(c.task?.point ?? null);
  }
}
