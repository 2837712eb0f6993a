import type { z } from 'zod';
import { assertNever } from '../../models/assertNever';
import type { opSchema } from '../schema/op';
import { opKinds } from '../schema/op';

/**
 * The operation vocabulary: a closed union of plain, JSON-serialisable data, derived from its one
 * definition in src/schema/op.ts (where each kind's meaning is documented). Targets are small
 * integers resolved against the current state when the op runs (`mm` picks among the live mms,
 * `handle` among the live handles), so every generated op is valid or a documented no-op and
 * shrinking keeps its meaning.
 */
export type Op = Readonly<z.infer<typeof opSchema>>;

export type OpKind = Op['kind'];

export const OP_KINDS: readonly OpKind[] = opKinds;

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
    case 'reclaim':
      return `reclaim mm#${op.mm} vpn ${op.vpn} folios ${op.count}`;
    case 'madvise':
      return `madvise mm#${op.mm} vpn ${op.vpn}+${op.nr} MADV_${op.advice.toUpperCase()}`;
    case 'mmapFile':
      return `mmapFile mm#${op.mm} vpn ${op.vpn}+${op.nr} file#${op.file} pgoff ${op.pgoff} ${op.shared ? 'MAP_SHARED' : 'MAP_PRIVATE'}`;
    case 'truncate':
      return `truncate file#${op.file} from page ${op.from}`;
    case 'writeback':
      return `writeback file#${op.file}`;
    case 'fileRead':
      return `fileRead file#${op.file} page ${op.index}`;
    case 'fileWrite':
      return `fileWrite file#${op.file} page ${op.index}`;
    case 'freeTable':
      return `freeTable mm#${op.mm} pmd ${op.pmd}`;
    case 'collapse':
      return `collapse mm#${op.mm} pmd ${op.pmd}`;
    case 'gup':
      return `${op.pin ? 'pin' : 'get'}${op.fast ? '_fast' : ''} cpu${op.cpu} mm#${op.mm} vpn ${op.vpn}+${op.nr}${flag(op.write, 'write')}`;
    case 'unpin':
      return `unpin handle#${op.handle}`;
    case 'gupRead':
      return `gupRead handle#${op.handle} page ${op.index}`;
    case 'gupWrite':
      return `gupWrite handle#${op.handle} page ${op.index}`;
    case 'walkBegin':
      return `walkBegin cpu${op.cpu} ${op.walker} mm#${op.mm} vpn ${op.vpn}${op.walker === 'gupFast' ? flag(op.pin, 'pin') + flag(op.write, 'write') + flag(op.stop === 'grab', 'stop-before-grab') : ''}`;
    case 'walkEnd':
      return `walkEnd cpu${op.cpu}`;
    case 'tick':
      return 'tick';
    case 'nowaitFail':
      return `nowaitFail next ${op.nr} GFP_NOWAIT allocations`;
    case 'memHole':
      return `memHole pfn ${op.pfn}+${op.nr}`;
    case 'allocPolicy':
      return `allocPolicy ${op.policy}${op.policy === 'from' ? ` pfn ${op.pfn ?? 0}` : ''}`;
    case 'drain':
      return 'drain';
    case 'preempt':
      return `preempt cpu${op.cpu} after ${op.at} point(s)`;
    case 'resume':
      return `resume cpu${op.cpu} by ${op.points} point(s)`;
    default:
      return assertNever(op);
  }
}
