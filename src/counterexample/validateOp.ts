import type { Op, OpKind } from '../ops/op';
import { OP_KINDS } from '../ops/op';

type FieldType = 'int' | 'bool' | 'walker';

/** The fields of every op kind: the schema a counterexample file's ops are checked against. */
const OP_FIELDS: Readonly<Record<OpKind, Readonly<Record<string, FieldType>>>> = {
  map: { mm: 'int', vpn: 'int', order: 'int', pmd: 'bool', first: 'int', count: 'int' },
  populate: { mm: 'int', vpn: 'int', nr: 'int', order: 'int' },
  access: { cpu: 'int', mm: 'int', vpn: 'int', write: 'bool' },
  fork: { mm: 'int' },
  zap: { mm: 'int', vpn: 'int', nr: 'int' },
  exit: { mm: 'int' },
  mprotect: { mm: 'int', vpn: 'int', nr: 'int', writable: 'bool' },
  mremap: { mm: 'int', from: 'int', to: 'int', nr: 'int' },
  migrate: { mm: 'int', vpn: 'int', count: 'int' },
  freeTable: { mm: 'int', pmd: 'int' },
  gup: { cpu: 'int', mm: 'int', vpn: 'int', nr: 'int', pin: 'bool', write: 'bool', fast: 'bool' },
  unpin: { handle: 'int' },
  gupRead: { handle: 'int', index: 'int' },
  gupWrite: { handle: 'int', index: 'int' },
  walkBegin: { cpu: 'int', mm: 'int', vpn: 'int', walker: 'walker', pin: 'bool', write: 'bool' },
  walkEnd: { cpu: 'int' },
  tick: {},
  drain: {},
};

function fits(t: FieldType, v: unknown): boolean {
  switch (t) {
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'bool':
      return typeof v === 'boolean';
    case 'walker':
      return v === 'gupFast' || v === 'pteOffsetMap';
  }
}

const isOpKind = (k: unknown): k is OpKind => typeof k === 'string' && (OP_KINDS as readonly string[]).includes(k);

/** Check that `x` is a well-formed op; returns it typed, or a message saying what is wrong. */
export function validateOp(x: unknown, where: string): Op | string {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return `${where}: an op must be an object`;
  const rec = x as Record<string, unknown>;
  if (!isOpKind(rec['kind'])) return `${where}: unknown op kind ${JSON.stringify(rec['kind'])}; valid kinds: ${OP_KINDS.join(', ')}`;
  const fields = OP_FIELDS[rec['kind']];
  for (const [name, type] of Object.entries(fields)) {
    if (!fits(type, rec[name])) return `${where} (${rec['kind']}): field '${name}' must be ${type === 'walker' ? "'gupFast' or 'pteOffsetMap'" : `a${type === 'int' ? 'n integer' : ' boolean'}`}, got ${JSON.stringify(rec[name])}`;
  }
  const extra = Object.keys(rec).filter((k) => k !== 'kind' && !(k in fields));
  if (extra.length > 0) return `${where} (${rec['kind']}): unexpected field(s) ${extra.join(', ')}`;
  // Every field was checked against the schema of its kind above.
  return rec as unknown as Op;
}
