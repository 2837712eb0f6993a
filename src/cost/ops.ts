import type { Op } from '../ops/op';

/**
 * Op constructors for the cost workloads. Targets are the op vocabulary's small integers: `mm`
 * indexes the live mms in id order (so after an exit the later mms shift down), `handle` the live
 * GUP handles.
 */

type OpOf<K extends Op['kind']> = Extract<Op, { kind: K }>;

export const costOp = {
  /** A whole folio of `order` at `vpn`, PTE-mapped. */
  mapPtes: (mm: number, vpn: number, order: number): OpOf<'map'> => ({ kind: 'map', mm, vpn, order, pmd: false, first: 0, count: 1 << order }),
  /** A PMD-sized folio at `vpn`, PMD-mapped. */
  mapPmd: (mm: number, vpn: number, order: number): OpOf<'map'> => ({ kind: 'map', mm, vpn, order, pmd: true, first: 0, count: 1 << order }),
  read: (cpu: number, mm: number, vpn: number): OpOf<'access'> => ({ kind: 'access', cpu, mm, vpn, write: false }),
  write: (cpu: number, mm: number, vpn: number): OpOf<'access'> => ({ kind: 'access', cpu, mm, vpn, write: true }),
  fork: (mm: number): OpOf<'fork'> => ({ kind: 'fork', mm }),
  zap: (mm: number, vpn: number, nr: number): OpOf<'zap'> => ({ kind: 'zap', mm, vpn, nr }),
  exit: (mm: number): OpOf<'exit'> => ({ kind: 'exit', mm }),
  migrate: (mm: number, vpn: number, count: number): OpOf<'migrate'> => ({ kind: 'migrate', mm, vpn, count }),
  reclaim: (mm: number, vpn: number, count: number): OpOf<'reclaim'> => ({ kind: 'reclaim', mm, vpn, count }),
  freeTable: (mm: number, pmd: number): OpOf<'freeTable'> => ({ kind: 'freeTable', mm, pmd }),
  gupFast: (cpu: number, mm: number, vpn: number, nr: number, pin: boolean, write: boolean): OpOf<'gup'> => ({ kind: 'gup', cpu, mm, vpn, nr, pin, write, fast: true }),
  tick: (): OpOf<'tick'> => ({ kind: 'tick' }),
  drain: (): OpOf<'drain'> => ({ kind: 'drain' }),
} as const;

/** Every CPU reads `vpn` of `mm`, so each TLB holds the translation and the mm's cpumask is full. */
export function touchFromEveryCpu(nrCpus: number, mm: number, vpns: readonly number[]): Op[] {
  const out: Op[] = [];
  for (let cpu = 0; cpu < nrCpus; cpu++) for (const v of vpns) out.push(costOp.read(cpu, mm, v));
  return out;
}

/** `count` addresses spread evenly over [start, start + span). */
export function spread(start: number, span: number, count: number): number[] {
  const n = Math.max(1, Math.min(count, span));
  return Array.from({ length: n }, (_, i) => start + Math.floor((i * span) / n));
}
