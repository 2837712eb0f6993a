import type { OpKind } from '../ops/op';
import { OP_KINDS } from '../ops/op';
import { opSchema } from './op';

/**
 * Where in a file a problem is, as a reader looks for it: the op (`ops[3] (zap)`, its kind named
 * when it has a valid one) and the field within it or within the file (`nr`, `violation.step`).
 */
export interface Place {
  readonly op: string | null;
  /** The op's kind, when the problem is inside an op with a valid one. */
  readonly kind: OpKind | null;
  readonly field: string | null;
}

export function placeOf(path: readonly PropertyKey[], data: unknown): Place {
  const [head, index, ...rest] = path;
  if (head === 'ops' && typeof index === 'number') {
    const kind = opKindAt(data, index);
    return { op: `ops[${index}]${kind === null ? '' : ` (${kind})`}`, kind, field: rest.length > 0 ? rest.map(String).join('.') : null };
  }
  return { op: null, kind: null, field: path.length > 0 ? path.map(String).join('.') : null };
}

/** The thing that has the wrong value: "ops[3] (zap): field 'nr'", "'seed'", "ops[3]: an op", "the top level". */
export function subjectOf(p: Place): string {
  if (p.op !== null) return p.field !== null ? `${p.op}: field '${p.field}'` : `${p.op}: an op`;
  return p.field !== null ? `'${p.field}'` : 'the top level';
}

/** The prefix for a problem about an object's fields ("ops[3] (tick): ", "'violation': ", ""). */
export function containerOf(p: Place): string {
  if (p.op !== null) return `${p.op}${p.field !== null ? ` field '${p.field}'` : ''}: `;
  return p.field !== null ? `'${p.field}': ` : '';
}

/** The fields an op of this kind has, `kind` first. */
export function opFields(kind: OpKind): readonly string[] {
  return Object.keys(opSchema.options.find((o) => o.shape.kind.value === kind)?.shape ?? {});
}

function opKindAt(data: unknown, index: number): OpKind | null {
  if (typeof data !== 'object' || data === null || !('ops' in data) || !Array.isArray(data.ops)) return null;
  const op: unknown = data.ops[index];
  if (typeof op !== 'object' || op === null || !('kind' in op)) return null;
  const kind = op.kind;
  return OP_KINDS.find((k) => k === kind) ?? null;
}
