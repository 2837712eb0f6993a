import type { Pfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { GUP_PIN_COUNTING_BIAS } from '../../models/reference/rmap';

/**
 * References and pins that GUP-fast walks hold until walkEnd (in flight, or finished early by an
 * IPI), per folio head: walkEnd puts them back or hands them to a handle.
 */
export function walkerHeldRefs(m: Machine): Map<Pfn, { refs: number; pins: number }> {
  const out = new Map<Pfn, { refs: number; pins: number }>();
  for (const c of m.cpus) {
    const w = c.finishedWalk?.walk ?? c.walker;
    if (w === null || w.kind !== 'gupFast' || w.grabbed === null) continue;
    const head = m.frames[w.grabbed.pfn]?.head ?? w.grabbed.pfn;
    const large = (m.frames[head]?.folio?.order ?? 0) > 0;
    const e = out.get(head) ?? { refs: 0, pins: 0 };
    if (!w.pin) e.refs++;
    else if (large) {
      e.refs++;
      e.pins++;
    } else e.refs += GUP_PIN_COUNTING_BIAS;
    out.set(head, e);
  }
  return out;
}
