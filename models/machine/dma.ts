import type { Machine, GupHandle } from './state';
import { frameAt } from './frames';
import { ModelViolationError } from './violation';

/**
 * A device reading or writing memory through a page of a GUP handle (DMA). The handle's
 * reference must have kept the frame alive: a frame whose generation moved on was freed under it.
 */
export function dmaAccess(m: Machine, h: GupHandle, index: number, write: boolean, value: number): number {
  const page = h.pages[index];
  if (page === undefined) throw new Error(`handle ${h.id} has no page ${index}`);
  const f = frameAt(m, page.pfn);
  if (f.gen !== page.gen || f.state !== 'data') {
    throw new ModelViolationError({ code: 'handle_use_after_free', step: m.clock.step, handle: h.id, pfn: page.pfn });
  }
  if (write) f.content = value;
  return f.content;
}
