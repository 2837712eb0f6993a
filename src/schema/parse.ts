import type { z } from 'zod';
import { describeIssue } from './describeIssue';
import { placeOf, subjectOf } from './place';
import { RESERVED_NAMES, reservedNamePath } from './reservedNames';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/**
 * Check parsed JSON against a file format's schema: the value, typed, or one line saying where
 * the first problem is and what is valid there (and how many more there are).
 */
export function parseWith<S extends z.ZodObject>(schema: S, data: unknown): Parsed<z.output<S>> {
  // Before the schema: it would drop such a field silently, or call it merely unexpected.
  const reserved = reservedNamePath(data);
  if (reserved !== null) {
    return { ok: false, problem: `${subjectOf(placeOf(reserved, data))} is refused: ${RESERVED_NAMES.join(', ')} are never valid field names` };
  }
  const r = schema.safeParse(data, { reportInput: true });
  if (r.success) return { ok: true, value: r.data };
  const [first, ...more] = r.error.issues;
  const line = first === undefined ? r.error.message : describeIssue(first, data, Object.keys(schema.shape));
  return { ok: false, problem: more.length === 0 ? line : `${line} (and ${more.length} more problem${more.length === 1 ? '' : 's'})` };
}
