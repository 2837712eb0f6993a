import type { Op } from '../../src/ops/op';

/**
 * Op constructors for hand-written scenarios. Targets are the small integers of the op
 * vocabulary: `mm` indexes the live mms in id order, `handle` the live GUP handles in creation
 * order (see src/ops/resolve.ts).
 */

type OpOf<K extends Op['kind']> = Extract<Op, { kind: K }>;

export interface MapOpts {
  readonly pmd?: boolean;
  readonly first?: number;
  /** Pages to PTE-map from `first`; defaults to the whole folio. */
  readonly count?: number;
}

export interface GupOpts {
  readonly pin: boolean;
  readonly write: boolean;
  readonly fast: boolean;
}

export const op = {
  map: (mm: number, vpn: number, order: number, o: MapOpts = {}): OpOf<'map'> => ({
    kind: 'map',
    mm,
    vpn,
    order,
    pmd: o.pmd ?? false,
    first: o.first ?? 0,
    count: o.count ?? 1 << order,
  }),
  read: (cpu: number, mm: number, vpn: number): OpOf<'access'> => ({ kind: 'access', cpu, mm, vpn, write: false }),
  write: (cpu: number, mm: number, vpn: number): OpOf<'access'> => ({ kind: 'access', cpu, mm, vpn, write: true }),
  fork: (mm: number): OpOf<'fork'> => ({ kind: 'fork', mm }),
  zap: (mm: number, vpn: number, nr: number): OpOf<'zap'> => ({ kind: 'zap', mm, vpn, nr }),
  exit: (mm: number): OpOf<'exit'> => ({ kind: 'exit', mm }),
  mprotect: (mm: number, vpn: number, nr: number, writable: boolean): OpOf<'mprotect'> => ({ kind: 'mprotect', mm, vpn, nr, writable }),
  mremap: (mm: number, from: number, to: number, nr: number): OpOf<'mremap'> => ({ kind: 'mremap', mm, from, to, nr }),
  migrate: (mm: number, vpn: number, count: number): OpOf<'migrate'> => ({ kind: 'migrate', mm, vpn, count }),
  freeTable: (mm: number, pmd: number): OpOf<'freeTable'> => ({ kind: 'freeTable', mm, pmd }),
  reclaim: (mm: number, vpn: number, count: number): OpOf<'reclaim'> => ({ kind: 'reclaim', mm, vpn, count }),
  madvise: (mm: number, vpn: number, nr: number, advice: OpOf<'madvise'>['advice']): OpOf<'madvise'> => ({ kind: 'madvise', mm, vpn, nr, advice }),
  gup: (cpu: number, mm: number, vpn: number, nr: number, f: GupOpts): OpOf<'gup'> => ({ kind: 'gup', cpu, mm, vpn, nr, ...f }),
  unpin: (handle: number): OpOf<'unpin'> => ({ kind: 'unpin', handle }),
  gupRead: (handle: number, index: number): OpOf<'gupRead'> => ({ kind: 'gupRead', handle, index }),
  gupWrite: (handle: number, index: number): OpOf<'gupWrite'> => ({ kind: 'gupWrite', handle, index }),
  walkBegin: (cpu: number, mm: number, vpn: number, walker: 'gupFast' | 'pteOffsetMap', pin = false, write = false): OpOf<'walkBegin'> => ({
    kind: 'walkBegin',
    cpu,
    mm,
    vpn,
    walker,
    pin,
    write,
  }),
  walkEnd: (cpu: number): OpOf<'walkEnd'> => ({ kind: 'walkEnd', cpu }),
  tick: (): OpOf<'tick'> => ({ kind: 'tick' }),
  nowaitFail: (nr: number): OpOf<'nowaitFail'> => ({ kind: 'nowaitFail', nr }),
  drain: (): OpOf<'drain'> => ({ kind: 'drain' }),
} as const;

export const PIN_RO: GupOpts = { pin: true, write: false, fast: false };
export const PIN_RO_FAST: GupOpts = { pin: true, write: false, fast: true };
export const PIN_RW: GupOpts = { pin: true, write: true, fast: false };
export const GET_RO: GupOpts = { pin: false, write: false, fast: false };
