import { holeCount } from '../../models/machine/physMem';
import { folioNrPages } from '../../models/machine/geometry';
import type { Pfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import type { Pte } from '../../models/machine/pte';
import { freeFrameCount } from '../../models/machine/frames';
import { tableEntries } from '../../models/machine/pgtable';
import { walkerHeldRefs } from './walkerRefs';

/**
 * Whether two machines look the same to the differential oracle: exactly
 * `firstDifference(observe(a, q), observe(b, q)) === null`, computed without building either
 * observation. The runner asks this after every step and builds the observations (observe.ts)
 * only when it answers false, to name the first difference. It walks both machines in
 * observe()'s order and compares what observe() would print for each entry, folio and handle, so
 * the two can never disagree; properties/sameObservation.test.ts checks that on random sequences,
 * mutants' included.
 */
export function sameObservation(a: Machine, b: Machine, quiescent: boolean): boolean {
  return new ObservationPair(a, b).same(quiescent);
}

/** The two machines being compared, and the folios already compared (observe() records each logical id once). */
class ObservationPair {
  private readonly seen = new Set<string>();
  private heldA: ReturnType<typeof walkerHeldRefs> | null = null;
  private heldB: ReturnType<typeof walkerHeldRefs> | null = null;

  constructor(
    private readonly a: Machine,
    private readonly b: Machine,
  ) {}

  same(quiescent: boolean): boolean {
    return this.sameMms() && this.sameHandles() && this.sameFiles() && this.sameScalars(quiescent);
  }

  private sameMms(): boolean {
    const { a, b } = this;
    if (a.mms.length !== b.mms.length) return false;
    for (let i = 0; i < a.mms.length; i++) {
      const ma = a.mms[i]!;
      const mb = b.mms[i]!;
      if (ma.alive !== mb.alive || ma.pmds.length !== mb.pmds.length) return false;
      for (let j = 0; j < ma.pmds.length; j++) {
        const pa = ma.pmds[j]!;
        const pb = mb.pmds[j]!;
        if (pa.kind !== pb.kind) return false;
        switch (pa.kind) {
          case 'none':
            break;
          case 'leaf':
            if (pb.kind !== 'leaf' || pa.writable !== pb.writable || !this.sameRef(pa.pfn, pb.pfn)) return false;
            break;
          case 'migration':
            if (pb.kind !== 'migration' || !this.sameRef(pa.pfn, pb.pfn)) return false;
            break;
          case 'table':
            if (pb.kind !== 'table' || !this.sameTable(tableEntries(a, pa.table), tableEntries(b, pb.table))) return false;
            break;
        }
      }
    }
    return true;
  }

  /** observe() records the non-none entries of a table by index: the same indices, the same strings. */
  private sameTable(ta: readonly Pte[], tb: readonly Pte[]): boolean {
    const n = Math.max(ta.length, tb.length);
    for (let k = 0; k < n; k++) {
      const ea = ta[k];
      const eb = tb[k];
      const ka = ea === undefined ? 'none' : ea.kind;
      const kb = eb === undefined ? 'none' : eb.kind;
      if (ka !== kb) return false;
      if (ea === undefined || eb === undefined) continue;
      switch (ea.kind) {
        case 'none':
          break;
        case 'present':
          if (eb.kind !== 'present' || ea.writable !== eb.writable || !this.sameRef(ea.pfn, eb.pfn)) return false;
          break;
        case 'migration':
          if (eb.kind !== 'migration' || !this.sameRef(ea.pfn, eb.pfn)) return false;
          break;
        case 'swap':
          if (eb.kind !== 'swap' || ea.exclusive !== eb.exclusive || !this.sameSwapSlot(ea.slot, eb.slot)) return false;
          break;
      }
    }
    return true;
  }

  /** observeSwapEntry(): the slot's logical id, its count and its swap-cache page. */
  private sameSwapSlot(slotA: number, slotB: number): boolean {
    const sa = this.a.swap?.slots[slotA];
    const sb = this.b.swap?.slots[slotB];
    if (sa === undefined || sb === undefined) return sa === sb && slotA === slotB;
    if (sa.id !== sb.id || sa.count !== sb.count) return false;
    if (sa.cached === null || sb.cached === null) return sa.cached === sb.cached;
    return this.sameRef(sa.cached, sb.cached);
  }

  /**
   * observe()'s `ref()`: 'zero', `free:<pfn>` or `<folio id>/<page>`, the same on both sides; a
   * folio met for the first time is compared then (both sides meet it at the same point of the walk).
   */
  private sameRef(pa: Pfn, pb: Pfn): boolean {
    const { a, b } = this;
    const zeroA = a.zeroPage?.pfn === pa;
    const zeroB = b.zeroPage?.pfn === pb;
    if (zeroA || zeroB) return zeroA && zeroB;
    const headA = a.frames[pa]?.head ?? pa;
    const headB = b.frames[pb]?.head ?? pb;
    const fa = a.frames[headA]?.folio ?? null;
    const fb = b.frames[headB]?.folio ?? null;
    if (fa === null || fb === null) return fa === fb && pa === pb;
    if (fa.id !== fb.id || pa - headA !== pb - headB) return false;
    if (this.seen.has(fa.id)) return true;
    this.seen.add(fa.id);
    return this.sameFolio(headA, headB);
  }

  /** observeFolio(): counts less what GUP-fast walks hold, MM_ID slots, and each page's mapcount and exclusive bit. */
  private sameFolio(headA: Pfn, headB: Pfn): boolean {
    const { a, b } = this;
    const fa = a.frames[headA]!.folio!;
    const fb = b.frames[headB]!.folio!;
    if (fa.order !== fb.order || fa.largeMapcount !== fb.largeMapcount || fa.entireMapcount !== fb.entireMapcount || fa.maybeMappedShared !== fb.maybeMappedShared) return false;
    this.heldA ??= walkerHeldRefs(a);
    this.heldB ??= walkerHeldRefs(b);
    const wa = this.heldA.get(headA);
    const wb = this.heldB.get(headB);
    if (fa.refcount - (wa?.refs ?? 0) !== fb.refcount - (wb?.refs ?? 0)) return false;
    if (fa.pincount - (wa?.pins ?? 0) !== fb.pincount - (wb?.pins ?? 0)) return false;
    if (fa.mmId.length !== fb.mmId.length) return false;
    for (let i = 0; i < fa.mmId.length; i++) {
      if ((fa.mmId[i] ?? null) !== (fb.mmId[i] ?? null) || !samePrinted(fa.mmIdMapcount[i], fb.mmIdMapcount[i])) return false;
    }
    for (let k = 0; k < folioNrPages(fa.order); k++) {
      const ra = a.frames[headA + k]!;
      const rb = b.frames[headB + k]!;
      if (ra.mapcount !== rb.mapcount || ra.anonExclusive !== rb.anonExclusive) return false;
    }
    return true;
  }

  private sameHandles(): boolean {
    const ha = this.a.handles;
    const hb = this.b.handles;
    // observe() keys handles by id: the same ids, each with the same pages. Ids are made in
    // creation order and kept in it, so the same set is the same list.
    if (ha.length !== hb.length) return false;
    const byId = new Map(hb.map((h) => [h.id, h]));
    for (const x of ha) {
      const y = byId.get(x.id);
      if (y === undefined || x.pages.length !== y.pages.length) return false;
      for (let i = 0; i < x.pages.length; i++) if (!this.sameRef(x.pages[i]!.pfn, y.pages[i]!.pfn)) return false;
    }
    return true;
  }

  /** Each file's cached pages by index (with the head's dirty flag) and its disk contents. */
  private sameFiles(): boolean {
    const fa = this.a.files;
    const fb = this.b.files;
    if (fa === undefined || fb === undefined) return fa === fb;
    if (fa.length !== fb.length) return false;
    for (let i = 0; i < fa.length; i++) {
      const x = fa[i]!;
      const y = fb[i]!;
      const n = Math.max(x.cache.length, y.cache.length);
      for (let index = 0; index < n; index++) {
        const pa = x.cache[index] ?? null;
        const pb = y.cache[index] ?? null;
        if (pa === null || pb === null) {
          if (pa !== pb) return false;
          continue;
        }
        if (!this.sameRef(pa, pb) || this.dirtyHead(this.a, pa) !== this.dirtyHead(this.b, pb)) return false;
      }
      if (x.store.length !== y.store.length) return false;
      for (let k = 0; k < x.store.length; k++) if (!samePrinted(x.store[k], y.store[k])) return false;
    }
    return true;
  }

  /** observe() marks the head page of a dirty folio in the page cache " dirty". */
  private dirtyHead(m: Machine, p: Pfn): boolean {
    const head = m.frames[p]?.head ?? p;
    return head === p && m.frames[head]?.folio?.dirty === true;
  }

  /** Free frames (after drain only) and the zero page's FOLL_GET references. */
  private sameScalars(quiescent: boolean): boolean {
    const { a, b } = this;
    if (quiescent && freeFrameCount(a) + holeCount(a) !== freeFrameCount(b) + holeCount(b)) return false;
    return a.zeroPage?.gupRefs === b.zeroPage?.gupRefs;
  }
}

/** observe() prints these values with String(): equal values print alike, and only then is a string made. */
function samePrinted(x: unknown, y: unknown): boolean {
  return x === y || String(x) === String(y);
}
