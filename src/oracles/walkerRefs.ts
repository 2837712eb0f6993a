import type { Pfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { GUP_PIN_COUNTING_BIAS } from '../../models/reference/rmap';

/**
 * What holding `pages` pages of the folio headed at `head` by GUP costs its counts:
 * FOLL_GET one reference per page; FOLL_PIN one reference and one _pincount per page on a large
 * folio, GUP_PIN_COUNTING_BIAS references per page on a small one (try_grab_folio()). On the
 * shared zero page FOLL_GET costs plain references (ZeroPage.gupRefs) and FOLL_PIN nothing.
 */
export function gupHold(m: Machine, head: Pfn, pin: boolean, pages: number): { refs: number; pins: number } {
  if (!pin) return { refs: pages, pins: 0 };
  // try_grab_folio() takes no pin on the shared zero page (6.5+): a FOLL_PIN of it costs nothing.
  if (m.zeroPage !== undefined && m.zeroPage.pfn === head) return { refs: 0, pins: 0 };
  const large = (m.frames[head]?.folio?.order ?? 0) > 0;
  return large ? { refs: pages, pins: pages } : { refs: pages * GUP_PIN_COUNTING_BIAS, pins: 0 };
}

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
    const e = out.get(head) ?? { refs: 0, pins: 0 };
    const h = gupHold(m, head, w.pin, 1);
    out.set(head, { refs: e.refs + h.refs, pins: e.pins + h.pins });
  }
  return out;
}
