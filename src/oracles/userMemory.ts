import type { HandleId, MmId } from '../../models/machine/ids';
import { handleId as asHandle, mmId as asMm, vpn as asVpn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { ModelViolationError } from '../../models/machine/violation';
import type { Applied } from '../ops/apply';

/** The content of a page no mm maps any more; every pin of that page shares it. */
interface DetachedPage {
  value: number;
}

/** A pinned page as the user sees it: still the page at (mm, vpn), or detached (shared by all its pins). */
type PinnedPage = { readonly kind: 'attached'; mm: MmId; vpn: number } | { readonly kind: 'detached'; readonly page: DetachedPage };

interface PinModel {
  readonly pages: PinnedPage[];
}

/**
 * The user-visible memory oracle (design §5.3): what each mm's private memory must contain and
 * what each pin must see, independent of any kernel. A store sets a value; fork copies an mm's
 * values to the child; zap and exit forget them (unpopulated memory reads 0, and so does a new
 * page); mremap moves them. A FOLL_PIN page stays coherent with its (mm, address) while that
 * mapping lasts — the kernel's "pins are reliable" promise, which is why R/O pins unshare — and
 * keeps its own value once zap or exit detaches it. Every load and every device read through a
 * pin is checked: this is the cow.c selftest's "no leak parent→child, child→parent" and "pin is
 * reliable". FOLL_GET references promise no coherence, so reads through them are left to the
 * differential check.
 */
export class UserMemory {
  private readonly mem = new Map<MmId, Map<number, number>>();
  private readonly pins = new Map<HandleId, PinModel>();

  private values(mm: MmId): Map<number, number> {
    let v = this.mem.get(mm);
    if (v === undefined) {
      v = new Map();
      this.mem.set(mm, v);
    }
    return v;
  }

  private read(mm: MmId, vpn: number): number {
    return this.mem.get(mm)?.get(vpn) ?? 0;
  }

  /** Update the model for one applied op and check what the op returned; throws on a mismatch. */
  check(m: Machine, a: Applied, step: number): void {
    const op = a.resolved;
    const r = a.result;
    if (op !== null) {
      switch (op.kind) {
        case 'access': {
          if (r.kind !== 'value') break;
          const mm = asMm(op.mm);
          if (op.write) this.values(mm).set(op.vpn, r.value);
          else if (r.value !== this.read(mm, op.vpn)) {
            throw new ModelViolationError({ code: 'stale_read', step, mm, vpn: asVpn(op.vpn), expected: this.read(mm, op.vpn), actual: r.value });
          }
          break;
        }
        case 'fork':
          if (r.kind === 'forked') this.mem.set(r.child, new Map(this.mem.get(asMm(op.mm)) ?? []));
          break;
        case 'zap': {
          const top = m.geometry.pmdsPerMm * m.geometry.ptrsPerPte;
          this.forget(asMm(op.mm), op.vpn, Math.min(top, op.vpn + op.nr));
          break;
        }
        case 'exit':
          if (r.kind === 'done') this.forget(asMm(op.mm), 0, Number.MAX_SAFE_INTEGER);
          break;
        case 'mremap':
          if (r.kind === 'done') this.move(asMm(op.mm), op.from, op.to, op.nr);
          break;
        case 'gupRead':
        case 'gupWrite':
          if (r.kind === 'value') this.checkPinAccess(asHandle(op.handle), op.index, op.kind === 'gupWrite', r.value, step);
          break;
        default:
          break;
      }
    }
    this.syncHandles(m);
  }

  private checkPinAccess(h: HandleId, index: number, write: boolean, value: number, step: number): void {
    const page = this.pins.get(h)?.pages[index];
    if (page === undefined) return; // a FOLL_GET handle
    if (write) {
      if (page.kind === 'attached') this.values(page.mm).set(page.vpn, value);
      else page.page.value = value;
      return;
    }
    const expected = page.kind === 'attached' ? this.read(page.mm, page.vpn) : page.page.value;
    if (value !== expected) throw new ModelViolationError({ code: 'pin_unreliable', step, handle: h, index, expected, actual: value });
  }

  /** Zap or exit of [start, end): the values are gone; the pins of a page there share its last value. */
  private forget(mm: MmId, start: number, end: number): void {
    const detached = new Map<number, DetachedPage>();
    for (const pin of this.pins.values()) {
      pin.pages.forEach((p, i) => {
        if (p.kind === 'attached' && p.mm === mm && p.vpn >= start && p.vpn < end) {
          let page = detached.get(p.vpn);
          if (page === undefined) detached.set(p.vpn, (page = { value: this.read(mm, p.vpn) }));
          pin.pages[i] = { kind: 'detached', page };
        }
      });
    }
    const vals = this.mem.get(mm);
    if (vals === undefined) return;
    for (const vpn of [...vals.keys()]) if (vpn >= start && vpn < end) vals.delete(vpn);
  }

  private move(mm: MmId, from: number, to: number, nr: number): void {
    const vals = this.values(mm);
    for (let k = 0; k < nr; k++) {
      const v = vals.get(from + k);
      vals.delete(from + k);
      if (v === undefined) vals.delete(to + k);
      else vals.set(to + k, v);
    }
    for (const pin of this.pins.values()) {
      for (const p of pin.pages) if (p.kind === 'attached' && p.mm === mm && p.vpn >= from && p.vpn < from + nr) p.vpn += to - from;
    }
  }

  /** Pins appear when GUP (or a GUP-fast walk finishing) creates a handle, and go with unpin. */
  private syncHandles(m: Machine): void {
    const live = new Set<HandleId>();
    for (const h of m.handles) {
      live.add(h.id);
      if (!h.pin || this.pins.has(h.id)) continue;
      this.pins.set(h.id, { pages: h.pages.map((_, k) => ({ kind: 'attached', mm: h.mm, vpn: h.vpn + k })) });
    }
    for (const id of [...this.pins.keys()]) if (!live.has(id)) this.pins.delete(id);
  }
}
