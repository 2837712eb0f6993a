import { holeCount } from '../../models/machine/physMem';
import { folioNrPages } from '../../models/machine/geometry';
import type { Pfn } from '../../models/machine/ids';
import { pfn as asPfn } from '../../models/machine/ids';
import type { Machine } from '../../models/machine/state';
import { freeFrameCount } from '../../models/machine/frames';
import { tableEntries } from '../../models/machine/pgtable';
import { walkerHeldRefs } from './walkerRefs';

/** A translation as the differential check sees it: which page of which logical folio, and whether it is writable. */
export type ObservedEntry = string;

export interface ObservedFolio {
  readonly order: number;
  readonly refcount: number;
  readonly pincount: number;
  readonly largeMapcount: number;
  readonly entireMapcount: number;
  /** 6.15's MM_ID slots as "mm:count mm:count" ("-:0" free), plus " shared" (maybe mapped shared); constant for 6.12 kernels. */
  readonly mmIds: string;
  /** Per page: "mapcount" plus "x" when PageAnonExclusive. */
  readonly pages: readonly string[];
}

export interface Observation {
  /** Per mm id: alive, and its PMD slots ("-" none, "table" with its non-none PTEs, or a leaf). */
  readonly mms: ReadonlyArray<{ readonly alive: boolean; readonly pmds: ReadonlyArray<string | Readonly<Record<number, ObservedEntry>>> }>;
  /** Every folio reachable from a page table or a GUP handle, by logical id. */
  readonly folios: Readonly<Record<string, ObservedFolio>>;
  /** Per live handle: its pages as "folio/page". */
  readonly handles: Readonly<Record<number, readonly string[]>>;
  /**
   * Frames not in use — free, or holes made by `memHole` — only once the machine is quiescent
   * (after drain). Holes count with the free frames because a hole op takes the frames free at
   * that moment: a frame that one kernel still holds (a MIGRC source kept for a deferred flush)
   * and the other has freed becomes a hole on one side only, and is free on the other side later.
   * Without holes this is the free-frame count.
   */
  readonly freeFrames: number | null;
  /**
   * The references FOLL_GET holds on the shared zero page; present only on a machine with one
   * (createMachine's `zeroPage` option). Its PTEs and handle entries read `zero`.
   */
  readonly zeroPageGupRefs?: number;
  /**
   * Per file (once the machine has files, issue 14): the page cache, per cached index its page
   * ("folio/page", with " dirty" on the head of a dirty folio), and what the disk holds.
   */
  readonly files?: ReadonlyArray<{ readonly cache: Readonly<Record<number, string>>; readonly store: string }>;
}

/**
 * The refinement mapping of the differential oracle (docs/design.md, "Oracles"): what a batched kernel must
 * agree with the reference on after every op.
 *
 * It deliberately forgets: TLB contents (a batched kernel flushes later, on purpose), gather and
 * RCU state (in flight only), cost counters (the point of batching is to change them), dirty and
 * young bits of PTEs (batched paths merge them differently; a file folio's own dirty bit, which
 * decides what writeback writes, is compared with its page cache), the
 * deferred-split flag (batching legitimately queues fewer folios; the ledger checks the rule
 * itself), and PFNs: folios are named by the op that allocated them, because deferred frees
 * change which frames get reused. Free frames are compared only after drain.
 */
export function observe(m: Machine, quiescent: boolean): Observation {
  const folios: Record<string, ObservedFolio> = {};
  const inFlight = walkerHeldRefs(m);
  const ref = (p: Pfn): string => {
    // The shared zero page has no folio and no logical id: it is the same page in every kernel.
    if (m.zeroPage?.pfn === p) return 'zero';
    const head = m.frames[p]?.head ?? p;
    const f = m.frames[head]?.folio;
    if (f === undefined || f === null) return `free:${p}`;
    if (folios[f.id] === undefined) folios[f.id] = observeFolio(m, head, inFlight.get(head) ?? { refs: 0, pins: 0 });
    return `${f.id}/${p - head}`;
  };
  const mms = m.mms.map((mm) => ({
    alive: mm.alive,
    pmds: mm.pmds.map((pmd): string | Record<number, ObservedEntry> => {
      switch (pmd.kind) {
        case 'none':
          return '-';
        case 'leaf':
          return `leaf ${ref(pmd.pfn)}${pmd.writable ? ' w' : ''}`;
        case 'migration':
          return `migration ${ref(pmd.pfn)}`;
        case 'table': {
          const out: Record<number, ObservedEntry> = {};
          tableEntries(m, pmd.table).forEach((e, k) => {
            if (e.kind === 'present') out[k] = `${ref(e.pfn)}${e.writable ? ' w' : ''}`;
            else if (e.kind === 'migration') out[k] = `migration ${ref(e.pfn)}`;
            else if (e.kind === 'swap') out[k] = observeSwapEntry(m, e.slot, e.exclusive, ref);
          });
          return out;
        }
      }
    }),
  }));
  const handles: Record<number, string[]> = {};
  for (const h of m.handles) handles[h.id] = h.pages.map((p) => ref(p.pfn));
  const files = m.files?.map((file) => {
    const cache: Record<number, string> = {};
    file.cache.forEach((p, index) => {
      if (p === null) return;
      const head = m.frames[p]?.head ?? p;
      cache[index] = `${ref(p)}${head === p && m.frames[head]?.folio?.dirty === true ? ' dirty' : ''}`;
    });
    return { cache, store: file.store.join(' ') };
  });
  return {
    mms,
    folios,
    handles,
    freeFrames: quiescent ? freeFrameCount(m) + holeCount(m) : null,
    ...(m.zeroPage !== undefined ? { zeroPageGupRefs: m.zeroPage.gupRefs } : {}),
    ...(files !== undefined ? { files } : {}),
  };
}

function observeFolio(m: Machine, head: Pfn, walking: { refs: number; pins: number }): ObservedFolio {
  const f = m.frames[head]!.folio!;
  const pages: string[] = [];
  for (let k = 0; k < folioNrPages(f.order); k++) {
    const fr = m.frames[asPfn(head + k)]!;
    pages.push(`${fr.mapcount}${fr.anonExclusive ? 'x' : ''}`);
  }
  return {
    order: f.order,
    refcount: f.refcount - walking.refs,
    pincount: f.pincount - walking.pins,
    largeMapcount: f.largeMapcount,
    entireMapcount: f.entireMapcount,
    mmIds: `${f.mmId.map((id, i) => `${id ?? '-'}:${f.mmIdMapcount[i]}`).join(' ')}${f.maybeMappedShared ? ' shared' : ''}`,
    pages,
  };
}

/** The first path at which two JSON-like values differ, with both sides; null when equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): { path: string; a: unknown; b: unknown } | null {
  if (a === b) return null;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return { path: path || '.', a, b };
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d !== null) return d;
  }
  return null;
}

/**
 * A swap PTE as the differential check sees it: the page it was unmapped from (the slot's logical
 * id, not its offset, which may differ between kernels that free slots at different times), its
 * exclusive bit, the slot's count, and the page in the swap cache for it, if any.
 */
function observeSwapEntry(m: Machine, slot: number, exclusive: boolean, ref: (p: Pfn) => string): string {
  const s = m.swap?.slots[slot];
  if (s === undefined) return `swap ?${slot}`;
  return `swap ${s.id}${exclusive ? ' x' : ''} count ${s.count}${s.cached !== null ? ` cache ${ref(s.cached)}` : ''}`;
}
