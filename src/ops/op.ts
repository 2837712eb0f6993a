import { assertNever } from '../../models/assertNever';

/**
 * The operation vocabulary: a closed union of plain, JSON-serialisable data. Targets are small
 * integers resolved against the current state when the op runs (`mm` picks among the live mms,
 * `handle` among the live handles), so every generated op is valid or a documented no-op and
 * shrinking keeps its meaning.
 */
export type Op =
  /** Populate a new anonymous folio: PMD-mapped, or PTE-mapped for pages [first, first+count). */
  | { readonly kind: 'map'; readonly mm: number; readonly vpn: number; readonly order: number; readonly pmd: boolean; readonly first: number; readonly count: number }
  /** MAP_POPULATE of [vpn, vpn+nr): every unpopulated aligned chunk gets a new folio of `order`, fully mapped. */
  | { readonly kind: 'populate'; readonly mm: number; readonly vpn: number; readonly nr: number; readonly order: number }
  /** A user load or store on a CPU. */
  | { readonly kind: 'access'; readonly cpu: number; readonly mm: number; readonly vpn: number; readonly write: boolean }
  | { readonly kind: 'fork'; readonly mm: number }
  /** MADV_DONTNEED of [vpn, vpn+nr). */
  | { readonly kind: 'zap'; readonly mm: number; readonly vpn: number; readonly nr: number }
  | { readonly kind: 'exit'; readonly mm: number }
  | { readonly kind: 'mprotect'; readonly mm: number; readonly vpn: number; readonly nr: number; readonly writable: boolean }
  | { readonly kind: 'mremap'; readonly mm: number; readonly from: number; readonly to: number; readonly nr: number }
  /** Migrate up to `count` folios mapped from vpn upwards. */
  | { readonly kind: 'migrate'; readonly mm: number; readonly vpn: number; readonly count: number }
  /** Reclaim the PTE table of PMD slot `pmd` if it is empty. */
  | { readonly kind: 'freeTable'; readonly mm: number; readonly pmd: number }
  | { readonly kind: 'gup'; readonly cpu: number; readonly mm: number; readonly vpn: number; readonly nr: number; readonly pin: boolean; readonly write: boolean; readonly fast: boolean }
  | { readonly kind: 'unpin'; readonly handle: number }
  /** A device reads page `index` of a handle. */
  | { readonly kind: 'gupRead'; readonly handle: number; readonly index: number }
  /** A device writes page `index` of a handle (a write pin only). */
  | { readonly kind: 'gupWrite'; readonly handle: number; readonly index: number }
  | { readonly kind: 'walkBegin'; readonly cpu: number; readonly mm: number; readonly vpn: number; readonly walker: 'gupFast' | 'pteOffsetMap'; readonly pin: boolean; readonly write: boolean }
  | { readonly kind: 'walkEnd'; readonly cpu: number }
  | { readonly kind: 'tick' }
  | { readonly kind: 'drain' };

export type OpKind = Op['kind'];

export const OP_KINDS: readonly OpKind[] = [
  'map', 'populate', 'access', 'fork', 'zap', 'exit', 'mprotect', 'mremap', 'migrate', 'freeTable',
  'gup', 'unpin', 'gupRead', 'gupWrite', 'walkBegin', 'walkEnd', 'tick', 'drain',
];

const flag = (on: boolean, name: string): string => (on ? ` ${name}` : '');

/** One line per op, as written (before target resolution). */
export function formatOp(op: Op): string {
  switch (op.kind) {
    case 'map':
      return op.pmd
        ? `map mm#${op.mm} vpn ${op.vpn} order ${op.order} PMD`
        : `map mm#${op.mm} vpn ${op.vpn} order ${op.order} pages ${op.first}+${op.count}`;
    case 'populate':
      return `populate mm#${op.mm} vpn ${op.vpn}+${op.nr} order ${op.order}`;
    case 'access':
      return `${op.write ? 'store' : 'load'} cpu${op.cpu} mm#${op.mm} vpn ${op.vpn}`;
    case 'fork':
      return `fork mm#${op.mm}`;
    case 'zap':
      return `zap mm#${op.mm} vpn ${op.vpn}+${op.nr}`;
    case 'exit':
      return `exit mm#${op.mm}`;
    case 'mprotect':
      return `mprotect mm#${op.mm} vpn ${op.vpn}+${op.nr} ${op.writable ? 'RW' : 'RO'}`;
    case 'mremap':
      return `mremap mm#${op.mm} vpn ${op.from}+${op.nr} -> ${op.to}`;
    case 'migrate':
      return `migrate mm#${op.mm} vpn ${op.vpn} folios ${op.count}`;
    case 'freeTable':
      return `freeTable mm#${op.mm} pmd ${op.pmd}`;
    case 'gup':
      return `${op.pin ? 'pin' : 'get'}${op.fast ? '_fast' : ''} cpu${op.cpu} mm#${op.mm} vpn ${op.vpn}+${op.nr}${flag(op.write, 'write')}`;
    case 'unpin':
      return `unpin handle#${op.handle}`;
    case 'gupRead':
      return `gupRead handle#${op.handle} page ${op.index}`;
    case 'gupWrite':
      return `gupWrite handle#${op.handle} page ${op.index}`;
    case 'walkBegin':
      return `walkBegin cpu${op.cpu} ${op.walker} mm#${op.mm} vpn ${op.vpn}${op.walker === 'gupFast' ? flag(op.pin, 'pin') + flag(op.write, 'write') : ''}`;
    case 'walkEnd':
      return `walkEnd cpu${op.cpu}`;
    case 'tick':
      return 'tick';
    case 'drain':
      return 'drain';
    default:
      return assertNever(op);
  }
}
