import type { MmId, Pfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { mmNrPages } from '../../models/machine/geometry';
import { folioHead, folioAt } from '../../models/machine/frames';
import { mmAt, pmdAt } from '../../models/machine/pgtable';
import type { OpResult } from '../../models/result';
import { assertNever } from '../../models/assertNever';
import type { Op } from '../ops/op';
import type { CCall } from './cCall';
import { mappedPfns } from './pageAt';

/** What the translation needs of the state before the op ran. */
export interface BeforeOp {
  /** mappedPfns() of the op's mm, for map and populate (which folios are new). */
  readonly mapped: readonly (Pfn | null)[] | null;
}

/** Capture what toCalls() needs, before the op is applied. */
export function beforeOp(m: Machine, op: Op): BeforeOp {
  return { mapped: op.kind === 'map' || op.kind === 'populate' ? mappedPfns(m, op.mm as MmId) : null };
}

/**
 * The C calls that do on the real kernel what the (resolved) op did in the model, read from the
 * op, its result and the state after it. A model no-op has none: the program skips it too.
 */
export function toCalls(m: Machine, op: Op, result: OpResult, before: BeforeOp, value: number): CCall[] {
  if (result.kind === 'noop') return [];
  const clip = (vpn: number, nr: number): { vpn: number; nr: number } => {
    const top = mmNrPages(m.geometry);
    const s = Math.max(0, Math.min(vpn, top));
    return { vpn: s, nr: Math.max(0, Math.min(top, vpn + nr) - s) };
  };
  switch (op.kind) {
    case 'map':
    case 'populate':
      return newFolios(m, op.mm as MmId, before);
    case 'access':
      return [op.write ? { fn: 'store', cpu: op.cpu, mm: op.mm, vpn: op.vpn, value } : { fn: 'load', cpu: op.cpu, mm: op.mm, vpn: op.vpn }];
    case 'fork':
      return result.kind === 'forked' ? [{ fn: 'fork', mm: op.mm, child: result.child }] : [];
    case 'exit':
      return [{ fn: 'exit', mm: op.mm }];
    case 'zap': {
      const r = clip(op.vpn, op.nr);
      return r.nr === 0 ? [] : [{ fn: 'dontneed', mm: op.mm, ...r }];
    }
    case 'mprotect': {
      const r = clip(op.vpn, op.nr);
      return r.nr === 0 ? [] : [{ fn: 'mprotect', mm: op.mm, ...r, writable: op.writable ? 1 : 0 }];
    }
    case 'mremap':
      return [{ fn: 'mremap', mm: op.mm, from: op.from, to: op.to, nr: op.nr }, ...refills(m, op.mm as MmId, op.from, op.nr)];
    case 'gup': {
      if (result.kind !== 'handle' && result.kind !== 'gupFailed') return [];
      const r = clip(op.vpn, op.nr);
      // The handle id the model gave (or would have given: a failed GUP makes none, and the
      // runtime then holds nothing under the id either).
      const handle = result.kind === 'handle' ? result.handle : m.nextHandleId;
      return [{ fn: op.pin ? 'pin' : 'get', mm: op.mm, handle, ...r }];
    }
    case 'unpin':
      return [{ fn: 'unpin', handle: op.handle }];
    case 'gupRead':
      return [{ fn: 'devread', handle: op.handle, index: op.index }];
    case 'gupWrite':
      return [{ fn: 'devwrite', handle: op.handle, index: op.index, value }];
    case 'mmapFile':
      return [{ fn: 'mmapfile', mm: op.mm, vpn: op.vpn, nr: op.nr, file: op.file, pgoff: op.pgoff, shared: op.shared ? 1 : 0 }];
    case 'writeback':
      return [{ fn: 'fsync', file: op.file }];
    case 'truncate':
      return [{ fn: 'truncate', file: op.file, from: op.from }];
    case 'fileRead':
      return [{ fn: 'pread', file: op.file, index: op.index }];
    case 'fileWrite':
      return [{ fn: 'pwrite', file: op.file, index: op.index, value }];
    case 'migrate':
    case 'reclaim':
    case 'madvise':
    case 'freeTable':
    case 'collapse':
    case 'walkBegin':
    case 'walkEnd':
    case 'tick':
    case 'nowaitFail':
    case 'drain':
    case 'preempt':
    case 'resume':
      return [];
    case 'memHole':
    case 'allocPolicy':
      // planOp() leaves them out of every program (no user-level counterpart): never translated.
      throw new Error(`${op.kind} has no user-level counterpart: planOp() leaves it out`);
    default:
      return assertNever(op);
  }
}

/** After mremap the source range has no VMA; the model's stays, with its protection: map it again. */
function refills(m: Machine, mm: MmId, from: number, nr: number): CCall[] {
  const writable = mmAt(m, mm).vmaWritable;
  const calls: CCall[] = [];
  for (let v = from; v < from + nr; ) {
    const w = writable[v] === true;
    let end = v + 1;
    while (end < from + nr && (writable[end] === true) === w) end++;
    calls.push({ fn: 'refill', mm, vpn: v, nr: end - v, writable: w ? 1 : 0 });
    v = end;
  }
  return calls;
}

/** One `map` call per folio the op newly mapped in the mm: its aligned base, order, and mapped run. */
function newFolios(m: Machine, mm: MmId, before: BeforeOp): CCall[] {
  const after = mappedPfns(m, mm);
  const seen = new Map<Pfn, { base: number; order: number; pmd: boolean; lo: number; hi: number }>();
  after.forEach((p, v) => {
    if (p === null || p === before.mapped?.[v]) return;
    const head = folioHead(m, p);
    const f = folioAt(m, head);
    const idx = p - head;
    const e = seen.get(head);
    if (e === undefined) {
      const pmd = pmdAt(m, mm, Math.floor(v / m.geometry.ptrsPerPte)).kind === 'leaf';
      seen.set(head, { base: v - idx, order: f.order, pmd, lo: idx, hi: idx });
    } else {
      e.lo = Math.min(e.lo, idx);
      e.hi = Math.max(e.hi, idx);
    }
  });
  return [...seen.values()].map((e) => ({ fn: 'map', mm, base: e.base, order: e.order, pmd: e.pmd ? 1 : 0, first: e.pmd ? 0 : e.lo, count: e.pmd ? 1 << e.order : e.hi - e.lo + 1 }));
}
