import type { Machine } from '../../models/machine/state';

/**
 * A deep copy of a machine, for the serialisability oracle's start states and search branches. The
 * machine is plain data (objects, arrays, the CPUs' TLB and paging-structure-cache Maps), so a
 * direct recursive copy does what `structuredClone` does at a fraction of its cost on the
 * realistic geometry's 16,384 frames (it is taken at every window's start and every branch of the
 * search). Anything else — a class instance, a function — throws, so a change to the machine's
 * shape cannot be copied wrongly in silence.
 */
export function cloneMachine(m: Machine): Machine {
  return clonePlain(m) as Machine;
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
