import type { Folio, Frame, Machine, Mm } from '../../models/machine/state';
import type { PmdEntry, Pte } from '../../models/machine/pte';

/**
 * A deep copy of a machine, for the serialisability oracle's start states and search branches. The
 * machine is plain data (objects, arrays, the CPUs' TLB and paging-structure-cache Maps), so a
 * direct recursive copy does what `structuredClone` does at a fraction of its cost on the
 * realistic geometry's 16,384 frames (it is taken at every window's start and every branch of the
 * search). Anything else — a class instance, a function — throws, so a change to the machine's
 * shape cannot be copied wrongly in silence.
 */
export function cloneMachine(m: Machine): Machine {
  const out: Record<string, unknown> = { ...(m as unknown as Record<string, unknown>) };
  for (const k in out) {
    if (k === 'frames') out[k] = m.frames.map(cloneFrame);
    else if (k === 'mms') out[k] = m.mms.map(cloneMm);
    else out[k] = clonePlain(out[k]);
  }
  return out as unknown as Machine;
}

/**
 * Page-table entries are immutable (every field readonly: a write puts a new entry in the slot),
 * so a copied table or PMD array shares them: a copy costs one array per table, not an object
 * per slot (512 on `realistic`). The type tests below fail to compile if that stops being true.
 */
type Equals<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
const PTES_ARE_IMMUTABLE: Equals<Pte, Readonly<Pte>> & Equals<PmdEntry, Readonly<PmdEntry>> = true;
/** The fields of a frame that are objects: copied here; the rest are primitives, copied by the spread. */
type ObjectFields<T> = { [K in keyof T]-?: Exclude<T[K], string | number | boolean | null | undefined> extends never ? never : K }[keyof T];
const FRAME_OBJECT_FIELDS: Equals<ObjectFields<Frame>, 'folio' | 'ptes'> = true;
void PTES_ARE_IMMUTABLE;
void FRAME_OBJECT_FIELDS;

function cloneFrame(f: Frame): Frame {
  const out = { ...f };
  if (f.folio !== null) out.folio = clonePlain(f.folio) as Folio;
  if (f.ptes !== null) out.ptes = f.ptes.slice();
  return out;
}

/** An mm: its PMD entries shared (immutable), everything else copied. */
function cloneMm(mm: Mm): Mm {
  const out: Record<string, unknown> = { ...(mm as unknown as Record<string, unknown>) };
  for (const k in out) out[k] = k === 'pmds' ? mm.pmds.slice() : clonePlain(out[k]);
  return out as unknown as Mm;
}

function clonePlain(x: unknown): unknown {
  if (typeof x !== 'object' || x === null) {
    if (typeof x === 'function' || typeof x === 'symbol') throw new Error(`cloneMachine: cannot copy a ${typeof x}`);
    return x;
  }
  if (Array.isArray(x)) {
    const out: unknown[] = new Array<unknown>(x.length);
    for (let i = 0; i < x.length; i++) out[i] = clonePlain(x[i]);
    return out;
  }
  if (x instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of x) out.set(k, clonePlain(v));
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) throw new Error('cloneMachine: the machine holds a non-plain object');
  // Spread first (V8 copies a flat object fast: most frames hold no folio and no table), then
  // replace the nested objects by copies.
  const out: Record<string, unknown> = { ...(x as Record<string, unknown>) };
  for (const k in out) {
    const v = out[k];
    if (typeof v === 'object' && v !== null) out[k] = clonePlain(v);
    else if (typeof v === 'function' || typeof v === 'symbol') throw new Error(`cloneMachine: cannot copy a ${typeof v}`);
  }
  return out;
}
