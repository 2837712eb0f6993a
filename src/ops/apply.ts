import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { Machine } from '../../models/machine/state';
import type { CpuId, HandleId, MmId, Vpn } from '../../models/machine/ids';
import { dmaAccess } from '../../models/machine/dma';
import type { AllocPolicy, AllocPolicyName } from '../../models/machine/physMem';
import { offlineFreeFrames } from '../../models/machine/physMem';
import type { OpResult } from '../../models/result';
import { noop } from '../../models/result';
import { assertNever } from '../../models/assertNever';
import type { Op } from './op';
import type { Resolution } from './resolve';
import { resolveOp } from './resolve';
import type { TaskNote } from '../run/tasks';

export interface Applied {
  /** The op with its targets resolved, or null when it could not apply. */
  readonly resolved: Op | null;
  readonly result: OpResult;
  /** The value a store or a device write put in memory. */
  readonly value: number;
  /**
   * What happened to preempted kernel tasks during this step (absent when nothing did, so a
   * run without schedule ops records exactly what it did before tasks existed).
   */
  readonly tasks?: readonly TaskNote[];
}

/**
 * The value the op at `step` stores: unique per step and never 0 (the content of a new page),
 * so any read of a stale or leaked page returns a value that can be told apart.
 */
export const storeValue = (step: number): number => step + 1;

/**
 * Apply one op to a kernel: resolve it, set the logical allocation clock, call the entry point.
 * `resolved`: what resolveOp(m, op) returned on this very state, when the caller has it already
 * (the checked runner resolves each op once, before it runs; resolution reads the state only).
 */
export function applyOp(k: ReferenceKernel, m: Machine, op: Op, step: number, retry = false, resolved: Resolution | null = null): Applied {
  m.clock.step = step;
  // The op's own atomic context starts holding nothing (a lock left by an op that threw is gone).
  m.locks.atomic.length = 0;
  // A retried op (after waiting for a migration task inside this step) keeps allocating after
  // what the step has allocated so far, so logical ids stay unique.
  if (!retry) m.clock.folios = 0;
  const value = storeValue(step);
  const r = resolved ?? resolveOp(m, op);
  if ('skip' in r) return { resolved: null, result: noop(r.skip), value };
  return { resolved: r, result: dispatch(k, m, r, value), value };
}

/**
 * Apply an op whose targets are already resolved (concrete mm and handle ids, as `Applied.resolved`
 * holds them) at logical step `step`: the serialisability oracle replays a window's ops in another
 * order, where resolving the written op again could pick other targets (src/oracles/serialisable.ts).
 */
export function applyResolved(k: ReferenceKernel, m: Machine, op: Op, step: number, folios = 0): OpResult {
  m.clock.step = step;
  // A task's op cut in pieces allocates on one count across them (`folios`: what its earlier pieces allocated).
  m.clock.folios = folios;
  return dispatch(k, m, op, storeValue(step));
}

function dispatch(k: ReferenceKernel, m: Machine, op: Op, value: number): OpResult {
  const mm = (x: number): MmId => x as MmId;
  const v = (x: number): Vpn => x as Vpn;
  const cpu = (x: number): CpuId => x as CpuId;
  switch (op.kind) {
    case 'map':
      return k.mapAnonFolio(m, mm(op.mm), v(op.vpn), op.order, op.pmd, op.first, op.count);
    case 'populate': {
      const r = k.clipRange(m, op.vpn, op.nr);
      return k.populateRange(m, mm(op.mm), r.start, r.end, op.order);
    }
    case 'access':
      return k.userAccess(m, cpu(op.cpu), mm(op.mm), v(op.vpn), op.write, value);
    case 'fork':
      return k.dupMmap(m, mm(op.mm));
    case 'zap': {
      const r = k.clipRange(m, op.vpn, op.nr);
      k.zapPageRange(m, mm(op.mm), r.start, r.end);
      return { kind: 'done' };
    }
    case 'exit':
      return k.exitMm(m, mm(op.mm));
    case 'mprotect': {
      const r = k.clipRange(m, op.vpn, op.nr);
      k.doMprotectPkey(m, mm(op.mm), r.start, r.end, op.writable);
      return { kind: 'done' };
    }
    case 'mremap':
      return k.movePageTables(m, mm(op.mm), v(op.from), v(op.to), op.nr);
    case 'migrate':
      return k.migratePages(m, mm(op.mm), v(op.vpn), op.count);
    case 'reclaim':
      return k.reclaimFolios(m, mm(op.mm), v(op.vpn), op.count);
    case 'madvise': {
      const r = k.clipRange(m, op.vpn, op.nr);
      return k.madvise(m, mm(op.mm), r.start, r.end, op.advice);
    }
    case 'freeTable':
      return k.reclaimPteTable(m, mm(op.mm), op.pmd);
    case 'collapse':
      return k.collapseHugePage(m, mm(op.mm), op.pmd);
    case 'mmapFile':
      return k.mmapFile(m, mm(op.mm), v(op.vpn), v(op.vpn + op.nr), op.file, op.pgoff, op.shared);
    case 'writeback':
      return k.writebackFile(m, op.file);
    case 'truncate':
      return k.truncateFile(m, op.file, op.from);
    case 'fileRead':
      return k.fileRead(m, op.file, op.index);
    case 'fileWrite':
      return k.fileWrite(m, op.file, op.index, value);
    case 'gup':
      return k.getUserPages(m, cpu(op.cpu), mm(op.mm), v(op.vpn), op.nr, { pin: op.pin, write: op.write, fast: op.fast });
    case 'unpin':
      return k.unpinUserPages(m, op.handle as HandleId);
    case 'gupRead':
    case 'gupWrite': {
      const h = m.handles.find((x) => x.id === op.handle);
      if (h === undefined) return noop('no such handle');
      const write = op.kind === 'gupWrite';
      if (write && !(h.pin && h.write)) return noop('not a write pin');
      return { kind: 'value', value: dmaAccess(m, h, op.index, write, value) };
    }
    case 'walkBegin':
      return op.walker === 'gupFast'
        ? k.gupFastWalk(m, cpu(op.cpu), mm(op.mm), v(op.vpn), op.pin, op.write, op.stop ?? 'recheck')
        : k.pteOffsetMapWalk(m, cpu(op.cpu), mm(op.mm), v(op.vpn));
    case 'walkEnd':
      return k.finishWalker(m, cpu(op.cpu));
    case 'tick':
      return k.tick(m);
    case 'nowaitFail':
      // Fault injection, not a kernel function: every kernel sees the same failures.
      m.nowaitFailures = op.nr;
      return { kind: 'done' };
    case 'memHole':
      // Physical memory, not a kernel function: every kernel loses the same range (its free frames).
      offlineFreeFrames(m, op.pfn, op.nr);
      return { kind: 'done' };
    case 'allocPolicy':
      m.allocPolicy = allocPolicyOf(op.policy, op.pfn ?? 0);
      return { kind: 'done' };
    case 'drain':
      return k.drain(m);
    case 'preempt':
    case 'resume':
      // The schedule belongs to the runner (CheckedRun), which keeps the tasks' iterators: applied
      // on its own (a cost workload, a conform program) a schedule op changes nothing.
      return noop('schedule op outside a task runner');
    default:
      return assertNever(op);
  }
}

function allocPolicyOf(name: AllocPolicyName, pfn: number): AllocPolicy {
  switch (name) {
    case 'lowest-first':
    case 'highest-first':
      return { kind: name };
    case 'from':
      return { kind: 'from', pfn };
    default:
      return assertNever(name);
  }
}
