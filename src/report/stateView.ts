import type { Machine } from '../../models/machine/state';
import { observe } from '../oracles/observe';

/**
 * Everything a reviewer may want to see of a machine, flattened to "path → value" lines: the
 * differential observation plus what it forgets on purpose (TLB entries per CPU with the frame
 * generation they were filled from, walkers in flight, deferred work, MIGRC's pending list).
 */
export function stateView(m: Machine): Map<string, string> {
  const out = new Map<string, string>();
  const o = observe(m, false);
  flatten(o.mms, 'mms', out);
  flatten(o.handles, 'handles', out);
  for (const [id, f] of Object.entries(o.folios)) {
    out.set(
      `folio ${id}`,
      `order ${f.order} ref ${f.refcount} pin ${f.pincount} mapcount(large ${f.largeMapcount}, entire ${f.entireMapcount}) pages [${f.pages.join(' ')}]`,
    );
  }
  for (const c of m.cpus) {
    for (const e of c.tlb.values()) {
      const live = m.frames[e.pfn]?.gen === e.gen ? '' : ' STALE(frame reused or freed)';
      out.set(`cpu${c.id}.tlb.mm${e.mm}.vpn${e.vpn}`, `pfn ${e.pfn}${e.writable ? ' w' : ''} gen ${e.gen}${live}`);
    }
    if (c.walker !== null) out.set(`cpu${c.id}.walker`, `${c.walker.kind} mm${c.walker.mm} vpn ${c.walker.vpn} table ${c.walker.table ?? '-'}`);
  }
  out.set('rcu.callbacksPending', String(m.rcu.callbacks.length));
  if (m.migrc.pending.length > 0) out.set('migrc.pending', m.migrc.pending.map((p) => m.frames[p]?.folio?.id ?? `pfn ${p}`).join(' '));
  return out;
}

function flatten(x: unknown, path: string, out: Map<string, string>): void {
  if (x === null || typeof x !== 'object') {
    out.set(path, String(x));
    return;
  }
  const entries = Array.isArray(x) ? x.map((v, i) => [String(i), v] as const) : Object.entries(x);
  for (const [k, v] of entries) flatten(v, path === '' ? k : `${path}.${k}`, out);
}

/** Lines for what changed between two views: "~ path: before → after", "+ path: value", "- path: value". */
export function diffViews(before: Map<string, string>, after: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [k, v] of after) {
    const old = before.get(k);
    if (old === undefined) lines.push(`+ ${k}: ${v}`);
    else if (old !== v) lines.push(`~ ${k}: ${old} → ${v}`);
  }
  for (const [k, v] of before) if (!after.has(k)) lines.push(`- ${k}: ${v}`);
  return lines;
}
