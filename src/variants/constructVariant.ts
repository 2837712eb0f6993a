import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { UsageError } from '../cli/usageError';
import { firstLineOf, stackLocationIn } from './errorLocation';
import type { KernelClass } from './kernelMethods';

/** Where a throw came from when it was not the variant file itself (a base class in another file). */
function elsewhere(err: unknown): string {
  if (!(err instanceof Error) || err.stack === undefined) return '';
  const frame = err.stack.split('\n').find((l) => /^\s+at /.test(l) && !l.includes('node_modules') && !l.includes('node:'));
  const m = frame === undefined ? null : /\(?((?:file:\/\/)?[^\s()]+:\d+):\d+\)?\s*$/.exec(frame);
  return m === null ? '' : ` (at ${m[1]})`;
}

/**
 * Make one instance of the variant, as the check will for every sequence; a constructor that
 * throws is the variant's bug, reported with its line rather than as an internal error.
 */
export function constructVariant(file: string, Ctor: KernelClass): ReferenceKernel {
  try {
    return new Ctor();
  } catch (e) {
    const at = stackLocationIn(e, file);
    const where = at === null ? file : `${file}:${at.line}`;
    throw new UsageError(`variant ${where}: constructor threw: ${firstLineOf(e)}${at === null ? elsewhere(e) : ''}`);
  }
}
