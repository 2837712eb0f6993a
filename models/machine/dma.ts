import type { Machine, GupHandle } from './state';
import { frameAt } from './frames';
import { ModelViolationError } from './violation';

/**
 * A device reading or writing memory through a page of a GUP handle (DMA). The handle's
 * reference must have kept the frame alive: a frame whose generation moved on was freed under it.
 * A handle may hold the shared zero page (a FOLL_GET of a read-only zero-page PTE): it reads 0,
 * and a device write to it (only a write pin can write, and GUP never returns the zero page for
 * FOLL_WRITE) is reported like a write through a freed page.
 */
export function dmaAccess(m: Machine, h: GupHandle, index: number, write: boolean, value: number): number {
  const page = h.pages[index];
  if (page === undefined) throw new Error(`handle ${h.id} has no page ${index}`);
  const f = frameAt(m, page.pfn);
  const live = f.state === 'data' || (f.state === 'zero' && !write);
  if (f.gen !== page.gen || !live) {
    throw new ModelViolationError({ code: 'handle_use_after_free', step: m.clock.step, handle: h.id, pfn: page.pfn });
  }
  if (write) f.content = value;
  return f.content;
}
