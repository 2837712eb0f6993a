import { assertNever } from '../../models/assertNever';

/**
 * One call into the C runtime (src/conform/c/runtime.c): the user-level part of a model op, as
 * a system call or a memory access on the real kernel. The same calls are written as statements
 * of an exported program and as command lines for the interpreter that `conform` runs, so both
 * run exactly the same thing.
 */
export type CCall =
  | { readonly fn: 'map'; readonly mm: number; readonly base: number; readonly order: number; readonly pmd: number; readonly first: number; readonly count: number }
  | { readonly fn: 'store'; readonly cpu: number; readonly mm: number; readonly vpn: number; readonly value: number }
  | { readonly fn: 'load'; readonly cpu: number; readonly mm: number; readonly vpn: number }
  | { readonly fn: 'fork'; readonly mm: number; readonly child: number }
  | { readonly fn: 'exit'; readonly mm: number }
  | { readonly fn: 'dontneed'; readonly mm: number; readonly vpn: number; readonly nr: number }
  | { readonly fn: 'mprotect'; readonly mm: number; readonly vpn: number; readonly nr: number; readonly writable: number }
  | { readonly fn: 'mremap'; readonly mm: number; readonly from: number; readonly to: number; readonly nr: number }
  | { readonly fn: 'refill'; readonly mm: number; readonly vpn: number; readonly nr: number; readonly writable: number }
  | { readonly fn: 'pin'; readonly mm: number; readonly handle: number; readonly vpn: number; readonly nr: number }
  | { readonly fn: 'get'; readonly mm: number; readonly handle: number; readonly vpn: number; readonly nr: number }
  | { readonly fn: 'unpin'; readonly handle: number }
  | { readonly fn: 'devread'; readonly handle: number; readonly index: number }
  | { readonly fn: 'devwrite'; readonly handle: number; readonly index: number; readonly value: number }
  | { readonly fn: 'mmapfile'; readonly mm: number; readonly vpn: number; readonly nr: number; readonly file: number; readonly pgoff: number; readonly shared: number }
  | { readonly fn: 'pwrite'; readonly file: number; readonly index: number; readonly value: number }
  | { readonly fn: 'pread'; readonly file: number; readonly index: number }
  | { readonly fn: 'fsync'; readonly file: number }
  | { readonly fn: 'truncate'; readonly file: number; readonly from: number };

/** The call's arguments after the step, in the order of the C function's parameters. */
export function cArgs(c: CCall): readonly number[] {
  switch (c.fn) {
    case 'map':
      return [c.mm, c.base, c.order, c.pmd, c.first, c.count];
    case 'store':
      return [c.cpu, c.mm, c.vpn, c.value];
    case 'load':
      return [c.cpu, c.mm, c.vpn];
    case 'fork':
      return [c.mm, c.child];
    case 'exit':
      return [c.mm];
    case 'dontneed':
      return [c.mm, c.vpn, c.nr];
    case 'mprotect':
    case 'refill':
      return [c.mm, c.vpn, c.nr, c.writable];
    case 'mremap':
      return [c.mm, c.from, c.to, c.nr];
    case 'pin':
    case 'get':
      return [c.mm, c.handle, c.vpn, c.nr];
    case 'unpin':
      return [c.handle];
    case 'devread':
      return [c.handle, c.index];
    case 'devwrite':
      return [c.handle, c.index, c.value];
    case 'mmapfile':
      return [c.mm, c.vpn, c.nr, c.file, c.pgoff, c.shared];
    case 'pwrite':
      return [c.file, c.index, c.value];
    case 'pread':
      return [c.file, c.index];
    case 'fsync':
      return [c.file];
    case 'truncate':
      return [c.file, c.from];
    default:
      return assertNever(c);
  }
}

/** The interpreter's command line: `<fn> <step> <args…>`. */
export const commandLine = (step: number, c: CCall): string => [c.fn, step, ...cArgs(c)].join(' ');

/** The statement of an exported program: `op_<fn>(<step>, <args…>);`. */
export const cStatement = (step: number, c: CCall): string => `op_${c.fn}(${[step, ...cArgs(c)].join(', ')});`;
