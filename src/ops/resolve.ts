import type { Machine } from '../../models/machine/state';
import { liveMms, mmVpnCount } from '../../models/machine/pgtable';
import { assertNever } from '../../models/assertNever';
import { fileNrPages, NR_FILES } from '../../models/machine/files';
import type { Op } from './op';

/** An op with concrete targets, or why it cannot apply. */
export type Resolution = Op | { readonly skip: string };

/**
 * Resolve an op's small-integer targets against the current state: `mm` indexes the live mms,
 * `handle` the live handles, cpu/vpn/pmd wrap into range. Returns the op with concrete ids, or a
 * reason it cannot apply (no live handle, say). Resolution reads only what every kernel agrees
 * on (live mms and handles, in creation order), so both sides of a differential run resolve alike.
 */
export function resolveOp(m: Machine, op: Op): Resolution {
  const g = m.geometry;
  const live = liveMms(m);
  const mmOf = (i: number): number | null => live[mod(i, live.length)]?.id ?? null;
  const cpu = (c: number): number => mod(c, g.nrCpus);
  const vpn = (v: number): number => mod(v, mmVpnCount(m));
  const handleOf = (i: number): number | null => m.handles[mod(i, m.handles.length)]?.id ?? null;
  switch (op.kind) {
    case 'tick':
    case 'drain':
      return op;
    case 'writeback':
      return { ...op, file: mod(op.file, NR_FILES) };
    case 'truncate':
      return { ...op, file: mod(op.file, NR_FILES), from: mod(op.from, fileNrPages(g)) };
    case 'fileRead':
    case 'fileWrite':
      return { ...op, file: mod(op.file, NR_FILES), index: mod(op.index, fileNrPages(g)) };
    case 'nowaitFail':
      return { ...op, nr: Math.max(0, op.nr) };
    case 'memHole': {
      // Within RAM (never the zero page beyond it); nr at least 1 and not past the end.
      const p = mod(op.pfn, g.nrFrames);
      return { ...op, pfn: p, nr: Math.min(Math.max(1, op.nr), g.nrFrames - p) };
    }
    case 'allocPolicy':
      return op.policy === 'from' ? { ...op, pfn: mod(op.pfn ?? 0, g.nrFrames) } : { kind: op.kind, policy: op.policy };
    case 'walkEnd':
      return { ...op, cpu: cpu(op.cpu) };
    case 'preempt':
      return { ...op, cpu: cpu(op.cpu), at: Math.max(1, op.at) };
    case 'resume':
      return { ...op, cpu: cpu(op.cpu), points: Math.max(1, op.points) };
    case 'unpin':
    case 'gupRead':
    case 'gupWrite': {
      const h = handleOf(op.handle);
      if (h === null) return { skip: 'no GUP handle' };
      if (op.kind === 'unpin') return { ...op, handle: h };
      const pages = m.handles.find((x) => x.id === h)?.pages.length ?? 1;
      return { ...op, handle: h, index: mod(op.index, pages) };
    }
    default:
      break;
  }
  const mm = mmOf(op.mm);
  if (mm === null) return { skip: 'no live mm' };
  switch (op.kind) {
    case 'map':
      return { ...op, mm, vpn: vpn(op.vpn), order: Math.min(Math.max(0, op.order), g.maxFolioOrder) };
    case 'populate':
      return { ...op, mm, vpn: vpn(op.vpn), nr: Math.max(1, op.nr), order: Math.min(Math.max(0, op.order), g.maxFolioOrder) };
    case 'access':
      return { ...op, mm, cpu: cpu(op.cpu), vpn: vpn(op.vpn) };
    case 'fork':
    case 'exit':
      return { ...op, mm };
    case 'zap':
    case 'mprotect':
      return { ...op, mm, vpn: vpn(op.vpn), nr: Math.max(1, op.nr) };
    case 'mremap':
      return { ...op, mm, from: vpn(op.from), to: vpn(op.to), nr: Math.max(1, op.nr) };
    case 'migrate':
    case 'reclaim':
      return { ...op, mm, vpn: vpn(op.vpn), count: Math.max(1, op.count) };
    case 'madvise':
      return { ...op, mm, vpn: vpn(op.vpn), nr: Math.max(1, op.nr) };
    case 'freeTable':
    case 'collapse':
      return { ...op, mm, pmd: mod(op.pmd, g.pmdsPerMm) };
    case 'mmapFile': {
      // Within the mm and within the file: nr shrinks to what fits both.
      const at = vpn(op.vpn);
      const pgoff = mod(op.pgoff, fileNrPages(g));
      const nr = Math.max(1, Math.min(op.nr, mmVpnCount(m) - at, fileNrPages(g) - pgoff));
      return { ...op, mm, vpn: at, nr, file: mod(op.file, NR_FILES), pgoff };
    }
    case 'gup':
      return { ...op, mm, cpu: cpu(op.cpu), vpn: vpn(op.vpn), nr: Math.max(1, op.nr) };
    case 'walkBegin':
      return { ...op, mm, cpu: cpu(op.cpu), vpn: vpn(op.vpn) };
    default:
      return assertNever(op);
  }
}

function mod(a: number, n: number): number {
  // `| 0`: the same value as a small integer. Left as a double (a `%` V8 computes in floating
  // point), every PTE, TLB entry and frame the op's targets flow into would hold a boxed double.
  return n <= 0 ? 0 : (((a % n) + n) % n) | 0;
}
